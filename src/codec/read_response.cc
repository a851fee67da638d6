#include "codec/read_response.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "codec/crc32c.h"
#include "common/coding.h"
#include "common/protowire.h"

namespace promewma::codec {
namespace {

using protowire::kFixed64;
using protowire::kLengthDelimited;
using protowire::kVarint;
using protowire::MakeTag;

// ReadResponse.results, QueryResult.timeseries,
// ChunkedReadResponse.chunked_series
constexpr uint8_t kField1Message = MakeTag(1, kLengthDelimited);
// TimeSeries.samples, ChunkedSeries.chunks
constexpr uint8_t kField2Message = MakeTag(2, kLengthDelimited);
constexpr uint8_t kSampleValueTag = MakeTag(1, kFixed64);
constexpr uint8_t kSampleTimestampTag = MakeTag(2, kVarint);
constexpr uint8_t kQueryIndexTag = MakeTag(2, kVarint);
constexpr uint8_t kChunkMinTimeTag = MakeTag(1, kVarint);
constexpr uint8_t kChunkMaxTimeTag = MakeTag(2, kVarint);
constexpr uint8_t kChunkTypeTag = MakeTag(3, kVarint);
constexpr uint8_t kChunkDataTag = MakeTag(4, kLengthDelimited);
constexpr uint8_t kChunkEncodingXor = 1;  // prometheus.Chunk.Encoding.XOR

// Raw-pointer writers: the callers size the buffer exactly first, so there
// is no per-byte capacity check.
inline char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline char* PutByte(char* p, uint8_t b) {
  *p = static_cast<char>(b);
  return p + 1;
}

inline char* PutBytes(char* p, std::string_view bytes) {
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

// A protobuf fixed64 (a double's bits, little-endian on the wire).
inline char* PutFixed64(char* p, double value) {
  EncodeFixed(p, value);
  return p + 8;
}

// Branch-free varint length (protobuf's formula): 1 + (bits - 1) / 7 for
// the bits the value uses. Sizes are computed for every sample twice, and
// the loop in protowire::VarintSize showed up as the encoder's hot spot.
inline size_t VarintSize(uint64_t v) {
  const int bits = 64 - __builtin_clzll(v | 1);
  return static_cast<size_t>((bits * 9 + 64) / 64);
}

inline size_t TimestampSize(int64_t t) {
  return VarintSize(static_cast<uint64_t>(t));
}

// Size of a Sample message: value (1 + 8) and timestamp (1 + varint).
inline size_t SampleSize(const ReadSample& s) {
  return 1 + 8 + 1 + TimestampSize(s.timestamp_ms);
}

// Size of a Chunk message.
inline size_t ChunkSize(const ChunkRef& c) {
  return 1 + TimestampSize(c.min_time_ms) + 1 + TimestampSize(c.max_time_ms) +
         2 + 1 + VarintSize(c.xor_bytes.size()) + c.xor_bytes.size();
}

// Size of the ChunkedSeries message for labels + chunks[0, count).
size_t ChunkedSeriesSize(std::string_view labels, const ChunkRef* chunks,
                         size_t count) {
  size_t size = labels.size();
  for (size_t i = 0; i < count; ++i) {
    const size_t chunk = ChunkSize(chunks[i]);
    size += 1 + VarintSize(chunk) + chunk;
  }
  return size;
}

void AppendFrame(std::string* out, int64_t query_index, std::string_view labels,
                 const ChunkRef* chunks, size_t count) {
  const size_t series_size = ChunkedSeriesSize(labels, chunks, count);
  const size_t message_size = 1 + VarintSize(series_size) + series_size + 1 +
                              TimestampSize(query_index);
  const size_t frame_size = VarintSize(message_size) + 4 + message_size;

  const size_t start = out->size();
  out->resize(start + frame_size);
  char* p = out->data() + start;
  p = PutVarint(p, message_size);
  char* const crc_at = p;
  p += 4;
  char* const message = p;

  p = PutByte(p, kField1Message);
  p = PutVarint(p, series_size);
  p = PutBytes(p, labels);
  for (size_t i = 0; i < count; ++i) {
    const ChunkRef& c = chunks[i];
    p = PutByte(p, kField2Message);
    p = PutVarint(p, ChunkSize(c));
    p = PutByte(p, kChunkMinTimeTag);
    p = PutVarint(p, static_cast<uint64_t>(c.min_time_ms));
    p = PutByte(p, kChunkMaxTimeTag);
    p = PutVarint(p, static_cast<uint64_t>(c.max_time_ms));
    p = PutByte(p, kChunkTypeTag);
    p = PutByte(p, kChunkEncodingXor);
    p = PutByte(p, kChunkDataTag);
    p = PutVarint(p, c.xor_bytes.size());
    p = PutBytes(p, c.xor_bytes);
  }
  p = PutByte(p, kQueryIndexTag);
  p = PutVarint(p, static_cast<uint64_t>(query_index));
  assert(p == out->data() + out->size());

  // The frame checksum is big-endian (see chunked_frame.h).
  const uint32_t crc = Crc32c(std::string_view(message, message_size));
  crc_at[0] = static_cast<char>(crc >> 24);
  crc_at[1] = static_cast<char>(crc >> 16);
  crc_at[2] = static_cast<char>(crc >> 8);
  crc_at[3] = static_cast<char>(crc);
}

}  // namespace

namespace {

// The TimeSeries message's size (labels and samples), without its entry's
// tag and length. A Sample is at most 20 bytes, so its own length prefix
// is always one byte.
size_t SeriesSize(std::string_view canonical_labels, const ReadSample* samples,
                  size_t count) {
  size_t series_size = canonical_labels.size();
  for (size_t i = 0; i < count; ++i) series_size += 2 + SampleSize(samples[i]);
  return series_size;
}

// Writes the entry (tag, length, TimeSeries) at p, which has room for it.
void WriteEntry(char* p, size_t series_size, std::string_view canonical_labels,
                const ReadSample* samples, size_t count) {
  char* const end = p + 1 + VarintSize(series_size) + series_size;
  p = PutByte(p, kField1Message);
  p = PutVarint(p, series_size);
  p = PutBytes(p, canonical_labels);
  for (size_t i = 0; i < count; ++i) {
    const ReadSample& s = samples[i];
    p = PutByte(p, kField2Message);
    p = PutByte(p, static_cast<uint8_t>(SampleSize(s)));
    p = PutByte(p, kSampleValueTag);
    p = PutFixed64(p, s.value);
    p = PutByte(p, kSampleTimestampTag);
    p = PutVarint(p, static_cast<uint64_t>(s.timestamp_ms));
  }
  assert(p == end);
  (void)end;
}

}  // namespace

size_t SampleEntrySize(int64_t timestamp_ms) {
  return 2 + SampleSize(ReadSample{timestamp_ms, 0});
}

size_t TimeSeriesEntrySize(std::string_view canonical_labels,
                           size_t samples_bytes) {
  const size_t series_size = canonical_labels.size() + samples_bytes;
  return 1 + VarintSize(series_size) + series_size;
}

void AppendTimeSeriesEntry(std::string* out, std::string_view canonical_labels,
                           const ReadSample* samples, size_t count) {
  const size_t series_size = SeriesSize(canonical_labels, samples, count);
  const size_t start = out->size();
  out->resize(start + 1 + VarintSize(series_size) + series_size);
  WriteEntry(out->data() + start, series_size, canonical_labels, samples,
             count);
}

void AppendQueryResultHeader(std::string* out, size_t content_size) {
  out->push_back(static_cast<char>(kField1Message));
  protowire::AppendVarint(out, content_size);
}


void AppendChunkedSeriesFrame(std::string* out, int64_t query_index,
                              std::string_view canonical_labels,
                              const std::vector<ChunkRef>& chunks) {
  AppendFrame(out, query_index, canonical_labels, chunks.data(), chunks.size());
}

void AppendChunkedSeries(std::string* out, int64_t query_index,
                         std::string_view canonical_labels,
                         const std::vector<ChunkRef>& chunks,
                         size_t max_frame_bytes) {
  // Prometheus' StreamChunkedReadResponses: the budget is the frame size
  // minus the label bytes, each chunk's message size is taken off it, and
  // the frame is cut once the budget is used up (never before the first
  // chunk, so an oversized chunk still goes out, alone).
  const int64_t budget = static_cast<int64_t>(max_frame_bytes) -
                         static_cast<int64_t>(canonical_labels.size());
  size_t first = 0;
  int64_t left = budget;
  for (size_t i = 0; i < chunks.size(); ++i) {
    left -= static_cast<int64_t>(ChunkSize(chunks[i]));
    if (left > 0 && i + 1 < chunks.size()) continue;
    AppendFrame(out, query_index, canonical_labels, chunks.data() + first,
                i + 1 - first);
    first = i + 1;
    left = budget;
  }
}

}  // namespace promewma::codec
