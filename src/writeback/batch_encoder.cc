#include "writeback/batch_encoder.h"

#include <cstring>

#include "codec/snappy_block.h"
#include "common/protowire.h"
#include "model/labels.h"

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

// Queued samples usually view one copy of a label set and a static suffix,
// so equal pointers settle most comparisons without reading the bytes.
bool SameView(std::string_view a, std::string_view b) {
  return (a.data() == b.data() && a.size() == b.size()) || a == b;
}

bool SameSeries(const OutgoingSample& a, const OutgoingSample& b) {
  return SameView(a.labels, b.labels) && SameView(a.name_suffix, b.name_suffix);
}

}  // namespace

std::string EncodeWriteRequest(const std::vector<OutgoingSample>& samples) {
  // A run is consecutive samples of one series: one TimeSeries. Renamed
  // label sets are encoded once per run into one scratch buffer (reused
  // across calls, so no allocation per series), then sizes are summed,
  // because a length-delimited field needs its length before its bytes.
  struct Run {
    size_t begin, end;
    size_t renamed_at, renamed_size;  // in scratch; renamed_size 0: as is
    size_t series_size;
  };
  thread_local std::vector<Run> runs;
  thread_local std::string scratch;
  thread_local std::string name;
  runs.clear();
  scratch.clear();
  size_t total = 0;
  for (size_t i = 0; i < samples.size();) {
    const OutgoingSample& first = samples[i];
    size_t j = i + 1;
    while (j < samples.size() && SameSeries(samples[j], first)) ++j;
    Run run{i, j, 0, 0, first.labels.size()};
    if (!first.name_suffix.empty()) {
      const model::LabelSetView view(first.labels);
      name.assign(view.MetricName());
      name += first.name_suffix;
      run.renamed_at = scratch.size();
      model::EncodeWithMetricName(view, name, &scratch);
      run.renamed_size = scratch.size() - run.renamed_at;
      run.series_size = run.renamed_size;
    }
    for (size_t k = i; k < j; ++k) {
      const size_t s = SampleSize(samples[k].timestamp_ms);
      run.series_size += 1 + pw::VarintSize(s) + s;
    }
    total += 1 + pw::VarintSize(run.series_size) + run.series_size;
    runs.push_back(run);
    i = j;
  }

  std::string out;
  out.reserve(total);
  for (const Run& run : runs) {
    out.push_back(kWriteRequestTimeseries);
    pw::AppendVarint(&out, run.series_size);
    if (run.renamed_size > 0) {
      out.append(scratch, run.renamed_at, run.renamed_size);
    } else {
      out.append(samples[run.begin].labels);
    }
    for (size_t k = run.begin; k < run.end; ++k) {
      AppendSample(&out, samples[k]);
    }
  }
  return out;
}

std::string EncodeSnappyWriteRequest(
    const std::vector<OutgoingSample>& samples) {
  return codec::CompressSnappyBlock(EncodeWriteRequest(samples));
}

}  // namespace promewma::writeback
