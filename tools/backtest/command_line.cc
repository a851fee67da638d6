#include "backtest/command_line.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "backtest/nab_score.h"
#include "backtest/replay.h"
#include "backtest/remote_read_source.h"
#include "backtest/report.h"
#include "backtest/rule_file.h"
#include "common/duration.h"
#include "config/config.h"
#include "csv2rw/csv_loader.h"
#include "csv2rw/input_file.h"

namespace promewma::backtest {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Flags {
  std::vector<std::string> files;
  std::string config_path;
  std::string expr = "upper";
  std::string for_duration = "0s";
  std::string keep_firing_for = "0s";
  std::string rule_file;
  std::string alert = "CPUAboveAdaptiveThreshold";
  std::string windows_path;
  std::string windows_key;
  std::string remote_read_url;
  std::string match;
  std::string start = "0";
  std::string end;
  std::string out_series;
  std::string out_episodes;
  std::string plot_path;
  std::string metric = "cpu_utilization";
  std::vector<std::string> time_columns;
  std::string value_column;
};

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Result<std::string> ReadWholeFile(const std::string& path) {
  Result<std::unique_ptr<csv2rw::InputFile>> in =
      csv2rw::InputFile::Open(path);
  if (!in.ok()) return Status::InvalidArgument(path + ": " + in.status().message());
  return std::string((*in)->contents());
}

Result<int64_t> DurationFlag(const char* flag, const std::string& text) {
  Result<int64_t> ms = ParseDurationMs(text);
  if (!ms.ok() || *ms < 0) {
    return Status::InvalidArgument(std::string(flag) +
                                   ": expected a duration like 0s, 10m or 6h, got \"" +
                                   text + "\"");
  }
  return ms;
}

// "2014-02-26 13:45:00" (UTC) or epoch seconds.
Result<int64_t> TimeFlag(const char* flag, const std::string& text) {
  if (!text.empty() &&
      text.find_first_not_of("0123456789") == std::string::npos &&
      text.size() <= 12) {
    return std::stoll(text) * 1000;
  }
  Result<int64_t> ms = ParseNabTime(text);
  if (!ms.ok()) {
    return Status::InvalidArgument(
        std::string(flag) +
        ": expected epoch seconds or a UTC time like 2014-02-26 13:45:00, "
        "got \"" + text + "\"");
  }
  return ms;
}

FILE* OpenOut(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) std::fprintf(stderr, "%s: cannot create\n", path.c_str());
  return f;
}

