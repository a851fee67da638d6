#include "writeback/batch_encoder.h"

#include <cstring>

#include "codec/snappy_block.h"
#include "common/protowire.h"

namespace promewma::writeback {

namespace pw = protowire;

namespace {

constexpr char kWriteRequestTimeseries = pw::MakeTag(1, pw::kLengthDelimited);
constexpr char kTimeSeriesSamples = pw::MakeTag(2, pw::kLengthDelimited);
constexpr char kSampleValue = pw::MakeTag(1, pw::kFixed64);
constexpr char kSampleTimestamp = pw::MakeTag(2, pw::kVarint);

// Bytes of one encoded Sample message (without its tag and length).
size_t SampleSize(int64_t timestamp_ms) {
  return 1 + 8 + 1 + pw::VarintSize(static_cast<uint64_t>(timestamp_ms));
}

void AppendSample(std::string* out, const OutgoingSample& s) {
  const size_t size = SampleSize(s.timestamp_ms);
  out->push_back(kTimeSeriesSamples);
  pw::AppendVarint(out, size);
  out->push_back(kSampleValue);
  char bits[8];
  std::memcpy(bits, &s.value, 8);  // little-endian on every target we build
  out->append(bits, 8);
  out->push_back(kSampleTimestamp);
  // int64 fields are varints of the two's complement: negative timestamps
  // (before 1970) take 10 bytes, as libprotobuf writes them.
  pw::AppendVarint(out, static_cast<uint64_t>(s.timestamp_ms));
}

}  // namespace

std::string EncodeWriteRequest(const std::vector<OutgoingSample>& samples) {
  // Two passes over each run of one series: sizes first, because a
  // length-delimited field needs its length before its bytes, and computing
  // it is cheaper than encoding into a scratch buffer and copying.
  size_t total = 0;
  for (size_t i = 0; i < samples.size();) {
    size_t j = i;
    size_t series_size = samples[i].labels.size();
    for (; j < samples.size() && samples[j].labels == samples[i].labels; ++j) {
      const size_t s = SampleSize(samples[j].timestamp_ms);
      series_size += 1 + pw::VarintSize(s) + s;
    }
    total += 1 + pw::VarintSize(series_size) + series_size;
    i = j;
  }

  std::string out;
  out.reserve(total);
  for (size_t i = 0; i < samples.size();) {
    size_t j = i;
    size_t series_size = samples[i].labels.size();
    for (; j < samples.size() && samples[j].labels == samples[i].labels; ++j) {
      const size_t s = SampleSize(samples[j].timestamp_ms);
      series_size += 1 + pw::VarintSize(s) + s;
    }
    out.push_back(kWriteRequestTimeseries);
    pw::AppendVarint(&out, series_size);
    out.append(samples[i].labels);
    for (size_t k = i; k < j; ++k) AppendSample(&out, samples[k]);
    i = j;
  }
  return out;
}

std::string EncodeSnappyWriteRequest(
    const std::vector<OutgoingSample>& samples) {
  return codec::CompressSnappyBlock(EncodeWriteRequest(samples));
}

}  // namespace promewma::writeback
