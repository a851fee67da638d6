// SeriesLimits: what a series new to the head must satisfy before it is
// created, and why a write was refused for a limit.
//
// The label limits are checked once per series, when it is first seen (the
// head validates its labels then too), never again on the hot path: a
// series already known passed them. A request with one series over a label
// limit is refused whole (400) and nothing is applied, as for invalid
// labels. max_active_series is checked as series are created (head.h).
//
// Thread-safety: plain values and a pure function.

#ifndef PROMEWMA_HEAD_SERIES_LIMITS_H_
#define PROMEWMA_HEAD_SERIES_LIMITS_H_

#include <cstdint>
#include <string_view>

#include "model/labels.h"
#include "promewma/status.h"

namespace promewma::head {

struct SeriesLimits {
  // Labels of one series, __name__ included. Mimir's default
  // (-validation.max-label-names-per-series); Prometheus' scrape
  // label_limit is off by default, but a CPU series has a handful.
  uint32_t max_labels_per_series = 30;
  // Bytes of one label name, and of one label value: Mimir's defaults
  // (-validation.max-length-label-name, -validation.max-length-label-value).
  uint32_t max_label_name_length = 1024;
  uint32_t max_label_value_length = 2048;
  // Processed series the head holds at once; a new one beyond it is not
  // created (its samples are dropped and counted, the request answered
  // 429). 0: no limit. The default leaves twice the 1M series the head is
  // sized for: about 3 GiB of head at 1.4 KiB a series.
  uint64_t max_active_series = 2'000'000;
};

// Why a write request was refused, or partly refused, for a limit. Index
// into the promewma_write_requests_refused_total{reason} counters.
enum class Refusal : uint8_t {
  kSeriesPerRequest,  // limits.max_series_per_request: 413
  kLabelsPerSeries,   // limits.max_labels_per_series: 400
  kLabelNameLength,   // limits.max_label_name_length: 400
  kLabelValueLength,  // limits.max_label_value_length: 400
  kActiveSeries,      // limits.max_active_series: 429, new series only
  kNone,
};
inline constexpr int kRefusalCount = 5;  // kNone excluded
std::string_view RefusalName(Refusal refusal);

// Checks the label set of timeseries[index] of a request against the label
// limits. On failure *refusal says which, and the message names the series
// index, the label and the limit's key, in one line.
Status CheckLabelLimits(model::LabelSetView labels, size_t index,
                        const SeriesLimits& limits, Refusal* refusal);

}  // namespace promewma::head

#endif  // PROMEWMA_HEAD_SERIES_LIMITS_H_
