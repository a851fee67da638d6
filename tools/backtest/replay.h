// Replay: runs the real engine (head::Head, the estimator promewma runs)
// over input series (from a CSV or a remote read), one request per series
// with its samples in time order, and evaluates an alerting rule on the
// outputs at every sample's time (evaluation interval = sample step).
//
// The rule expressions, as they would be written against promewma's
// outputs in a Prometheus rules file:
//   upper      cpu > cpu:upper_threshold
//   score      cpu:anomaly_score > 1
//   two-sided  cpu > cpu:upper_threshold or cpu < cpu:lower_threshold
// An evaluation where an output is absent (before min_samples) is false,
// as the PromQL comparison returns nothing then.
//
// Every output is computed whatever the config's `outputs:` list says:
// outputs do not change one another's values.
//
// Thread-safety: pure functions of their inputs.

#ifndef PROMEWMA_TOOLS_BACKTEST_REPLAY_H_
#define PROMEWMA_TOOLS_BACKTEST_REPLAY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backtest/alert_episodes.h"
#include "csv2rw/series_builder.h"
#include "ewma/series_estimator.h"
#include "head/head.h"
#include "promewma/status.h"

namespace promewma::backtest {

enum class AlertExpression { kUpperThreshold, kAnomalyScore, kTwoSided };

// "upper", "score", "two-sided".
Result<AlertExpression> ParseAlertExpression(std::string_view name);
// The PromQL the expression stands for, over metric `metric`.
std::string AlertExpressionPromQL(AlertExpression expression,
                                  std::string_view metric);

// One input series: its samples in time order.
struct InputSeries {
  std::string name;    // name{label="value", ...}, for reports
  std::string labels;  // canonical label-set encoding (model/labels.h)
  std::vector<int64_t> timestamps_ms;
  std::vector<double> values;
};

// The series of a loaded CSV (rows in send order), as input series.
std::vector<InputSeries> SeriesOfCsv(const csv2rw::SeriesBuilder& series);

struct SeriesRun {
  std::string name;  // name{label="value", ...}
  bool processed = false;  // false: no rule selects the series
  std::vector<int64_t> timestamps_ms;
  std::vector<double> values;
  std::vector<ewma::DerivedValues> derived;  // per sample
  std::vector<bool> condition;               // per sample
  std::vector<bool> firing;                  // per sample, after evaluation
  std::vector<AlertEpisode> episodes;
};

// Replays every series through a Head built from `options`
// (collect_derived is forced on, every output enabled) and evaluates the
// alert. Fails when the head refuses a series (invalid labels).
// REQUIRES: each series' timestamps strictly increasing.
Result<std::vector<SeriesRun>> ReplaySeries(std::vector<InputSeries> series,
                                            head::HeadOptions options,
                                            AlertExpression expression,
                                            AlertTiming timing);

// Whether the rule's expression returns the series for one sample.
bool AlertCondition(AlertExpression expression, double value,
                    const ewma::DerivedValues& derived);

}  // namespace promewma::backtest

#endif  // PROMEWMA_TOOLS_BACKTEST_REPLAY_H_
