#include "backtest/report.h"

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace promewma::backtest {
namespace {

void PutOptional(FILE* out, const ewma::DerivedValues& d, ewma::Output o) {
  if (d.has(o) && !d.stale) {
    std::fprintf(out, ",%.17g", d.get(o));
  } else {
    std::fputs(",", out);
  }
}

}  // namespace

std::string_view OutcomeName(DetectionOutcome outcome) {
  switch (outcome) {
    case DetectionOutcome::kCaught:
      return "caught";
    case DetectionOutcome::kInWindowAgain:
      return "in_window_again";
    case DetectionOutcome::kFalse:
      return "false";
    case DetectionOutcome::kProbation:
      return "probation";
  }
  return "";
}

void WriteSeriesHeader(FILE* out) {
  std::fputs(
      "series,timestamp_ms,value,ewma,upper_threshold,lower_threshold,"
      "stddev,anomaly_score,condition,firing\n",
      out);
}

void WriteSeriesRows(const SeriesRun& run, FILE* out) {
  using ewma::Output;
  for (size_t i = 0; i < run.timestamps_ms.size(); ++i) {
    const ewma::DerivedValues& d = run.derived[i];
    std::fprintf(out, "\"%s\",%lld,%.17g", run.name.c_str(),
                 static_cast<long long>(run.timestamps_ms[i]), run.values[i]);
    PutOptional(out, d, Output::kEwma);
    PutOptional(out, d, Output::kUpperThreshold);
    PutOptional(out, d, Output::kLowerThreshold);
    PutOptional(out, d, Output::kStddev);
    PutOptional(out, d, Output::kAnomalyScore);
    std::fprintf(out, ",%d,%d\n", run.condition[i] ? 1 : 0,
                 run.firing[i] ? 1 : 0);
  }
}

void WriteEpisodesHeader(FILE* out) {
  std::fputs(
      "file,series,active_since_ms,fired_at_ms,resolved_at_ms,outcome\n",
      out);
}

void WriteEpisodeRows(const FileRuns& file, FILE* out) {
  for (size_t r = 0; r < file.runs.size(); ++r) {
    const SeriesRun& run = file.runs[r];
    for (size_t e = 0; e < run.episodes.size(); ++e) {
      const AlertEpisode& ep = run.episodes[e];
      std::fprintf(out, "%s,\"%s\",%lld,%lld,", file.file.c_str(),
                   run.name.c_str(), static_cast<long long>(ep.active_since_ms),
                   static_cast<long long>(ep.fired_at_ms));
      if (ep.resolved_at_ms != kStillFiring) {
        std::fprintf(out, "%lld", static_cast<long long>(ep.resolved_at_ms));
      }
      const std::string_view outcome =
          file.scored ? OutcomeName(file.outcomes[r][e]) : "unscored";
      std::fprintf(out, ",%.*s\n", static_cast<int>(outcome.size()),
                   outcome.data());
    }
  }
}

Status PlotSeries(const SeriesRun& run, const std::vector<TimeWindow>& windows,
                  const std::string& title, const std::string& png_path) {
  const std::string data_path = png_path + ".data.tmp";
  const std::string script_path = png_path + ".gp.tmp";
  FILE* data = std::fopen(data_path.c_str(), "w");
  if (data == nullptr) {
    return Status::InvalidArgument(data_path + ": cannot create");
  }
  using ewma::Output;
  double low = std::numeric_limits<double>::infinity();
  double high = -low;
  for (size_t i = 0; i < run.timestamps_ms.size(); ++i) {
    const ewma::DerivedValues& d = run.derived[i];
    auto col = [&](Output o) {
      return d.has(o) && !d.stale ? d.get(o) : std::nan("");
    };
    std::fprintf(data, "%.3f %.17g %.17g %.17g %.17g\n",
                 static_cast<double>(run.timestamps_ms[i]) / 1000.0,
                 run.values[i], col(Output::kEwma),
                 col(Output::kUpperThreshold), col(Output::kLowerThreshold));
    low = std::min(low, run.values[i]);
    high = std::max(high, run.values[i]);
  }
  std::fclose(data);
  if (!(high > low)) high = low + 1;
  const double span = high - low;
  // The episodes as bars in a strip below the data.
  const double bar_low = low - 0.12 * span;
  const double bar_high = low - 0.04 * span;

  FILE* script = std::fopen(script_path.c_str(), "w");
  if (script == nullptr) {
    std::remove(data_path.c_str());
    return Status::InvalidArgument(script_path + ": cannot create");
  }
  std::fprintf(script,
               "set terminal pngcairo size 1600,600 noenhanced\n"
               "set output '%s'\n"
               "set title '%s'\n"
               "set datafile missing 'nan'\n"
               "set xdata time\nset timefmt '%%s'\nset format x '%%m-%%d'\n"
               "set key top left\nset grid\n"
               "set yrange [%.17g:%.17g]\n",
               png_path.c_str(), title.c_str(), bar_low - 0.02 * span,
               high + 0.1 * span);
  if (!run.timestamps_ms.empty()) {
    std::fprintf(script, "set xrange [%.3f:%.3f]\n",
                 static_cast<double>(run.timestamps_ms.front()) / 1000.0,
                 static_cast<double>(run.timestamps_ms.back()) / 1000.0);
  }
  int object = 1;
  int label = 1;
  for (const TimeWindow& w : windows) {
    std::fprintf(script,
                 "set object %d rect from %.3f, graph 0 to %.3f, graph 1 "
                 "fc rgb '#f4c7c3' fs solid 0.5 noborder behind\n",
                 object++, static_cast<double>(w.start_ms) / 1000.0,
                 static_cast<double>(w.end_ms) / 1000.0);
    // Alternate heights, so the labels of neighbouring windows do not
    // overlap.
    std::fprintf(script,
                 "set label %d ' labelled window' at %.3f, graph %.2f "
                 "font ',9'\n",
                 label, static_cast<double>(w.start_ms) / 1000.0,
                 label % 2 == 1 ? 0.97 : 0.93);
    ++label;
  }
  const int64_t last_ms =
      run.timestamps_ms.empty() ? 0 : run.timestamps_ms.back();
  for (const AlertEpisode& ep : run.episodes) {
    const int64_t end =
        ep.resolved_at_ms == kStillFiring ? last_ms : ep.resolved_at_ms;
    // At least an hour wide, so a short episode stays visible.
    const int64_t shown_end = std::max(end, ep.fired_at_ms + 3'600'000);
    std::fprintf(script,
                 "set object %d rect from %.3f, %.17g to %.3f, %.17g "
                 "fc rgb '#d62728' fs solid 1.0 noborder front\n",
                 object++, static_cast<double>(ep.fired_at_ms) / 1000.0,
                 bar_low, static_cast<double>(shown_end) / 1000.0, bar_high);
  }
  std::fprintf(script,
               "set label %d 'alert firing' at graph 0.005, first %.17g "
               "font ',9' tc rgb '#d62728'\n",
               label, (bar_low + bar_high) / 2);
  std::fprintf(script,
               "plot '%s' using 1:2 with lines lc rgb '#1f77b4' lw 1 title "
               "'value', \\\n"
               "  '' using 1:3 with lines lc rgb '#2ca02c' lw 1.5 title "
               "'ewma', \\\n"
               "  '' using 1:4 with lines lc rgb '#ff7f0e' lw 1.5 title "
               "'upper threshold', \\\n"
               "  '' using 1:5 with lines lc rgb '#9467bd' lw 1 dt 2 title "
               "'lower threshold'\n",
               data_path.c_str());
  std::fclose(script);
  const std::string command = "gnuplot '" + script_path + "'";
  const int rc = std::system(command.c_str());
  std::remove(data_path.c_str());
  std::remove(script_path.c_str());
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    return Status::Unavailable(
        "gnuplot failed (is the Debian package gnuplot installed?): exit " +
        std::to_string(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1));
  }
  return Status::Ok();
}

}  // namespace promewma::backtest
