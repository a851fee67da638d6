// SeriesBuilder: gathers the parsed rows of a CSV file, groups them into
// series and puts them in the order they are sent.
//
// A series is the metric name, the --label pairs and, per --label-column,
// the row's value in that column (an empty value omits the label, as in
// Prometheus). Its label set is encoded once, canonically
// (src/model/labels.h), when the series is first seen.
//
// Send order: by timestamp, then by series (first seen first), so history
// flows forward in time across all series, as a live Prometheus would send
// it, and each series' samples are in time order. Rows with the same
// series and timestamp are duplicates: an identical value is dropped (it
// would change nothing), another value is a bad row (the first one in the
// file is kept).
//
// Memory: 24 bytes per row (Row), plus the label sets.
//
// Thread-safety: not thread-safe.

#ifndef PROMEWMA_TOOLS_CSV2RW_SERIES_BUILDER_H_
#define PROMEWMA_TOOLS_CSV2RW_SERIES_BUILDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "csv2rw/bad_row_log.h"
#include "promewma/status.h"

namespace promewma::csv2rw {

struct Row {
  int64_t timestamp_ms;
  double value;
  uint32_t series;
  uint32_t line;  // in the CSV file, for reports
};
static_assert(sizeof(Row) == 24, "rows are kept by the million");

struct SeriesOptions {
  std::string metric = "cpu_utilization";
  std::vector<std::pair<std::string, std::string>> labels;  // --label
  std::vector<std::string> label_column_labels;  // --label-column names
};

// Checks the metric name and label names with the model's rules: valid
// names, no __name__ among the labels (--metric sets it), no name given
// twice, label values valid UTF-8. The message names the flag.
Status ValidateSeriesOptions(const SeriesOptions& options);

class SeriesBuilder {
 public:
  // REQUIRES: ValidateSeriesOptions(options).ok()
  explicit SeriesBuilder(SeriesOptions options);

  SeriesBuilder(const SeriesBuilder&) = delete;
  SeriesBuilder& operator=(const SeriesBuilder&) = delete;

  // The series of a row whose label columns hold `values` (one per
  // label_column_labels entry, in order), created when new. Returns false
  // with *reason when the label set is invalid (a value that is not
  // UTF-8).
  // REQUIRES: values.size() == label_column_labels.size()
  bool SeriesFor(const std::vector<std::string_view>& values, uint32_t* series,
                 std::string* reason);

  void Reserve(size_t rows) { rows_.reserve(rows); }
  void Add(const Row& row) { rows_.push_back(row); }
  size_t row_count() const { return rows_.size(); }

  struct FinishStats {
    uint64_t exact_duplicates = 0;  // dropped silently
    uint64_t conflicts = 0;         // reported to the BadRowLog and dropped
  };
  // Sorts the rows into send order and removes duplicates (see the file
  // comment). Call once, after the last Add.
  FinishStats Finish(BadRowLog* bad_rows);

  const std::vector<Row>& rows() const { return rows_; }
  size_t series_count() const { return labels_.size(); }
  // The canonical label-set encoding of `series`.
  std::string_view labels(uint32_t series) const { return labels_[series]; }
  // name{label="value", ...}, or just the name without labels.
  std::string SeriesName(uint32_t series) const;

 private:
  SeriesOptions options_;
  std::vector<Row> rows_;
  std::vector<std::string> labels_;  // by series id
  // Label-column values (each as a 4-byte length and the bytes) -> series.
  std::unordered_map<std::string, uint32_t> ids_;
  std::string key_;       // scratch for the lookup key
  std::string last_key_;  // the previous row's key: rows often repeat it
  uint32_t last_id_ = 0;
  bool has_last_ = false;
};

// The shortest text that reads back as `value` ("16.89", "1e+300").
std::string FormatValue(double value);

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_SERIES_BUILDER_H_
