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
// Thread-safety: pure functions; threads may write different strings at
// once.

#ifndef PROMEWMA_CODEC_READ_RESPONSE_H_
#define PROMEWMA_CODEC_READ_RESPONSE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codec/chunked_frame.h"

namespace promewma::codec {

struct ReadSample {
  int64_t timestamp_ms;
  double value;
};

// A SAMPLES response is written entry by entry into plain strings: a
// response streamed in bounded pieces (src/http/read_handler.cc) sizes
// every entry first, since each QueryResult's length precedes it.
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