int Run(const Flags& flags) {
  Result<AlertExpression> expression = ParseAlertExpression(flags.expr);
  Result<int64_t> for_ms = DurationFlag("--for", flags.for_duration);
  Result<int64_t> keep_ms =
      DurationFlag("--keep-firing-for", flags.keep_firing_for);
  for (const Status& s :
       {expression.status(), for_ms.status(), keep_ms.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "backtest: %s\n", s.message().c_str());
      return kExitUsage;
    }
  }
  if (flags.files.empty() == flags.remote_read_url.empty()) {
    std::fprintf(stderr,
                 "backtest: give CSV files or --remote-read-url, not both\n");
    return kExitUsage;
  }
  Result<int64_t> start_ms = TimeFlag("--start", flags.start);
  Result<int64_t> end_ms =
      flags.end.empty() ? Result<int64_t>(int64_t{253402300799000})  // 9999
                        : TimeFlag("--end", flags.end);
  for (const Status& s : {start_ms.status(), end_ms.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "backtest: %s\n", s.message().c_str());
      return kExitUsage;
    }
  }
  if (!flags.remote_read_url.empty() && flags.match.empty()) {
    std::fprintf(stderr, "backtest: --remote-read-url needs --match\n");
    return kExitUsage;
  }
  std::string for_text = flags.for_duration;
  std::string keep_text = flags.keep_firing_for;
  if (!flags.rule_file.empty()) {
    Result<std::string> text = ReadWholeFile(flags.rule_file);
    if (!text.ok()) {
      std::fprintf(stderr, "%s\n", text.status().message().c_str());
      return kExitFailed;
    }
    Result<AlertRule> rule = ParseAlertRule(*text, flags.alert);
    if (!rule.ok()) {
      std::fprintf(stderr, "%s: %s\n", flags.rule_file.c_str(),
                   rule.status().message().c_str());
      return kExitFailed;
    }
    expression = rule->expression;
    for_ms = rule->timing.for_ms;
    keep_ms = rule->timing.keep_firing_for_ms;
    for_text = rule->for_text;
    keep_text = rule->keep_firing_for_text;
  }
  config::Config config;
  if (!flags.config_path.empty()) {
    Result<config::Config> loaded = config::LoadConfigFile(flags.config_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
      return kExitFailed;
    }
    config = std::move(loaded).value();
  }
  head::HeadOptions options;
  options.defaults = config.ewma;
  for (const config::Rule& rule : config.rules) {
    options.rules.push_back(head::SeriesRule{rule.selector, rule.params});
  }
  WindowsByFile windows;
  const bool scoring = !flags.windows_path.empty();
  if (scoring) {
    Result<std::string> text = ReadWholeFile(flags.windows_path);
    if (!text.ok()) {
      std::fprintf(stderr, "%s\n", text.status().message().c_str());
      return kExitFailed;
    }
    Result<WindowsByFile> parsed = ParseNabWindows(*text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s: %s\n", flags.windows_path.c_str(),
                   parsed.status().message().c_str());
      return kExitFailed;
    }
    windows = std::move(parsed).value();
  }

  csv2rw::LoadOptions load;
  load.series.metric = flags.metric;
  load.columns.time_columns = flags.time_columns;
  load.columns.value_column = flags.value_column;
  if (Status s = csv2rw::ValidateSeriesOptions(load.series); !s.ok()) {
    std::fprintf(stderr, "backtest: %s\n", s.message().c_str());
    return kExitUsage;
  }
  const AlertTiming timing{*for_ms, *keep_ms};
  const ScoringProfile profile;

  FILE* series_out = nullptr;
  FILE* episodes_out = nullptr;
  if (!flags.out_series.empty()) {
    if ((series_out = OpenOut(flags.out_series)) == nullptr) return kExitFailed;
    WriteSeriesHeader(series_out);
  }
  if (!flags.out_episodes.empty()) {
    if ((episodes_out = OpenOut(flags.out_episodes)) == nullptr) {
      if (series_out != nullptr) std::fclose(series_out);
      return kExitFailed;
    }
    WriteEpisodesHeader(episodes_out);
  }

  std::printf("alert: %s, for %s, keep_firing_for %s\n",
              AlertExpressionPromQL(*expression, flags.metric).c_str(),
              for_text.c_str(), keep_text.c_str());
  std::printf("%-34s %7s %8s %7s %7s %7s %9s\n", "file", "series", "windows",
              "caught", "false", "missed", "episodes");
  int exit_code = kExitOk;
  int total_windows = 0, total_caught = 0, total_false = 0, total_missed = 0;
  uint64_t total_episodes = 0;
  double total_raw = 0;
  int scored_files = 0;
  bool plotted = false;
  // Each input: a CSV file, or the remote read (one input).
  std::vector<std::string> inputs = flags.files;
  if (!flags.remote_read_url.empty()) inputs.push_back(flags.remote_read_url);
  for (const std::string& path : inputs) {
    const bool remote = path == flags.remote_read_url;
    std::vector<InputSeries> series;
    if (remote) {
      Result<std::vector<InputSeries>> read = ReadRemoteHistory(
          flags.remote_read_url, flags.match, *start_ms, *end_ms,
          std::chrono::seconds(60));
      if (!read.ok()) {
        std::fprintf(stderr, "%s\n", read.status().message().c_str());
        exit_code = kExitFailed;
        continue;
      }
      series = std::move(read).value();
    } else {
      Result<std::string> text = ReadWholeFile(path);
      if (!text.ok()) {
        std::fprintf(stderr, "%s\n", text.status().message().c_str());
        exit_code = kExitFailed;
        continue;
      }
      csv2rw::BadRowLog bad_rows(path);
      csv2rw::ProgressBar progress(false, stderr);
      Result<csv2rw::LoadedCsv> loaded =
          csv2rw::LoadCsv(*text, load, &bad_rows, &progress);
      if (!loaded.ok()) {
        std::fprintf(stderr, "%s: %s\n", path.c_str(),
                     loaded.status().message().c_str());
        exit_code = kExitFailed;
        continue;
      }
      for (const std::string& line : bad_rows.Report()) {
        std::fprintf(stderr, "%s\n", line.c_str());
      }
      series = SeriesOfCsv(*loaded->series);
    }
    Result<std::vector<SeriesRun>> runs =
        ReplaySeries(std::move(series), options, *expression, timing);
    if (!runs.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(),
                   runs.status().message().c_str());
      exit_code = kExitFailed;
      continue;
    }
    // The windows of a remote read are those of --windows-key.
    FileRuns file{remote ? (flags.windows_key.empty() ? std::string("remote-read")
                                                      : flags.windows_key)
                         : BaseName(path),
                  std::move(runs).value(), false, {}, {}};
    uint64_t episodes = 0;
    for (const SeriesRun& run : file.runs) episodes += run.episodes.size();
    total_episodes += episodes;
    auto labelled = windows.find(file.file);
    if (scoring && labelled != windows.end()) {
      file.scored = true;
      file.windows = labelled->second;
      int w = 0, caught = 0, false_episodes = 0, missed = 0;
      for (const SeriesRun& run : file.runs) {
        std::vector<size_t> rows;
        for (const AlertEpisode& ep : run.episodes) {
          rows.push_back(static_cast<size_t>(ep.fired_eval_index));
        }
        FileScore score =
            ScoreDetections(run.timestamps_ms, rows, file.windows, profile);
        file.outcomes.push_back(score.outcomes);
        w += score.windows;
        caught += score.caught;
        false_episodes += score.false_detections;
        missed += score.missed;
        total_raw += score.raw;
      }
      total_windows += w;
      total_caught += caught;
      total_false += false_episodes;
      total_missed += missed;
      ++scored_files;
      std::printf("%-34s %7zu %8d %7d %7d %7d %9llu\n", file.file.c_str(),
                  file.runs.size(), w, caught, false_episodes, missed,
                  static_cast<unsigned long long>(episodes));
    } else {
      std::printf("%-34s %7zu %8s %7s %7s %7s %9llu\n", file.file.c_str(),
                  file.runs.size(), "-", "-", "-", "-",
                  static_cast<unsigned long long>(episodes));
    }
    if (series_out != nullptr) {
      for (const SeriesRun& run : file.runs) WriteSeriesRows(run, series_out);
    }
    if (episodes_out != nullptr) WriteEpisodeRows(file, episodes_out);
    if (!flags.plot_path.empty() && !plotted && !file.runs.empty()) {
      plotted = true;
      const std::string title =
          file.file + ": " + AlertExpressionPromQL(*expression, flags.metric) +
          ", for " + for_text + ", keep_firing_for " + keep_text;
      Status s = PlotSeries(file.runs[0], file.windows, title, flags.plot_path);
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", flags.plot_path.c_str(),
                     s.message().c_str());
        exit_code = kExitFailed;
      }
    }
  }
  if (series_out != nullptr) std::fclose(series_out);
  if (episodes_out != nullptr) std::fclose(episodes_out);
  if (scoring) {
    std::printf(
        "total: %d/%d windows caught, %d false episodes, %d missed, NAB "
        "standard score %.1f (%d labelled files, %llu episodes)\n",
        total_caught, total_windows, total_false, total_missed,
        NabNormalizedScore(total_raw, total_windows, profile), scored_files,
        static_cast<unsigned long long>(total_episodes));
  } else {
    std::printf("total: %llu episodes\n",
                static_cast<unsigned long long>(total_episodes));
  }
  return exit_code;
}

}  // namespace

