#include "backtest/nab_score.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace promewma::backtest {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Result<int64_t> ParseNabTime(std::string_view text) {
  const std::string s(text);
  int year, month, day, hour, minute;
  double second;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%d %d:%d:%lf%n", &year, &month, &day,
                  &hour, &minute, &second, &consumed) != 6 ||
      static_cast<size_t>(consumed) != s.size() || month < 1 || month > 12 ||
      day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || !(second >= 0 && second < 61)) {
    return Status::InvalidArgument("not a time like \"2014-02-26 13:45:00\": \"" +
                                   s + "\"");
  }
  const int64_t days = DaysFromCivil(year, static_cast<unsigned>(month),
                                     static_cast<unsigned>(day));
  const int64_t ms = static_cast<int64_t>(std::llround(second * 1000));
  return ((days * 24 + hour) * 60 + minute) * 60'000 + ms;
}

Result<WindowsByFile> ParseNabWindows(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument(
        "windows: not a JSON object of file name -> [[start, end], ...]");
  }
  WindowsByFile out;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string file = BaseName(it.key());
    if (!it.value().is_array()) {
      return Status::InvalidArgument("windows: " + it.key() +
                                     ": expected a list of [start, end]");
    }
    std::vector<TimeWindow>& windows = out[file];
    for (const nlohmann::json& pair : it.value()) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() ||
          !pair[1].is_string()) {
        return Status::InvalidArgument("windows: " + it.key() +
                                       ": expected [start, end] strings");
      }
      Result<int64_t> start = ParseNabTime(pair[0].get<std::string>());
      if (!start.ok()) {
        return Status::InvalidArgument("windows: " + it.key() + ": " +
                                       start.status().message());
      }
      Result<int64_t> end = ParseNabTime(pair[1].get<std::string>());
      if (!end.ok()) {
        return Status::InvalidArgument("windows: " + it.key() + ": " +
                                       end.status().message());
      }
      if (*end < *start) {
        return Status::InvalidArgument("windows: " + it.key() +
                                       ": a window ends before it starts");
      }
      windows.push_back(TimeWindow{*start, *end});
    }
    std::sort(windows.begin(), windows.end(),
              [](const TimeWindow& a, const TimeWindow& b) {
                return a.start_ms < b.start_ms;
              });
  }
  return out;
}

double NabScaledSigmoid(double relative_position) {
  if (relative_position >= 3.0) return -1.0;
  return 2.0 / (1.0 + std::exp(5.0 * relative_position)) - 1.0;
}

size_t NabProbationRows(size_t rows, const ScoringProfile& profile) {
  const double by_share =
      std::floor(profile.probation_percent * static_cast<double>(rows));
  const double cap = profile.probation_percent * 5000;
  // Rows i >= this value are scored (NAB compares i >= min(...)).
  return static_cast<size_t>(std::ceil(std::min(by_share, cap)));
}

FileScore ScoreDetections(const std::vector<int64_t>& timestamps_ms,
                          const std::vector<size_t>& detection_rows,
                          const std::vector<TimeWindow>& windows,
                          const ScoringProfile& profile) {
  FileScore score;
  const size_t n = timestamps_ms.size();
  const size_t probation = NabProbationRows(n, profile);

  // Row span of each window; empty when no row falls in it.
  struct Span {
    size_t left, right;  // inclusive
    bool scored;         // has a row after probation
    double best;         // best TP score of a detection in it
    bool hit;
  };
  std::vector<Span> spans;
  for (const TimeWindow& w : windows) {
    const size_t left = static_cast<size_t>(
        std::lower_bound(timestamps_ms.begin(), timestamps_ms.end(),
                         w.start_ms) -
        timestamps_ms.begin());
    const size_t end = static_cast<size_t>(
        std::upper_bound(timestamps_ms.begin(), timestamps_ms.end(),
                         w.end_ms) -
        timestamps_ms.begin());
    if (end <= left) continue;  // no row in it: nothing to score
    spans.push_back(Span{left, end - 1, end - 1 >= probation, 0, false});
  }
  for (const Span& s : spans) score.windows += s.scored ? 1 : 0;

  const double max_tp = NabScaledSigmoid(-1.0);
  for (size_t row : detection_rows) {
    if (row < probation || row >= n) {
      score.outcomes.push_back(DetectionOutcome::kProbation);
      continue;
    }
    // The window holding the row, else the last one that ended before it.
    const Span* in = nullptr;
    const Span* previous = nullptr;
    for (const Span& s : spans) {
      if (row >= s.left && row <= s.right) in = &s;
      if (s.right < row) previous = &s;
    }
    if (in != nullptr) {
      Span& span = spans[static_cast<size_t>(in - spans.data())];
      const double width = static_cast<double>(span.right - span.left + 1);
      const double position =
          -static_cast<double>(span.right - row + 1) / width;
      const double tp =
          NabScaledSigmoid(position) * profile.tp_weight / max_tp;
      score.outcomes.push_back(span.hit ? DetectionOutcome::kInWindowAgain
                                        : DetectionOutcome::kCaught);
      span.best = span.hit ? std::max(span.best, tp) : tp;
      span.hit = true;
      continue;
    }
    double position = 3.0;
    if (previous != nullptr) {
      const double width =
          static_cast<double>(previous->right - previous->left + 1);
      position = width > 1 ? static_cast<double>(row - previous->right) /
                                 (width - 1)
                           : 3.0;
    }
    score.raw += NabScaledSigmoid(position) * profile.fp_weight;
    score.false_detections += 1;
    score.outcomes.push_back(DetectionOutcome::kFalse);
  }
  for (const Span& s : spans) {
    if (!s.scored) continue;
    if (s.hit) {
      score.caught += 1;
      score.raw += s.best;
    } else {
      score.missed += 1;
      score.raw -= profile.fn_weight;
    }
  }
  return score;
}

double NabNormalizedScore(double raw, int windows,
                          const ScoringProfile& profile) {
  const double null_score = -profile.fn_weight * windows;
  const double perfect = profile.tp_weight * windows;
  if (perfect == null_score) return 0;
  return 100.0 * (raw - null_score) / (perfect - null_score);
}

}  // namespace promewma::backtest
