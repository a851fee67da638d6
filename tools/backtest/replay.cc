#include "backtest/replay.h"

#include <utility>

#include "codec/write_request.h"
#include "model/labels.h"

namespace promewma::backtest {

Result<AlertExpression> ParseAlertExpression(std::string_view name) {
  if (name == "upper") return AlertExpression::kUpperThreshold;
  if (name == "score") return AlertExpression::kAnomalyScore;
  if (name == "two-sided") return AlertExpression::kTwoSided;
  return Status::InvalidArgument("--expr: expected upper, score or two-sided, got \"" +
                                 std::string(name) + "\"");
}

std::string AlertExpressionPromQL(AlertExpression expression,
                                  std::string_view metric) {
  const std::string m(metric);
  switch (expression) {
    case AlertExpression::kUpperThreshold:
      return m + " > " + m + ":upper_threshold";
    case AlertExpression::kAnomalyScore:
      return m + ":anomaly_score > 1";
    case AlertExpression::kTwoSided:
      return m + " > " + m + ":upper_threshold or " + m + " < " + m +
             ":lower_threshold";
  }
  return "";
}

bool AlertCondition(AlertExpression expression, double value,
                    const ewma::DerivedValues& derived) {
  if (derived.stale) return false;
  using ewma::Output;
  switch (expression) {
    case AlertExpression::kUpperThreshold:
      return derived.has(Output::kUpperThreshold) &&
             value > derived.get(Output::kUpperThreshold);
    case AlertExpression::kAnomalyScore:
      return derived.has(Output::kAnomalyScore) &&
             derived.get(Output::kAnomalyScore) > 1;
    case AlertExpression::kTwoSided:
      return (derived.has(Output::kUpperThreshold) &&
              value > derived.get(Output::kUpperThreshold)) ||
             (derived.has(Output::kLowerThreshold) &&
              value < derived.get(Output::kLowerThreshold));
  }
  return false;
}

std::vector<InputSeries> SeriesOfCsv(const csv2rw::SeriesBuilder& series) {
  std::vector<InputSeries> out(series.series_count());
  for (uint32_t id = 0; id < out.size(); ++id) {
    out[id].name = series.SeriesName(id);
    out[id].labels = std::string(series.labels(id));
  }
  // Rows are in send order (time, then series): gather each series' own.
  for (const csv2rw::Row& row : series.rows()) {
    out[row.series].timestamps_ms.push_back(row.timestamp_ms);
    out[row.series].values.push_back(row.value);
  }
  return out;
}

Result<std::vector<SeriesRun>> ReplaySeries(std::vector<InputSeries> series,
                                            head::HeadOptions options,
                                            AlertExpression expression,
                                            AlertTiming timing) {
  constexpr ewma::OutputMask kAll = (1u << ewma::kOutputCount) - 1;
  options.collect_derived = true;
  options.defaults.outputs = kAll;
  for (head::SeriesRule& rule : options.rules) rule.params.outputs = kAll;
  head::Head head(std::move(options));

  std::vector<SeriesRun> runs(series.size());
  codec::DecodedWriteRequest request;
  head::ApplyResult result;
  for (size_t id = 0; id < runs.size(); ++id) {
    SeriesRun& run = runs[id];
    run.name = std::move(series[id].name);
    run.timestamps_ms = std::move(series[id].timestamps_ms);
    run.values = std::move(series[id].values);
    request.Clear();
    result.Clear();
    const std::string_view labels = series[id].labels;
    request.series.push_back(codec::DecodedSeries{
        labels, model::HashLabelSet(labels), false, 0,
        static_cast<uint32_t>(run.timestamps_ms.size())});
    for (size_t i = 0; i < run.timestamps_ms.size(); ++i) {
      request.samples.push_back(
          codec::DecodedSample{run.timestamps_ms[i], run.values[i]});
    }
    Status s = head.Apply(request, &result);
    if (!s.ok()) return Status::InvalidArgument(run.name + ": " + s.message());
    // Every sample is newer than the last, so each applied sample emitted
    // one entry.
    run.processed = !result.derived.empty();
    run.derived.assign(run.timestamps_ms.size(), ewma::DerivedValues{});
    size_t next = 0;
    for (const ewma::EmittedDerived& d : result.derived) {
      while (next < run.timestamps_ms.size() &&
             run.timestamps_ms[next] < d.timestamp_ms) {
        ++next;
      }
      if (next < run.timestamps_ms.size() &&
          run.timestamps_ms[next] == d.timestamp_ms) {
        run.derived[next] = d.values;
      }
    }
    AlertStateMachine alert(timing);
    run.condition.resize(run.timestamps_ms.size());
    run.firing.resize(run.timestamps_ms.size());
    for (size_t i = 0; i < run.timestamps_ms.size(); ++i) {
      const bool c = AlertCondition(expression, run.values[i], run.derived[i]);
      alert.Evaluate(run.timestamps_ms[i], c);
      run.condition[i] = c;
      run.firing[i] = alert.firing();
    }
    run.episodes = alert.Episodes();
  }
  return runs;
}

}  // namespace promewma::backtest
