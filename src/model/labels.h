// Label sets: validation, the canonical byte encoding promewma keys series
// by, and a zero-copy view to read one back.
//
// Canonical encoding
// ------------------
// A label set is stored as the exact bytes Prometheus puts in the `labels`
// field of a remote-write TimeSeries, restricted to one canonical form:
//
//   label_set := entry*                 (sorted by name, names unique,
//                                        labels with empty values omitted)
//   entry     := 0x0a varint(len(pair)) pair
//   pair      := 0x0a varint(len(name)) name 0x12 varint(len(value)) value
//
// All varints are minimal. Because a well-behaved sender (Prometheus,
// csv2rw, VictoriaMetrics' vmagent) already writes exactly this, the decoder
// can usually point at the request bytes instead of copying them, and hash
// them as the series identity. Anything else (unsorted labels, odd field
// order, empty values) is re-encoded into this form first.
//
// Thread-safety: free functions are pure; LabelSetView is a value over bytes
// it does not own (the caller keeps them alive).

#ifndef PROMEWMA_MODEL_LABELS_H_
#define PROMEWMA_MODEL_LABELS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "promewma/status.h"

namespace promewma::model {

inline constexpr std::string_view kMetricNameLabel = "__name__";

struct Label {
  std::string_view name;
  std::string_view value;
};

// [a-zA-Z_][a-zA-Z0-9_]*
bool IsValidLabelName(std::string_view name);
// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name);
bool IsValidUtf8(std::string_view text);

// Checks names, values and __name__ of a label list sorted by name.
// Returns InvalidArgument naming the first problem.
Status ValidateSortedLabels(const std::vector<Label>& labels);

// Appends the canonical encoding of `labels` to *out. Sorts `labels` in place
// by name and drops empty values. Fails (and leaves *out unchanged) on an
// invalid or duplicate name, a value that is not UTF-8, a missing or invalid
// __name__.
Status EncodeLabelSet(std::vector<Label>* labels, std::string* out);

// Hash of a canonical encoding; the series identity (collisions are checked
// by comparing the bytes).
uint64_t HashLabelSet(std::string_view encoded);

// Read-only view over a canonical encoding.
// REQUIRES: the bytes are a valid canonical encoding (as produced by
// EncodeLabelSet or accepted by the write-request decoder).
class LabelSetView {
 public:
  class Iterator {
   public:
    Iterator(const char* pos, const char* end) : pos_(pos), end_(end) {
      Load();
    }
    const Label& operator*() const { return current_; }
    const Label* operator->() const { return &current_; }
    Iterator& operator++() {
      pos_ = next_;
      Load();
      return *this;
    }
    bool operator!=(const Iterator& other) const { return pos_ != other.pos_; }
    bool operator==(const Iterator& other) const { return pos_ == other.pos_; }

   private:
    void Load();

    const char* pos_;
    const char* end_;
    const char* next_ = nullptr;
    Label current_;
  };

  LabelSetView() = default;
  explicit LabelSetView(std::string_view encoded) : encoded_(encoded) {}

  Iterator begin() const {
    return Iterator(encoded_.data(), encoded_.data() + encoded_.size());
  }
  Iterator end() const {
    const char* e = encoded_.data() + encoded_.size();
    return Iterator(e, e);
  }

  // Value of the label `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;
  std::string_view MetricName() const { return Get(kMetricNameLabel); }
  std::string_view encoded() const { return encoded_; }

  // Prometheus notation: name{a="b", c="d"} (values escaped).
  std::string ToString() const;

 private:
  std::string_view encoded_;
};

// Appends the canonical encoding of `labels` with __name__ set to `name`
// (the derived series NAME:ewma{...} of an input series).
// REQUIRES: `labels` has a __name__; `name` is a valid metric name.
void EncodeWithMetricName(LabelSetView labels, std::string_view name,
                          std::string* out);

// Renaming by splicing. A series is renamed once per derived sample sent,
// so the write-back path copies the bytes around the __name__ entry as
// they are instead of decoding and re-encoding every label: the names do
// not change, so neither does their order.
struct MetricNameEntry {
  size_t offset = 0;  // of the whole entry (tag included) in the encoding
  size_t size = 0;    // 0: the encoding has no __name__
  std::string_view value;
};
MetricNameEntry FindMetricNameEntry(std::string_view encoded);

// Bytes of the canonical encoding of `encoded` with `suffix` appended to
// its metric name (`entry` is FindMetricNameEntry(encoded)).
size_t SizeWithNameSuffix(std::string_view encoded,
                          const MetricNameEntry& entry,
                          std::string_view suffix);

// Writes those bytes at `out` and returns the end of what it wrote.
// REQUIRES: `out` has room for SizeWithNameSuffix(...) bytes; entry.size > 0.
char* WriteWithNameSuffix(std::string_view encoded,
                          const MetricNameEntry& entry,
                          std::string_view suffix, char* out);

// Prometheus' order of label sets: label by label, name then value, a set
// that is a prefix of another first. Remote read and federation answer in it.
bool LabelSetLess(const LabelSetView& a, const LabelSetView& b);

}  // namespace promewma::model

#endif  // PROMEWMA_MODEL_LABELS_H_
