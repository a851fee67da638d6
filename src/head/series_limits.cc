#include "head/series_limits.h"

#include <string>

namespace promewma::head {
namespace {

// A label name or value quoted in a message, cut short: the limits exist
// because these can be huge.
std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  for (char c : text.substr(0, kMax)) {
    out += (c == '"' || c == '\\') ? '_' : (c == '\n' ? ' ' : c);
  }
  out += text.size() > kMax ? "...\"" : "\"";
  return out;
}

std::string Prefix(size_t index) {
  return "timeseries[" + std::to_string(index) + "]: ";
}

}  // namespace

std::string_view RefusalName(Refusal refusal) {
  switch (refusal) {
    case Refusal::kSeriesPerRequest:
      return "series_per_request";
    case Refusal::kLabelsPerSeries:
      return "labels_per_series";
    case Refusal::kLabelNameLength:
      return "label_name_length";
    case Refusal::kLabelValueLength:
      return "label_value_length";
    case Refusal::kActiveSeries:
      return "active_series";
    case Refusal::kNone:
      break;
  }
  return "none";
}

Status CheckLabelLimits(model::LabelSetView labels, size_t index,
                        const SeriesLimits& limits, Refusal* refusal) {
  uint64_t count = 0;
  for (const model::Label& label : labels) {
    ++count;
    if (label.name.size() > limits.max_label_name_length) {
      *refusal = Refusal::kLabelNameLength;
      return Status::InvalidArgument(
          Prefix(index) + "label name " + Excerpt(label.name) + " is " +
          std::to_string(label.name.size()) +
          " bytes, over limits.max_label_name_length (" +
          std::to_string(limits.max_label_name_length) + ")");
    }
    if (label.value.size() > limits.max_label_value_length) {
      *refusal = Refusal::kLabelValueLength;
      return Status::InvalidArgument(
          Prefix(index) + "value of label " + Excerpt(label.name) + " is " + std::to_string(label.value.size()) +
          " bytes, over limits.max_label_value_length (" +
          std::to_string(limits.max_label_value_length) +
          "): " + Excerpt(label.value));
    }
  }
  if (count > limits.max_labels_per_series) {
    *refusal = Refusal::kLabelsPerSeries;
    return Status::InvalidArgument(
        Prefix(index) + "series " + Excerpt(labels.MetricName()) + " has " +
        std::to_string(count) + " labels, over limits.max_labels_per_series (" +
        std::to_string(limits.max_labels_per_series) + ")");
  }
  return Status::Ok();
}

}  // namespace promewma::head