int RunBacktestCommand(int argc, char** argv) {
  Flags flags;
  CLI::App cli{
      "Replays CSV history through promewma's engine and reports the alert "
      "episodes an alerting rule on its outputs would fire, scored against "
      "labelled anomaly windows."};
  cli.add_option("files", flags.files,
                 "CSV files in csv2rw's formats (Date,Timestamp,CPU_Utilization; "
                 "timestamp,value; or --time-column/--value-column)");
  cli.add_option("--remote-read-url", flags.remote_read_url,
                 "read the history from this remote-read endpoint instead "
                 "(e.g. http://prometheus:9090/api/v1/read)");
  cli.add_option("--match", flags.match,
                 "with --remote-read-url: the series to read, a PromQL "
                 "selector");
  cli.add_option("--start", flags.start,
                 "with --remote-read-url: from this time (epoch seconds or "
                 "UTC 2014-02-26 13:45:00)")
      ->capture_default_str();
  cli.add_option("--end", flags.end,
                 "with --remote-read-url: to this time (default: no end)");
  cli.add_option("--windows-key", flags.windows_key,
                 "with --remote-read-url: the --windows entry (file name) "
                 "its series are scored against");
  cli.add_option("--config", flags.config_path,
                 "promewma config file: its ewma: section and rules: apply "
                 "(default: no file, the built-in defaults)");
  CLI::Option* rule_file = cli.add_option(
      "--rule-file", flags.rule_file,
      "take the expression, for and keep_firing_for of --alert from this "
      "Prometheus rules file (e.g. deploy/prometheus/rules/promewma.rules.yml)");
  cli.add_option("--alert", flags.alert,
                 "the alert of --rule-file")
      ->capture_default_str();
  CLI::Option* expr = cli.add_option("--expr", flags.expr,
                 "alert expression: upper (cpu > cpu:upper_threshold), score "
                 "(cpu:anomaly_score > 1) or two-sided (above upper or below "
                 "lower)")
      ->capture_default_str();
  CLI::Option* for_option =
      cli.add_option("--for", flags.for_duration, "the rule's for")
          ->capture_default_str();
  CLI::Option* keep_option =
      cli.add_option("--keep-firing-for", flags.keep_firing_for,
                     "the rule's keep_firing_for")
          ->capture_default_str();
  rule_file->excludes(expr)->excludes(for_option)->excludes(keep_option);
  cli.add_option("--windows", flags.windows_path,
                 "labelled anomaly windows, NAB's JSON format; files are "
                 "matched by base name");
  cli.add_option("--out-series", flags.out_series,
                 "write the input and derived series here (CSV)");
  cli.add_option("--out-episodes", flags.out_episodes,
                 "write the alert episodes here (CSV)");
  cli.add_option("--plot", flags.plot_path,
                 "draw the first series of the first file into this PNG "
                 "(gnuplot)");
  cli.add_option("--metric", flags.metric, "metric name of the input series")
      ->capture_default_str();
  cli.add_option("--time-column", flags.time_columns,
                 "time column (repeatable, joined with a space)");
  cli.add_option("--value-column", flags.value_column, "value column");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = cli.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  return Run(flags);
}

}  // namespace promewma::backtest
