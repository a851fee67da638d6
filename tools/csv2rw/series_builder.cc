#include "csv2rw/series_builder.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "common/one_line.h"
#include "csv2rw/time_parser.h"
#include "model/labels.h"

namespace promewma::csv2rw {

namespace {

// Send order; the line makes it total, so equal rows keep file order.
bool SendsBefore(const Row& a, const Row& b) {
  if (a.timestamp_ms != b.timestamp_ms) return a.timestamp_ms < b.timestamp_ms;
  if (a.series != b.series) return a.series < b.series;
  return a.line < b.line;
}

void AppendKeyPart(std::string* key, std::string_view value) {
  const uint32_t n = static_cast<uint32_t>(value.size());
  key->append(reinterpret_cast<const char*>(&n), sizeof(n));
  key->append(value);
}

}  // namespace

std::string FormatValue(double value) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

Status ValidateSeriesOptions(const SeriesOptions& options) {
  if (!model::IsValidMetricName(options.metric)) {
    return Status::InvalidArgument("--metric: invalid metric name \"" +
                                   EscapeToOneLine(options.metric) +
                                   "\" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  std::set<std::string> names;
  auto check_name = [&](const std::string& name,
                        std::string_view flag) -> Status {
    if (name == model::kMetricNameLabel) {
      return Status::InvalidArgument(std::string(flag) +
                                     ": the label __name__ is set by --metric");
    }
    if (!model::IsValidLabelName(name)) {
      return Status::InvalidArgument(
          std::string(flag) + ": invalid label name \"" +
          EscapeToOneLine(name) + "\" (must match [a-zA-Z_][a-zA-Z0-9_]*)");
    }
    if (!names.insert(name).second) {
      return Status::InvalidArgument(std::string(flag) + ": label \"" + name +
                                     "\" is given more than once");
    }
    return Status::Ok();
  };
  for (const auto& [name, value] : options.labels) {
    if (Status s = check_name(name, "--label"); !s.ok()) return s;
    if (!model::IsValidUtf8(value)) {
      return Status::InvalidArgument("--label " + name +
                                     ": the value is not valid UTF-8");
    }
  }
  for (const std::string& name : options.label_column_labels) {
    if (Status s = check_name(name, "--label-column"); !s.ok()) return s;
  }
  return Status::Ok();
}

SeriesBuilder::SeriesBuilder(SeriesOptions options)
    : options_(std::move(options)) {}

bool SeriesBuilder::SeriesFor(const std::vector<std::string_view>& values,
                              uint32_t* series, std::string* reason) {
  key_.clear();
  for (std::string_view v : values) AppendKeyPart(&key_, v);
  if (has_last_ && key_ == last_key_) {
    *series = last_id_;
    return true;
  }
  auto it = ids_.find(key_);
  if (it == ids_.end()) {
    std::vector<model::Label> labels;
    labels.push_back({model::kMetricNameLabel, options_.metric});
    for (const auto& [name, value] : options_.labels) {
      labels.push_back({name, value});
    }
    for (size_t i = 0; i < values.size(); ++i) {
      labels.push_back({options_.label_column_labels[i], values[i]});
    }
    std::string encoded;
    if (Status s = model::EncodeLabelSet(&labels, &encoded); !s.ok()) {
      *reason = s.message();
      return false;
    }
    it = ids_.emplace(key_, static_cast<uint32_t>(labels_.size())).first;
    labels_.push_back(std::move(encoded));
  }
  last_key_ = key_;  // no allocation once its capacity suffices
  last_id_ = it->second;
  has_last_ = true;
  *series = it->second;
  return true;
}

std::string SeriesBuilder::SeriesName(uint32_t series) const {
  std::string name = model::LabelSetView(labels_[series]).ToString();
  // A bare metric name reads better than "cpu_utilization{}".
  if (name.size() > 2 && name.compare(name.size() - 2, 2, "{}") == 0) {
    name.resize(name.size() - 2);
  }
  return name;
}

SeriesBuilder::FinishStats SeriesBuilder::Finish(BadRowLog* bad_rows) {
  // Most files are already in time order: check that in one pass and then
  // only order each run of equal timestamps (one row per series at that
  // time, usually) by series. Otherwise sort everything.
  const bool time_ordered = std::is_sorted(
      rows_.begin(), rows_.end(), [](const Row& a, const Row& b) {
        return a.timestamp_ms < b.timestamp_ms;
      });
  if (time_ordered) {
    for (size_t i = 0; i < rows_.size();) {
      size_t j = i + 1;
      while (j < rows_.size() &&
             rows_[j].timestamp_ms == rows_[i].timestamp_ms) {
        ++j;
      }
      if (j - i > 1)
        std::sort(rows_.begin() + i, rows_.begin() + j, SendsBefore);
      i = j;
    }
  } else {
    std::sort(rows_.begin(), rows_.end(), SendsBefore);
  }

  FinishStats stats;
  size_t kept = 0;
  for (size_t i = 0; i < rows_.size(); ++i) {
    const Row& row = rows_[i];
    if (kept > 0) {
      const Row& first = rows_[kept - 1];
      if (first.series == row.series &&
          first.timestamp_ms == row.timestamp_ms) {
        if (first.value == row.value) {
          ++stats.exact_duplicates;
        } else {
          ++stats.conflicts;
          bad_rows->Add(
              row.line,
              "duplicate timestamp " + FormatTimestampMs(row.timestamp_ms) +
                  " in series " + SeriesName(row.series) +
                  " with a different value: " + FormatValue(row.value) +
                  " here, " + FormatValue(first.value) + " on line " +
                  std::to_string(first.line));
        }
        continue;
      }
    }
    rows_[kept++] = row;
  }
  rows_.resize(kept);
  return stats;
}

}  // namespace promewma::csv2rw
