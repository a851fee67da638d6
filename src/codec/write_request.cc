#include "codec/write_request.h"

#include <limits>

#include "common/protowire.h"

namespace promewma::codec {
namespace {

using protowire::kFixed64;
using protowire::kLengthDelimited;
using protowire::kVarint;
using protowire::MakeTag;
using protowire::ReadVarint;

constexpr uint32_t kInBody = std::numeric_limits<uint32_t>::max();
// WriteRequest
constexpr uint32_t kTimeSeriesTag = MakeTag(1, kLengthDelimited);
constexpr uint32_t kMetadataTag = MakeTag(3, kLengthDelimited);
// TimeSeries
constexpr uint32_t kLabelTag = MakeTag(1, kLengthDelimited);
constexpr uint32_t kSampleTag = MakeTag(2, kLengthDelimited);
constexpr uint32_t kExemplarTag = MakeTag(3, kLengthDelimited);
constexpr uint32_t kHistogramTag = MakeTag(4, kLengthDelimited);
// Label
constexpr uint32_t kLabelNameTag = MakeTag(1, kLengthDelimited);
constexpr uint32_t kLabelValueTag = MakeTag(2, kLengthDelimited);
// Sample
constexpr uint32_t kSampleValueTag = MakeTag(1, kFixed64);
constexpr uint32_t kSampleTimestampTag = MakeTag(2, kVarint);

using Reader = protowire::MessageReader;

Status Fail(const Reader& r, const char* what) {
  return Status::InvalidArgument("malformed protobuf at byte " +
                                 std::to_string(r.offset()) + ": " + what);
}

// Decodes one Label message. Sets *canonical to false when its bytes are not
// exactly `0x0a len name 0x12 len value` with minimal lengths and a non-empty
// value (see model/labels.h).
bool DecodeLabel(Reader r, model::Label* label, bool* canonical) {
  const char* start = r.pos();
  bool has_name = false, has_value = false;
  label->name = {};
  label->value = {};
  while (!r.done()) {
    uint32_t tag;
    if (!r.ReadTag(&tag)) return false;
    const char* a;
    const char* b;
    if (tag == kLabelNameTag) {
      if (!r.ReadLengthDelimited(&a, &b)) return false;
      label->name = std::string_view(a, b - a);
      // A repeated field is legal protobuf (last one wins) but not canonical.
      if (has_name || has_value) *canonical = false;
      has_name = true;
    } else if (tag == kLabelValueTag) {
      if (!r.ReadLengthDelimited(&a, &b)) return false;
      label->value = std::string_view(a, b - a);
      if (has_value || !has_name) *canonical = false;
      has_value = true;
    } else {
      if (!r.SkipField(tag)) return false;
      *canonical = false;
    }
  }
  size_t n = label->name.size(), v = label->value.size();
  size_t canonical_size =
      1 + protowire::VarintSize(n) + n + 1 + protowire::VarintSize(v) + v;
  if (!has_value || v == 0 ||
      static_cast<size_t>(r.pos() - start) != canonical_size) {
    *canonical = false;
  }
  return true;
}

// Fast path for the common case: a label in canonical form with names and
// values under 128 bytes, i.e. `0x0a n name 0x12 v value` with one-byte
// lengths. Returns false (without judging) for anything else.
inline bool DecodeCanonicalLabel(const char* a, const char* b,
                                 model::Label* label) {
  const auto* p = reinterpret_cast<const uint8_t*>(a);
  const size_t size = b - a;
  if (size < 4 || p[0] != 0x0a || p[1] >= 0x80) return false;
  const size_t n = p[1];
  if (size < 4 + n || p[2 + n] != 0x12) return false;
  const size_t v = p[3 + n];
  if (v == 0 || v >= 0x80 || size != 4 + n + v) return false;
  label->name = std::string_view(a + 2, n);
  label->value = std::string_view(a + 4 + n, v);
  return true;
}

// a < b for label names; names are short, so an inline byte loop beats a
// call into memcmp.
inline bool NameLess(std::string_view a, std::string_view b) {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return static_cast<uint8_t>(a[i]) < static_cast<uint8_t>(b[i]);
    }
  }
  return a.size() < b.size();
}

bool DecodeSample(Reader r, DecodedSample* sample) {
  sample->timestamp_ms = 0;  // proto3 defaults for absent fields
  sample->value = 0;
  while (!r.done()) {
    uint32_t tag;
    if (!r.ReadTag(&tag)) return false;
    uint64_t v;
    if (tag == kSampleValueTag) {
      if (!r.ReadFixed64(&v)) return false;
      std::memcpy(&sample->value, &v, sizeof(v));
    } else if (tag == kSampleTimestampTag) {
      if (!r.ReadVarint(&v)) return false;
      sample->timestamp_ms = static_cast<int64_t>(v);
    } else if (!r.SkipField(tag)) {
      return false;
    }
  }
  return true;
}

Status SeriesError(size_t index, const Status& cause) {
  return Status::InvalidArgument("timeseries[" + std::to_string(index) +
                                 "]: " + cause.message());
}

}  // namespace

void DecodedWriteRequest::Clear() {
  series.clear();
  samples.clear();
  metadata_count = 0;
  histogram_count = 0;
  exemplar_count = 0;
  scratch_.clear();
  scratch_offsets_.clear();
  labels_.clear();
}

