// Encoders for the two remote-read response types, written straight to
// protobuf bytes.
//
// Why hand-written: remote read is a bulk path (1,000 series x 360 samples
// is a routine Grafana panel). Building libprotobuf messages would allocate
// a Sample object per sample and a pair of strings per label; these
// encoders compute every length up front and write each byte once, and the
// label bytes are copied as they are, because the canonical label encoding
// (src/model/labels.h) already is the wire form of `repeated Label labels`.
// tests/codec/read_response_test.cc parses every output back with
// libprotobuf.
//
// SAMPLES: one snappy-compressed (by the caller) prometheus.ReadResponse
// --------------------------------------------------------------------
//   ReadResponse  := ( 0x0a len QueryResult )*      results = 1, one per
//                                                   query, in query order
//   QueryResult   := ( 0x0a len TimeSeries )*       timeseries = 1
//   TimeSeries    := labels ( 0x12 len Sample )*    labels = 1 (canonical
//                                                   encoding), samples = 2
//   Sample        := 0x09 fixed64(value)            value = 1, IEEE-754 bits
//                    0x10 varint(timestamp)         timestamp = 2, int64
//
// Every length is a minimal varint. Both Sample fields are always written,
// also when zero: parsers accept explicit defaults, sizes stay branch-free,
// and -0.0 keeps its sign (libprotobuf and gogo drop a zero value,
// sign included). NaN payloads such as the stale marker 0x7ff0000000000002
// are copied bit for bit. An int64 timestamp is a 64-bit two's-complement
// varint, so a negative one takes 10 bytes. A query with no series still
// gets its (empty) QueryResult: Prometheus' client refuses a response whose
// result count differs from its query count.
//
// STREAMED_XOR_CHUNKS: chunked frames (src/codec/chunked_frame.h), each
// holding one prometheus.ChunkedReadResponse with one series
// --------------------------------------------------------------------
//   ChunkedReadResponse := 0x0a len ChunkedSeries   chunked_series = 1
//                          0x10 varint(query_index) query_index = 2
//   ChunkedSeries       := labels ( 0x12 len Chunk )*   labels = 1, chunks = 2
//   Chunk               := 0x08 varint(min_time_ms)     min_time_ms = 1
//                          0x10 varint(max_time_ms)     max_time_ms = 2
//                          0x18 0x01                    type = 3, XOR
//                          0x22 len xor_bytes           data = 4
//
// Again every field is written even at its default. Prometheus sends at
// most one series per frame and splits a long series over several frames
// (consecutive, same labels), cutting a frame once it holds
// --storage.remote.read-max-bytes-in-frame bytes, so a frame overshoots by
// at most one chunk; AppendChunkedSeries does the same. Within a query the
// series must come sorted by labels (Prometheus' handler selects them
// sorted and streaming clients rely on it), and Prometheus never streams a
// series without chunks.
//
// Thread-safety: the free functions are pure; a TimeSeriesEncoder or
// ReadResponseParts is used by one thread at a time (different encoders on
// different threads at once is the point).

#ifndef PROMEWMA_CODEC_READ_RESPONSE_H_
#define PROMEWMA_CODEC_READ_RESPONSE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codec/chunked_frame.h"

namespace promewma::codec {

struct ReadSample {
  int64_t timestamp_ms;
  double value;
};

// Encodes TimeSeries messages (entries of QueryResult.timeseries) for one
// query's result, or for a run of its series: the series of one query can
// be split between threads, each with its own encoder, and the parts joined
// by ReadResponseParts.
//
// The bytes are kept in blocks that never move once written: they are not
// zero-filled first, not copied while a buffer doubles, and not
// concatenated at the end (the compressor reads the blocks as they are).
class TimeSeriesEncoder {
 public:
  TimeSeriesEncoder() = default;
  TimeSeriesEncoder(TimeSeriesEncoder&&) = default;
  TimeSeriesEncoder& operator=(TimeSeriesEncoder&&) = default;

  // Appends one TimeSeries. `canonical_labels` is a label set in the
  // canonical encoding of model/labels.h; it is copied verbatim.
  void AddSeries(std::string_view canonical_labels, const ReadSample* samples,
                 size_t count);
  void AddSeries(std::string_view canonical_labels,
                 const std::vector<ReadSample>& samples) {
    AddSeries(canonical_labels, samples.data(), samples.size());
  }

