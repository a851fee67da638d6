// NabScore: labelled anomaly windows in the Numenta Anomaly Benchmark's
// JSON format, and our implementation of NAB's scoring of detections
// against them (NAB's nab/sweeper.py, applied to alert episodes).
//
// Windows file: {"dir/file.csv": [["2014-02-26 13:45:00.000000",
// "2014-02-27 06:25:00.000000"], ...], ...}; times are UTC. A data file is
// matched by its base name.
//
// Scoring one data file of n rows:
//   - the first min(floor(0.15 n), 0.15 * 5000) rows are probation: a
//     detection there counts for nothing, and a window wholly inside it is
//     not scored;
//   - a window spans the rows whose time is within its limits (inclusive);
//   - a detection is the row where an alert episode starts firing;
//   - per window, the earliest detection in it scores
//     A_TP * S(-(right - i + 1) / width) / S(-1), where S is NAB's scaled
//     sigmoid S(y) = 2 / (1 + e^(5y)) - 1 (and -1 for y >= 3); a window
//     without one scores -A_FN;
//   - a detection outside every window scores A_FP * S(y), with y = |i -
//     right of the previous window| / (its width - 1), or y = 3 (S = -1)
//     before the first window.
// Standard profile: A_TP = 1, A_FP = 0.11, A_FN = 1. Over a corpus the raw
// scores add up and are normalised as NAB does, 100 * (raw - null) /
// (perfect - null), with null = -A_FN * windows (no detection) and perfect
// = A_TP * windows (each window caught at its first row).
//
// The counts reported besides the score: a window is caught when an
// episode starts inside it; an episode starting outside every window is a
// false one; an alert already firing when a window opens does not catch it.
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_TOOLS_BACKTEST_NAB_SCORE_H_
#define PROMEWMA_TOOLS_BACKTEST_NAB_SCORE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "promewma/status.h"

namespace promewma::backtest {

struct TimeWindow {
  int64_t start_ms;
  int64_t end_ms;
};

// Base file name ("ec2_cpu_utilization_24ae8d.csv") -> its windows.
using WindowsByFile = std::map<std::string, std::vector<TimeWindow>>;

// Parses NAB's windows JSON. InvalidArgument names what is malformed.
Result<WindowsByFile> ParseNabWindows(std::string_view json);

// "2014-02-26 13:45:00.000000" (fraction optional, UTC) -> epoch ms.
Result<int64_t> ParseNabTime(std::string_view text);

struct ScoringProfile {
  double tp_weight = 1.0;
  double fp_weight = 0.11;
  double fn_weight = 1.0;
  double probation_percent = 0.15;
};

// NAB's scaled sigmoid of a relative position.
double NabScaledSigmoid(double relative_position);

// Rows NAB does not score at the start of a file of `rows` rows.
size_t NabProbationRows(size_t rows, const ScoringProfile& profile);

enum class DetectionOutcome { kCaught, kInWindowAgain, kFalse, kProbation };

struct FileScore {
  int windows = 0;  // scored windows (not wholly in probation)
  int caught = 0;
  int missed = 0;
  int false_detections = 0;
  double raw = 0;  // NAB raw score
  // Per detection, in the order given.
  std::vector<DetectionOutcome> outcomes;
};

// Scores detections (row indexes into `timestamps_ms`, ascending) against
// `windows`. REQUIRES: timestamps_ms ascending.
FileScore ScoreDetections(const std::vector<int64_t>& timestamps_ms,
                          const std::vector<size_t>& detection_rows,
                          const std::vector<TimeWindow>& windows,
                          const ScoringProfile& profile);

// NAB's normalised score of a corpus: raw scores summed over its files,
// `windows` summed likewise.
double NabNormalizedScore(double raw, int windows,
                          const ScoringProfile& profile);

}  // namespace promewma::backtest

#endif  // PROMEWMA_TOOLS_BACKTEST_NAB_SCORE_H_
