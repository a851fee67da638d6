#include "csv2rw/command_line.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "common/one_line.h"
#include "csv2rw/bad_row_log.h"
#include "csv2rw/batch_writer.h"
#include "csv2rw/csv_loader.h"
#include "csv2rw/csv_reader.h"
#include "csv2rw/input_file.h"
#include "csv2rw/live_replay.h"
#include "csv2rw/progress.h"
#include "promewma/version.h"
#include "remote/client_config.h"
#include "remote/remote_write_client.h"

namespace promewma::csv2rw {

namespace {

// Bad rows printed before "... and N more".
constexpr size_t kMaxBadRowsPrinted = 20;

struct Flags {
  std::string path;
  std::string url;
  std::string out_dir;
  bool dry_run = false;
  std::vector<std::string> time_columns;
  std::string value_column;
  std::string time_format = "auto";
  std::string timezone = "UTC";
  std::string delimiter = ",";
  std::string metric = "cpu_utilization";
  std::vector<std::string> labels;         // k=v
  std::vector<std::string> label_columns;  // k=COLUMN
  int64_t batch_size = 500;
  int64_t max_rows_in_memory = static_cast<int64_t>(kDefaultMaxRowsInMemory);
  bool skip_bad_rows = false;
  std::string remote_timeout = "30s";
  std::string max_retry_duration = "5m";
  std::vector<std::string> headers;  // "Name: value"
  std::string bearer_token_file;
  std::string replay;       // --replay SPEED, as given
  double replay_speed = 0;  // parsed by CheckFlags; 0 when not given
  bool loop = false;
  bool shift_to_now = false;
  bool end_at_now = false;
};

bool Replays(const Flags& flags) {
  return flags.replay_speed > 0 || flags.shift_to_now || flags.end_at_now;
}

ReplayOptions MakeReplayOptions(const Flags& flags) {
  ReplayOptions options;
  options.speed = flags.replay_speed;
  options.loop = flags.loop;
  options.shift_to_now = flags.shift_to_now;
  options.end_at_now = flags.end_at_now;
  return options;
}

void PrintLine(const std::string& line) {
  std::fprintf(stderr, "csv2rw: %s\n", line.c_str());
}

int Usage(const std::string& message) {
  PrintLine(message);
  return kExitUsage;
}

// "k=v" -> (k, v). The value may be empty or hold '='.
bool SplitPair(const std::string& text,
               std::pair<std::string, std::string>* out) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *out = {text.substr(0, eq), text.substr(eq + 1)};
  return true;
}

Result<char> ParseDelimiter(const std::string& text) {
  if (text == "\\t" || text == "tab") return '\t';
  if (text.size() != 1 || text[0] == '"' || text[0] == '\n' ||
      text[0] == '\r') {
    return Status::InvalidArgument(
        "--delimiter: expected one character other than a quote or a line "
        "break (or \"tab\"), got \"" +
        EscapeToOneLine(text) + "\"");
  }
  return text[0];
}

Result<std::chrono::milliseconds> ParseDurationFlag(const char* flag,
                                                    const std::string& text,
                                                    bool allow_zero) {
  Result<int64_t> ms = ParseDurationMs(text);
  if (!ms.ok()) {
    return Status::InvalidArgument(std::string(flag) + ": " +
                                   ms.status().message());
  }
  if (*ms < 0 || (*ms == 0 && !allow_zero)) {
    return Status::InvalidArgument(std::string(flag) + ": must be > 0");
  }
  return std::chrono::milliseconds(*ms);
}

// The flag that sets each client key a problem can be about: the client's
// validator names keys as promewma.yml spells them.
constexpr std::pair<std::string_view, std::string_view> kFlagOfKey[] = {
    {"url:", "--url:"},
    {"remote_timeout:", "--remote-timeout:"},
    {"headers.", "--header "},
    {"headers:", "--header:"},
    {"authorization.credentials_file:", "--bearer-token-file:"},
};

// The client config for --url, or why it is wrong.
Result<remote::ClientConfig> MakeClientConfig(const Flags& flags) {
  remote::ClientConfig config;
  config.url = flags.url;
  Result<std::chrono::milliseconds> timeout =
      ParseDurationFlag("--remote-timeout", flags.remote_timeout, false);
  if (!timeout.ok()) return timeout.status();
  config.remote_timeout = *timeout;
  for (const std::string& header : flags.headers) {
    const size_t colon = header.find(':');
    if (colon == std::string::npos) {
      return Status::InvalidArgument(
          "--header: expected \"Name: value\", got \"" +
          EscapeToOneLine(header) + "\"");
    }
    config.headers.emplace_back(
        std::string(TrimBlanks(std::string_view(header).substr(0, colon))),
        std::string(TrimBlanks(std::string_view(header).substr(colon + 1))));
  }
  if (!flags.bearer_token_file.empty()) {
    remote::Authorization& auth = config.authorization.emplace();
    auth.credentials_file = flags.bearer_token_file;  // type Bearer
  }
  if (Status s = remote::ValidateClientConfig(config); !s.ok()) {
    std::string message = s.message();
    for (const auto& [key, flag] : kFlagOfKey) {
      if (message.rfind(key, 0) == 0) {
        message = std::string(flag) + message.substr(key.size());
        break;
      }
    }
    return Status::InvalidArgument(message);
  }
  return config;
}

std::string Seconds(std::chrono::steady_clock::time_point since) {
  char buf[32];
  std::snprintf(
      buf, sizeof(buf), "%.2f s",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
          .count());
  return buf;
}

// What the flags ask for, checked.
struct RunOptions {
  LoadOptions load;
  remote::ClientConfig client;  // with --url
  RetryPolicy retry;                // with --url
};

// Checks every flag before the file is opened; the message names the flag.
// Stores the parsed --replay speed in flags.
Result<RunOptions> CheckFlags(Flags& flags) {
  if (!flags.replay.empty()) {
    char* end = nullptr;
    const double speed = std::strtod(flags.replay.c_str(), &end);
    if (end == flags.replay.c_str() || *end != '\0' || !(speed > 0) ||
        std::isinf(speed)) {
      return Status::InvalidArgument("--replay: must be a number > 0, got \"" +
                                     EscapeToOneLine(flags.replay) + "\"");
    }
    flags.replay_speed = speed;
  }
  if (flags.url.empty() && flags.out_dir.empty() && !flags.dry_run) {
    return Status::InvalidArgument(
        "nothing to do: give --url URL, --out DIR or --dry-run");
  }
  if (flags.loop && flags.replay_speed == 0) {
    return Status::InvalidArgument(
        "--loop: needs --replay SPEED (a loop without pacing never ends)");
  }
  if (flags.replay_speed > 0 && flags.url.empty()) {
    return Status::InvalidArgument("--replay: needs --url URL");
  }
  if (flags.shift_to_now && flags.dry_run) {
    return Status::InvalidArgument("--shift-to-now: needs --url or --out");
  }
  if (flags.end_at_now &&
      (flags.shift_to_now || flags.replay_speed > 0 || flags.dry_run)) {
    return Status::InvalidArgument(
        "--end-at-now: a backfill that ends now, with --url or --out; not "
        "with --shift-to-now, --replay or --dry-run");
  }
  RunOptions options;
  LoadOptions& load = options.load;
  load.columns.time_columns = flags.time_columns;
  load.columns.value_column = flags.value_column;
  for (const std::string& text : flags.label_columns) {
    std::pair<std::string, std::string> pair;
    if (!SplitPair(text, &pair) || pair.second.empty()) {
      return Status::InvalidArgument(
          "--label-column: expected LABEL=COLUMN, got \"" +
          EscapeToOneLine(text) + "\"");
    }
    load.columns.label_columns.push_back(pair);
    load.series.label_column_labels.push_back(pair.first);
  }
  load.series.metric = flags.metric;
  for (const std::string& text : flags.labels) {
    std::pair<std::string, std::string> pair;
    if (!SplitPair(text, &pair)) {
      return Status::InvalidArgument("--label: expected NAME=VALUE, got \"" +
                                     EscapeToOneLine(text) + "\"");
    }
    load.series.labels.push_back(pair);
  }
  if (Status s = ValidateSeriesOptions(load.series); !s.ok()) return s;
  Result<TimeFormat> format = ParseTimeFormat(flags.time_format);
  if (!format.ok()) return format.status();
  load.time_format = *format;
  Result<TimeZone> zone = TimeZone::Load(flags.timezone);
  if (!zone.ok()) return zone.status();
  load.time_zone = *zone;
  Result<char> delimiter = ParseDelimiter(flags.delimiter);
  if (!delimiter.ok()) return delimiter.status();
  load.delimiter = *delimiter;
  if (flags.batch_size < 1) {
    return Status::InvalidArgument("--batch-size: must be at least 1, got " +
                                   std::to_string(flags.batch_size));
  }
  if (flags.max_rows_in_memory < 1) {
    return Status::InvalidArgument(
        "--max-rows-in-memory: must be at least 1, got " +
        std::to_string(flags.max_rows_in_memory));
  }
  load.max_rows_in_memory = static_cast<uint64_t>(flags.max_rows_in_memory);
  if (!flags.url.empty()) {
    Result<remote::ClientConfig> client = MakeClientConfig(flags);
    if (!client.ok()) return client.status();
    options.client = std::move(client).value();
    Result<std::chrono::milliseconds> max_retry = ParseDurationFlag(
        "--max-retry-duration", flags.max_retry_duration, true);
    if (!max_retry.ok()) return max_retry.status();
    options.retry.max_retry_duration = *max_retry;
  }
  return options;
}

// --replay, --loop, --shift-to-now: the rows through ReplayRows, to --url
// or (--shift-to-now alone) to --out. With --loop a line per pass.
Result<std::string> Replay(const Flags& flags, const RunOptions& options,
                           const SeriesBuilder& series) {
  const size_t batch_size = static_cast<size_t>(flags.batch_size);
  const ReplayOptions replay = MakeReplayOptions(flags);
  SystemReplayClock clock;
  ReplayStats stats;
  auto on_pass_end = [&flags](uint64_t pass, const ReplayStats& s) {
    if (!flags.loop) return;
    PrintLine(flags.path + ": pass " + std::to_string(pass + 1) + " sent, " +
              std::to_string(s.samples) + " samples so far");
  };
  if (!flags.out_dir.empty()) {
    Result<std::unique_ptr<DirectorySink>> sink =
        DirectorySink::Open(flags.out_dir);
    if (!sink.ok()) return sink.status();
    Status s = ReplayRows(series, batch_size, replay, &clock, sink->get(),
                          &stats, on_pass_end);
    if (!s.ok()) return s;
    return std::to_string(stats.samples) + " samples written to " +
           flags.out_dir + " (" + std::to_string((*sink)->files()) +
           " files)";
  }
  remote::RemoteWriteClient client(options.client);
  RemoteWriteSink sink(&client, flags.url, options.retry);
  Status s = ReplayRows(series, batch_size, replay, &clock, &sink, &stats,
                        on_pass_end);
  if (!s.ok()) {
    return Status::Unavailable(s.message() + " (" +
                               std::to_string(stats.samples) +
                               " samples were sent)");
  }
  return std::to_string(stats.samples) + " samples sent (" +
         std::to_string(sink.requests()) + " requests, " +
         std::to_string(sink.retries()) + " retries)";
}

// Sends the rows to --url or writes them to --out. On success returns the
// summary's middle part ("4320 samples sent (9 requests, 0 retries)");
// on failure the one-line message.
Result<std::string> Deliver(const Flags& flags, const RunOptions& options,
                            const SeriesBuilder& series,
                            ProgressBar* progress) {
  const uint64_t total = series.rows().size();
  const size_t batch_size = static_cast<size_t>(flags.batch_size);
  uint64_t written = 0;
  if (Replays(flags)) return Replay(flags, options, series);
  if (!flags.out_dir.empty()) {
    Result<std::unique_ptr<DirectorySink>> sink =
        DirectorySink::Open(flags.out_dir);
    if (!sink.ok()) return sink.status();
    progress->Start("writing", total, "samples");
    Status s =
        WriteBatches(series, batch_size, sink->get(), progress, &written);
    progress->Finish();
    if (!s.ok()) return s;
    return std::to_string(written) + " samples written to " + flags.out_dir +
           " (" + std::to_string((*sink)->files()) + " files)";
  }
  remote::RemoteWriteClient client(options.client);
  RemoteWriteSink sink(&client, flags.url, options.retry);
  progress->Start("sending", total, "samples");
  Status s = WriteBatches(series, batch_size, &sink, progress, &written);
  progress->Finish();
  if (!s.ok()) {
    return Status::Unavailable(s.message() + " (" + std::to_string(written) +
                               " of " + std::to_string(total) +
                               " samples were sent)");
  }
  return std::to_string(written) + " samples sent (" +
         std::to_string(sink.requests()) + " requests, " +
         std::to_string(sink.retries()) + " retries)";
}

int Run(Flags& flags) {
  const auto started = std::chrono::steady_clock::now();
  Result<RunOptions> options = CheckFlags(flags);
  if (!options.ok()) return Usage(options.status().message());

  const std::string& path = flags.path;
  Result<std::unique_ptr<InputFile>> input = InputFile::Open(path);
  if (!input.ok()) {
    PrintLine(path + ": " + input.status().message());
    return kExitFailed;
  }
  ProgressBar progress(isatty(STDERR_FILENO) == 1, stderr);
  BadRowLog bad_rows(path, kMaxBadRowsPrinted);
  Result<LoadedCsv> loaded =
      LoadCsv((*input)->contents(), options->load, &bad_rows, &progress);
  progress.Finish();
  if (!loaded.ok()) {
    PrintLine(path + ": " + loaded.status().message());
    return kExitFailed;
  }
  for (const std::string& line : bad_rows.Report()) {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  const SeriesBuilder& series = *loaded->series;
  if (bad_rows.count() > 0 && !flags.skip_bad_rows) {
    std::string message = path + ": " + std::to_string(bad_rows.count()) +
                          (bad_rows.count() == 1 ? " bad row" : " bad rows");
    if (!flags.dry_run) {
      message += std::string(", so nothing was ") +
                 (flags.url.empty() ? "written" : "sent") +
                 " (--skip-bad-rows skips them)";
    }
    PrintLine(message);
    return kExitFailed;
  }
  if (series.rows().empty()) {
    PrintLine(path + ": no valid rows");
    return kExitFailed;
  }

  if (Replays(flags)) {
    // The speed can only be checked against the file's timestamps.
    Result<ReplayTimeline> timeline =
        ReplayTimeline::Make(series.rows(), MakeReplayOptions(flags), 0);
    if (!timeline.ok()) return Usage(timeline.status().message());
  }
  std::string outcome =
      std::to_string(series.rows().size()) + " samples checked (dry run)";
  if (!flags.dry_run) {
    Result<std::string> delivered = Deliver(flags, *options, series, &progress);
    if (!delivered.ok()) {
      PrintLine(delivered.status().message());
      return kExitFailed;
    }
    outcome = std::move(delivered).value();
  }
  PrintLine(path + ": " + std::to_string(loaded->rows_read) + " rows read, " +
            outcome + ", " + std::to_string(series.series_count()) +
            " series, " + std::to_string(bad_rows.count()) +
            " bad rows skipped, " + std::to_string(loaded->exact_duplicates) +
            " duplicate rows dropped, " + Seconds(started));
  return kExitOk;
}

}  // namespace

int RunCsv2rw(int argc, char** argv) {
  CLI::App cli{
      "csv2rw: backfills a CPU history from a CSV file over Prometheus "
      "remote write (to promewma, Prometheus, VictoriaMetrics, ...)"};
  cli.name("csv2rw");
  Flags f;
  cli.add_option("FILE", f.path, "the CSV file (- reads stdin)")->required();
  auto* url = cli.add_option(
      "--url", f.url,
      "remote-write URL to send to, e.g. http://127.0.0.1:9201/api/v1/write");
  auto* out = cli.add_option(
      "--out", f.out_dir,
      "write the request bodies to numbered files in DIR instead (and to "
      "DIR/connection-0.rwb for rwbench write --in DIR)");
  auto* dry = cli.add_flag("--dry-run", f.dry_run,
                           "only read and check the file; send nothing");
  url->excludes(out)->excludes(dry);
  out->excludes(dry);
  cli.add_option("--time-column", f.time_columns,
                 "time column (repeatable: values joined with a space); "
                 "default: Date + Timestamp, or timestamp")
      ->allow_extra_args(false);
  cli.add_option("--value-column", f.value_column,
                 "value column; default: CPU_Utilization, or value");
  cli.add_option("--time-format", f.time_format,
                 "auto, iso8601, epoch_s or epoch_ms")
      ->capture_default_str();
  cli.add_option("--timezone", f.timezone,
                 "zone of times without one: UTC, +02:00, Europe/Berlin, ...")
      ->capture_default_str();
  cli.add_option("--delimiter", f.delimiter, "field separator (or \"tab\")")
      ->capture_default_str();
  cli.add_option("--metric", f.metric, "metric name of the series")
      ->capture_default_str();
  cli.add_option("--label", f.labels,
                 "NAME=VALUE label on every series "
                 "(repeatable)")
      ->allow_extra_args(false);
  cli.add_option("--label-column", f.label_columns,
                 "LABEL=COLUMN: a label per row from a column, one series "
                 "per distinct value (repeatable)")
      ->allow_extra_args(false);
  cli.add_option("--batch-size", f.batch_size, "samples per request")
      ->capture_default_str();
  cli.add_flag("--skip-bad-rows", f.skip_bad_rows,
               "skip (and count) bad rows instead of failing");
  cli.add_option("--max-rows-in-memory", f.max_rows_in_memory,
                 "refuse files with more rows (24 bytes each in memory)")
      ->capture_default_str();
  cli.add_option("--remote-timeout", f.remote_timeout, "per-request timeout")
      ->capture_default_str();
  cli.add_option("--max-retry-duration", f.max_retry_duration,
                 "give up on a batch retried for this long (0: no retries)")
      ->capture_default_str();
  cli.add_option("--header", f.headers,
                 "\"Name: value\" header on every request (repeatable)")
      ->allow_extra_args(false);
  cli.add_option("--bearer-token-file", f.bearer_token_file,
                 "send Authorization: Bearer with the token in FILE");
  cli.add_option("--replay", f.replay,
                 "send the rows live, at SPEED times the pace of their "
                 "timestamps (1: real time), sleeping until each is due");
  cli.add_flag("--loop", f.loop,
               "with --replay: start again at the end, timestamps moved on "
               "by the file's span so that they keep growing");
  cli.add_flag("--shift-to-now", f.shift_to_now,
               "stamp the first row with the current time (with --replay, "
               "each row with the time it is sent)");
  cli.add_flag("--end-at-now", f.end_at_now,
               "shift the timestamps so that the last row is now: backfill a "
               "history that ends now");
  cli.set_version_flag("--version", std::string("csv2rw ") + kVersion);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return cli.exit(e);  // --help, --version
    return Usage(std::string(e.what()) + " (see --help)");
  }
  try {
    return Run(f);
  } catch (const std::exception& e) {
    // bad_alloc for a huge file, or a library throwing where it should not.
    PrintLine(std::string("internal error: ") + e.what());
    return kExitFailed;
  }
}

}  // namespace promewma::csv2rw
