// Report: what a backtest writes out. The derived series and the alert
// episodes as CSV (times in epoch milliseconds, absent outputs empty), and
// a PNG plot of one series drawn by gnuplot.
//
// Series CSV columns:
//   series,timestamp_ms,value,ewma,upper_threshold,lower_threshold,
//   stddev,anomaly_score,condition,firing
// Episodes CSV columns:
//   file,series,active_since_ms,fired_at_ms,resolved_at_ms,outcome
// with resolved_at_ms empty while still firing at the end, and outcome one
// of caught, in_window_again, false, probation, unscored (no windows given).
//
// Thread-safety: pure functions (they write the files they are given).

#ifndef PROMEWMA_TOOLS_BACKTEST_REPORT_H_
#define PROMEWMA_TOOLS_BACKTEST_REPORT_H_

#include <cstdio>
#include <string>
#include <vector>

#include "backtest/nab_score.h"
#include "backtest/replay.h"
#include "promewma/status.h"

namespace promewma::backtest {

// The runs of one input file and, when it was scored, the outcome of each
// episode (in the runs' order, episode by episode).
struct FileRuns {
  std::string file;  // base name
  std::vector<SeriesRun> runs;
  bool scored = false;
  std::vector<TimeWindow> windows;
  std::vector<std::vector<DetectionOutcome>> outcomes;  // per run
};

void WriteSeriesHeader(FILE* out);
void WriteSeriesRows(const SeriesRun& run, FILE* out);
void WriteEpisodesHeader(FILE* out);
void WriteEpisodeRows(const FileRuns& file, FILE* out);

std::string_view OutcomeName(DetectionOutcome outcome);

// Draws `run` (value, EWMA, the band, the windows shaded and labelled, the
// alert episodes as bars under the curve) into `png_path` with gnuplot.
// The data and script go to temporary files next to it, removed after.
Status PlotSeries(const SeriesRun& run, const std::vector<TimeWindow>& windows,
                  const std::string& title, const std::string& png_path);

}  // namespace promewma::backtest

#endif  // PROMEWMA_TOOLS_BACKTEST_REPORT_H_