Status DecodeWriteRequest(std::string_view body, DecodedWriteRequest* out) {
  out->Clear();
  const char* body_start = body.data();
  Reader request(body_start, body_start, body_start + body.size());
  while (!request.done()) {
    uint32_t tag;
    if (!request.ReadTag(&tag)) return Fail(request, "bad field tag");
    if (tag == kMetadataTag) {
      const char* a;
      const char* b;
      if (!request.ReadLengthDelimited(&a, &b))
        return Fail(request, "truncated metadata");
      ++out->metadata_count;
      continue;
    }
    if (tag != kTimeSeriesTag) {
      if (!request.SkipField(tag)) return Fail(request, "bad unknown field");
      continue;
    }

    const char* ts_start;
    const char* ts_end;
    if (!request.ReadLengthDelimited(&ts_start, &ts_end))
      return Fail(request, "truncated timeseries");
    Reader ts(body_start, ts_start, ts_end);

    DecodedSeries series{};
    series.first_sample = static_cast<uint32_t>(out->samples.size());
    const char* labels_start = nullptr;  // first Label entry (incl. its tag)
    const char* labels_end = nullptr;
    std::string_view previous_name;
    bool canonical = true;
    bool labels_interrupted = false;  // another field came after a label
    while (!ts.done()) {
      const char* field_start = ts.pos();
      uint32_t field_tag;
      if (!ts.ReadTag(&field_tag))
        return Fail(ts, "bad field tag in timeseries");
      const char* a;
      const char* b;
      if (field_tag == kLabelTag) {
        if (!ts.ReadLengthDelimited(&a, &b)) return Fail(ts, "truncated label");
        model::Label label;
        // The entry's own length prefix must be minimal to be canonical.
        if (field_start + 1 + protowire::VarintSize(b - a) != a)
          canonical = false;
        if (!DecodeCanonicalLabel(a, b, &label) &&
            !DecodeLabel(Reader(body_start, a, b), &label, &canonical)) {
          return Fail(Reader(body_start, a, b), "malformed label");
        }
        if (labels_start == nullptr) {
          labels_start = field_start;
        } else if (labels_interrupted || !NameLess(previous_name, label.name)) {
          canonical = false;
        }
        labels_end = b;
        // Only the name is kept: the common, canonical label set is used
        // in place, and the rare other one is collected again below.
        previous_name = label.name;
      } else if (field_tag == kSampleTag) {
        if (!ts.ReadLengthDelimited(&a, &b))
          return Fail(ts, "truncated sample");
        DecodedSample sample;
        if (!DecodeSample(Reader(body_start, a, b), &sample))
          return Fail(Reader(body_start, a, b), "malformed sample");
        out->samples.push_back(sample);
        labels_interrupted = labels_start != nullptr;
      } else {
        if (!ts.SkipField(field_tag))
          return Fail(ts, "bad field in timeseries");
        if (field_tag == kHistogramTag) ++out->histogram_count;
        if (field_tag == kExemplarTag) ++out->exemplar_count;
        labels_interrupted = labels_start != nullptr;
      }
    }
    series.sample_count =
        static_cast<uint32_t>(out->samples.size()) - series.first_sample;

    size_t index = out->series.size();
    if (canonical && labels_start != nullptr) {
      series.labels = std::string_view(labels_start, labels_end - labels_start);
      series.labels_validated = false;
      out->scratch_offsets_.push_back(kInBody);
    } else {
      // Well formed (checked above): collect the labels and re-encode them.
      out->labels_.clear();
      Reader again(body_start, ts_start, ts_end);
      while (!again.done()) {
        uint32_t field_tag = 0;
        const char* a = nullptr;
        const char* b = nullptr;
        if (!again.ReadTag(&field_tag)) break;
        if (field_tag != kLabelTag) {
          if (!again.SkipField(field_tag)) break;
          continue;
        }
        if (!again.ReadLengthDelimited(&a, &b)) break;
        model::Label label;
        bool ignored;
        if (!DecodeCanonicalLabel(a, b, &label)) {
          DecodeLabel(Reader(body_start, a, b), &label, &ignored);
        }
        out->labels_.push_back(label);
      }
      size_t offset = out->scratch_.size();
      Status s = model::EncodeLabelSet(&out->labels_, &out->scratch_);
      if (!s.ok()) return SeriesError(index, s);
      // Length now; the view is made once scratch_ has stopped growing.
      series.labels = std::string_view(nullptr, out->scratch_.size() - offset);
      series.labels_validated = true;
      out->scratch_offsets_.push_back(static_cast<uint32_t>(offset));
    }
    out->series.push_back(series);
  }

  for (size_t i = 0; i < out->series.size(); ++i) {
    DecodedSeries& s = out->series[i];
    if (out->scratch_offsets_[i] != kInBody) {
      s.labels = std::string_view(
          out->scratch_.data() + out->scratch_offsets_[i], s.labels.size());
    }
    s.labels_hash = model::HashLabelSet(s.labels);
  }
  return Status::Ok();
}

Status ValidateSeriesLabels(const DecodedWriteRequest& request, size_t index) {
  const DecodedSeries& series = request.series[index];
  if (series.labels_validated) return Status::Ok();
  // Rare (once per new series), so a local vector is fine here.
  std::vector<model::Label> labels;
  for (const model::Label& l : model::LabelSetView(series.labels)) {
    labels.push_back(l);
  }
  Status s = model::ValidateSortedLabels(labels);
  return s.ok() ? s : SeriesError(index, s);
}

}  // namespace promewma::codec
