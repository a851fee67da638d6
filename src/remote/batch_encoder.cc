#include "remote/batch_encoder.h"

#include <cstring>

#include "codec/snappy_block.h"
#include "common/protowire.h"
#include "model/labels.h"

namespace promewma::remote {

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

char* WriteSample(char* out, const OutgoingSample& s) {
  *out++ = kTimeSeriesSamples;
  out = pw::WriteVarint(out, SampleSize(s.timestamp_ms));
  *out++ = kSampleValue;
  std::memcpy(out, &s.value, 8);  // little-endian on every target we build
  out += 8;
  *out++ = kSampleTimestamp;
  // int64 fields are varints of the two's complement: negative timestamps
  // (before 1970) take 10 bytes, as libprotobuf writes them.
  return pw::WriteVarint(out, static_cast<uint64_t>(s.timestamp_ms));
}

// Queued samples usually view one copy of a label set and a static suffix,
// so equal pointers settle most comparisons without reading the bytes.
bool SameView(std::string_view a, std::string_view b) {
  return (a.data() == b.data() && a.size() == b.size()) || a == b;
}

bool SameSeries(const OutgoingSample& a, const OutgoingSample& b) {
  return SameView(a.labels, b.labels) && SameView(a.name_suffix, b.name_suffix);
}

}  // namespace

void EncodeWriteRequest(const std::vector<OutgoingSample>& samples,
                        std::string* out) {
  // A run is consecutive samples of one series: one TimeSeries. A length-
  // delimited field needs its length before its bytes, so the first pass
  // sizes every run (a renamed label set's size follows from where its
  // __name__ entry is) and the second writes into a buffer of the exact
  // size, splicing the new name in without re-encoding the other labels.
  struct Run {
    size_t begin, end;
    model::MetricNameEntry name_entry;  // used when renaming
    size_t labels_size;
    size_t series_size;
  };
  thread_local std::vector<Run> runs;  // reused: no allocation per call
  runs.clear();
  size_t total = 0;
  for (size_t i = 0; i < samples.size();) {
    const OutgoingSample& first = samples[i];
    size_t j = i + 1;
    while (j < samples.size() && SameSeries(samples[j], first)) ++j;
    Run run{i, j, {}, first.labels.size(), 0};
    if (!first.name_suffix.empty()) {
      run.name_entry = model::FindMetricNameEntry(first.labels);
      run.labels_size = model::SizeWithNameSuffix(
          first.labels, run.name_entry, first.name_suffix);
    }
    run.series_size = run.labels_size;
    for (size_t k = i; k < j; ++k) {
      const size_t s = SampleSize(samples[k].timestamp_ms);
      run.series_size += 1 + pw::VarintSize(s) + s;
    }
    total += 1 + pw::VarintSize(run.series_size) + run.series_size;
    runs.push_back(run);
    i = j;
  }

  // resize() zero-fills what it adds; a reused buffer rarely grows.
  out->resize(total);
  char* p = out->data();
  for (const Run& run : runs) {
    const OutgoingSample& first = samples[run.begin];
    *p++ = kWriteRequestTimeseries;
    p = pw::WriteVarint(p, run.series_size);
    if (first.name_suffix.empty()) {
      std::memcpy(p, first.labels.data(), first.labels.size());
      p += first.labels.size();
    } else {
      p = model::WriteWithNameSuffix(first.labels, run.name_entry,
                                     first.name_suffix, p);
    }
    for (size_t k = run.begin; k < run.end; ++k) {
      p = WriteSample(p, samples[k]);
    }
  }
}

std::string_view BatchEncoder::EncodeSnappy(
    const std::vector<OutgoingSample>& samples) {
  EncodeWriteRequest(samples, &raw_);
  const size_t max = codec::MaxSnappyBlockSize(raw_.size());
  if (max > compressed_capacity_) {
    // Half again what is needed, so a slowly growing batch size does not
    // reallocate every time.
    compressed_capacity_ = max + max / 2;
    compressed_ = std::make_unique<char[]>(compressed_capacity_);
  }
  return std::string_view(
      compressed_.get(),
      codec::CompressSnappyBlockInto(raw_, compressed_.get()));
}

}  // namespace promewma::remote