  // Bytes encoded so far.
  size_t size() const { return size_; }

  // Appends views of the encoded bytes, in order, to *pieces. They stay
  // valid until the encoder is changed or destroyed.
  void AppendPieces(std::vector<std::string_view>* pieces) const;

 private:
  struct Block {
    std::unique_ptr<char[]> data;  // uninitialized past `used`
    size_t capacity;
    size_t used;
  };
  // Returns room for `bytes` more at the end of the last block, starting a
  // new block when they do not fit.
  char* Extend(size_t bytes);

  std::vector<Block> blocks_;
  size_t size_ = 0;
};

// The same TimeSeries entry AddSeries writes, one at a time into a plain
// string: a response streamed in bounded pieces (src/http/read_handler.cc)
// sizes every entry first, since each QueryResult's length precedes it.
//
// The bytes one sample takes in an entry, its tag and length included. The
// value is always written (8 bytes, zero too), so the size depends on the
// timestamp alone, and the samples of a chunk whose first and last
// timestamps take the same bytes can be sized without decoding it.
size_t SampleEntrySize(int64_t timestamp_ms);
// The entry for a series whose samples take `samples_bytes` (the sum of
// their SampleEntrySize).
size_t TimeSeriesEntrySize(std::string_view canonical_labels,
                           size_t samples_bytes);
void AppendTimeSeriesEntry(std::string* out, std::string_view canonical_labels,
                           const ReadSample* samples, size_t count);
// A QueryResult's tag and length, for `content_size` bytes of entries.
void AppendQueryResultHeader(std::string* out, size_t content_size);

// A serialized ReadResponse as a sequence of pieces: each query's
// QueryResult header (field tag and length, known once its parts are
// encoded) followed by the bytes of its parts. Compress it with
// CompressSnappyBlockPieces (codec/snappy_block.h):
//
//   ReadResponseParts response;
//   for (each query) {
//     TimeSeriesEncoder first, second;   // e.g. filled on two threads
//     ...AddSeries...
//     response.AddQuery({&first, &second});
//   }
//   std::string body = CompressSnappyBlockPieces(response.pieces());
//
// Every query needs its AddQuery, an empty one too.
class ReadResponseParts {
 public:
  ReadResponseParts() = default;
  ReadResponseParts(const ReadResponseParts&) = delete;
  ReadResponseParts& operator=(const ReadResponseParts&) = delete;

  // Adds the QueryResult of the next query: the series in `parts`, in order.
  // REQUIRES: the parts outlive this object and are not changed meanwhile.
  void AddQuery(const std::vector<const TimeSeriesEncoder*>& parts);

  // The ReadResponse, in order; valid while this object and the parts live.
  const std::vector<std::string_view>& pieces() const { return pieces_; }

  // The ReadResponse in one string (tests, small responses).
  std::string Concatenated() const;

 private:
  std::deque<std::string> headers_;  // a deque: views into it stay valid
  std::vector<std::string_view> pieces_;
};

// One XOR chunk to stream; the bytes are borrowed, not owned.
struct ChunkRef {
  int64_t min_time_ms;         // inclusive
  int64_t max_time_ms;         // inclusive
  std::string_view xor_bytes;  // a Prometheus XOR chunk (tsdb/chunkenc)
};

// Appends to *out one chunked frame holding a ChunkedReadResponse with one
// ChunkedSeries (these labels, all of `chunks`) for query `query_index`.
void AppendChunkedSeriesFrame(std::string* out, int64_t query_index,
                              std::string_view canonical_labels,
                              const std::vector<ChunkRef>& chunks);

// Appends a series as as many frames as it takes to keep each near
// `max_frame_bytes`, the way Prometheus cuts them: chunks go into a frame
// until the labels plus chunks reach the limit (so the last chunk may pass
// it), then a new frame starts. No chunks: no frame.
void AppendChunkedSeries(std::string* out, int64_t query_index,
                         std::string_view canonical_labels,
                         const std::vector<ChunkRef>& chunks,
                         size_t max_frame_bytes = kTargetFrameBytes);

}  // namespace promewma::codec

#endif  // PROMEWMA_CODEC_READ_RESPONSE_H_
