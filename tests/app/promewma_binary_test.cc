// The real promewma binary: command line, config checking, serving, and a
// clean exit on SIGTERM.

#include <httplib.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/snappy_block.h"
#include "ewma/series_estimator.h"
#include "promewma/version.h"
#include "testing/peers.h"
#include "testing/remote_write.h"

namespace promewma::app {
namespace {

using testing::RunCommand;
using testing::TempDir;

const std::string kBinary = testing::PromewmaBinary();

// One log line read back as logfmt: its keys in order and their values
// unquoted. nullopt when the line is not logfmt (a bare word, an
// unterminated quote, an unknown escape).
struct LogfmtLine {
  std::vector<std::string> keys;
  std::map<std::string, std::string> values;
};

std::optional<LogfmtLine> ParseLogfmt(std::string_view line) {
  LogfmtLine parsed;
  size_t i = 0;
  while (i < line.size()) {
    const size_t eq = line.find('=', i);
    if (eq == std::string_view::npos || eq == i) return std::nullopt;
    std::string key(line.substr(i, eq - i));
    if (key.find_first_of(" \"") != std::string::npos) return std::nullopt;
    i = eq + 1;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      for (++i;; ++i) {
        if (i >= line.size()) return std::nullopt;
        if (line[i] == '"') break;
        if (line[i] != '\\') {
          value.push_back(line[i]);
          continue;
        }
        if (++i >= line.size()) return std::nullopt;
        switch (line[i]) {
          case '"': value.push_back('"'); break;
          case '\\': value.push_back('\\'); break;
          case 'n': value.push_back('\n'); break;
          case 'r': value.push_back('\r'); break;
          case 't': value.push_back('\t'); break;
          case 'u':  // \u00XX, a control byte
            if (i + 4 >= line.size()) return std::nullopt;
            value.push_back(static_cast<char>(
                std::stoi(std::string(line.substr(i + 1, 4)), nullptr, 16)));
            i += 4;
            break;
          default: return std::nullopt;
        }
      }
      ++i;  // the closing quote
    } else {
      const size_t end = std::min(line.find(' ', i), line.size());
      value = std::string(line.substr(i, end - i));
      i = end;
    }
    if (i < line.size() && line[i++] != ' ') return std::nullopt;
    parsed.keys.push_back(key);
    parsed.values[key] = value;
  }
  return parsed;
}

// Every line of `log` parsed; a line that is not logfmt fails the test.
std::vector<LogfmtLine> ParseLog(const std::string& log) {
  std::vector<LogfmtLine> lines;
  size_t start = 0;
  while (start < log.size()) {
    const size_t end = std::min(log.find('\n', start), log.size());
    const std::string_view line(log.data() + start, end - start);
    INFO(line);
    std::optional<LogfmtLine> parsed = ParseLogfmt(line);
    REQUIRE(parsed);
    lines.push_back(std::move(*parsed));
    start = end + 1;
  }
  return lines;
}

// The first line of `component` with `msg`, or nullptr.
const LogfmtLine* FindLine(const std::vector<LogfmtLine>& lines,
                           const std::string& component,
                           const std::string& msg) {
  for (const LogfmtLine& l : lines) {
    if (l.values.at("component") == component && l.values.at("msg") == msg) {
      return &l;
    }
  }
  return nullptr;
}

TEST_CASE("the logfmt reader of these tests unquotes what promewma quotes") {
  std::optional<LogfmtLine> l = ParseLogfmt(
      "ts=1 level=warn msg=\"two words\" err=\"a \\\"b\\\" \\\\ c\\nd\\u0007\" n=3");
  REQUIRE(l);
  CHECK(l->keys == std::vector<std::string>{"ts", "level", "msg", "err", "n"});
  CHECK(l->values.at("msg") == "two words");
  CHECK(l->values.at("err") == "a \"b\" \\ c\nd\a");
  CHECK(l->values.at("n") == "3");
  CHECK_FALSE(ParseLogfmt("ts=1 free text"));
  CHECK_FALSE(ParseLogfmt("msg=\"open"));
}

TEST_CASE("version and help flags") {
  TempDir dir;
  std::string out, err;
  REQUIRE(RunCommand({kBinary, "--version"}, dir.path(), &out, &err) == 0);
  REQUIRE(out == std::string("promewma ") + kVersion + "\n");
  REQUIRE(RunCommand({kBinary, "--help"}, dir.path(), &out, &err) == 0);
  REQUIRE(out.find("--check-config") != std::string::npos);
}

TEST_CASE("check-config accepts a good file and explains a bad one") {
  TempDir dir;
  std::string out, err;
  const std::string good = dir.WriteFile("good.yml", R"(
ewma:
  span: 20
rules:
  - match: '{__name__="cpu_utilization",job=~"node|vm"}'
    k: 4
)");
  REQUIRE(RunCommand({kBinary, "--check-config", good}, dir.path(), &out,
                     &err) == 0);
  REQUIRE(out == good + ": valid (1 rules)\n");

  const std::string bad = dir.WriteFile("bad.yml", "ewma:\n  spam: 3\n");
  REQUIRE(RunCommand({kBinary, "--check-config", bad}, dir.path(), &out,
                     &err) == 1);
  REQUIRE(err == bad + ": ewma.spam: unknown key\n");

  REQUIRE(RunCommand({kBinary, "--check-config", dir.path() + "/missing.yml"},
                     dir.path(), &out, &err) == 1);
  REQUIRE(err.find("missing.yml") != std::string::npos);
  REQUIRE(std::count(err.begin(), err.end(), '\n') == 1);
}

TEST_CASE("bad flags and a bad config file stop startup with one line") {
  TempDir dir;
  std::string out, err;
  REQUIRE(RunCommand({kBinary, "--log-level", "loud"}, dir.path(), &out,
                     &err) != 0);
  REQUIRE(err.find("--log-level") != std::string::npos);
  const std::string bad = dir.WriteFile("bad.yml", "listen: nowhere\n");
  REQUIRE(RunCommand({kBinary, "--config", bad}, dir.path(), &out, &err) == 1);
  REQUIRE(err == bad + ": listen: expected HOST:PORT, got \"nowhere\"\n");
}

TEST_CASE("a port in use is reported, not crashed on") {
  auto first = testing::StartPromewma();
  TempDir dir;
  std::string out, err;
  REQUIRE(RunCommand({kBinary, "--listen", first->address(), "--data-dir",
                      dir.path() + "/data"},
                     dir.path(), &out, &err) == 1);
  REQUIRE(err.find("cannot listen on " + first->address()) !=
          std::string::npos);
  REQUIRE(first->Stop() == 0);
}

TEST_CASE("serves remote write and /metrics, exits 0 on SIGTERM") {
  testing::PromewmaOptions options;
  options.config = R"(
ewma:
  span: 10
  min_samples: 3
  outputs: [ewma, upper_threshold, lower_threshold]
rules:
  - match: cpu_utilization
)";
  options.args = {"--log-level", "debug"};
  auto p = testing::StartPromewma(options);

  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 0; i < 6; ++i) samples.push_back({1000 * i, 50.0 + i});
  const std::string body =
      codec::CompressSnappyBlock(testing::SerializeWriteRequest(
          {{{{"__name__", "cpu_utilization"}, {"instance", "vm-1"}}, samples},
           {{{"__name__", "memory"}, {"instance", "vm-1"}}, samples}}));
  httplib::Client c("127.0.0.1", p->port());
  auto r = c.Post("/api/v1/write", {{"Content-Encoding", "snappy"}}, body,
                  "application/x-protobuf");
  REQUIRE(r);
  REQUIRE(r->status == 204);

  // The derived values are the estimator's for the config above.
  ewma::EstimatorParams params;
  params.min_samples = 3;
  params.outputs = ewma::OutputBit(ewma::Output::kEwma) |
                   ewma::OutputBit(ewma::Output::kUpperThreshold) |
                   ewma::OutputBit(ewma::Output::kLowerThreshold);
  ewma::EstimatorState state;
  ewma::DerivedValues want;
  for (const auto& [t, v] : samples)
    ewma::UpdateEstimator(params, &state, t, v, &want);
  REQUIRE(want.has(ewma::Output::kLowerThreshold));

  const std::vector<testing::ExposedSample> derived =
      p->Scrape(testing::FederatePath({"{__name__=~\"(cpu_utilization|memory):.*\"}"}));
  const std::vector<testing::ExposedSample> m = p->Scrape();
  const testing::LabelSet vm1 = {{"instance", "vm-1"}};
  for (const auto& [name, output] :
       {std::pair{"cpu_utilization:ewma", ewma::Output::kEwma},
        {"cpu_utilization:upper_threshold", ewma::Output::kUpperThreshold},
        {"cpu_utilization:lower_threshold", ewma::Output::kLowerThreshold}}) {
    INFO(name);
    const std::optional<testing::ExposedSample> got =
        testing::FindSample(derived, name, vm1);
    REQUIRE(got);
    // /federate prints the shortest text that parses back exactly.
    REQUIRE(got->value == want.get(output));
    REQUIRE(got->timestamp_ms == samples.back().first);
  }
  // No rule matches memory: it derives nothing and is counted.
  REQUIRE(testing::SamplesNamed(derived, "memory:ewma").empty());
  // /metrics is promewma's own health: no series of its input.
  REQUIRE(testing::SamplesNamed(m, "cpu_utilization:ewma").empty());
  REQUIRE(p->MetricValue("promewma_write_samples_dropped_total",
                         {{"reason", "unmatched"}}) == 6);
  REQUIRE(testing::SamplesNamed(m, "promewma_build_info").size() == 1);
  REQUIRE(testing::SamplesNamed(m, "promewma_build_info")[0].labels.at(
              "version") == kVersion);
  // One request logged: its body and a 21-byte record header.
  REQUIRE(p->MetricValue("promewma_request_log_segments") == 1);
  REQUIRE(p->MetricValue("promewma_request_log_bytes") == 21 + body.size());
  // The data dir's free space, and the default reserve it is held to.
  REQUIRE(p->MetricValue("promewma_disk_free_bytes") > 0);
  REQUIRE(p->MetricValue("promewma_disk_min_free_bytes") == 256 << 20);
  REQUIRE(p->MetricValue("promewma_disk_full_refusals_total",
                         {{"operation", "write"}}) == 0);
  const double ewma_before =
      testing::FindSample(derived, "cpu_utilization:ewma", vm1)->value;

  REQUIRE(p->Stop() == 0);
  // Every line is logfmt: ts, level, component and msg first, in that order.
  const std::vector<LogfmtLine> lines = ParseLog(p->Stderr());
  REQUIRE(!lines.empty());
  for (const LogfmtLine& l : lines) {
    REQUIRE(l.keys.size() >= 4);
    REQUIRE(std::vector<std::string>(l.keys.begin(), l.keys.begin() + 4) ==
            std::vector<std::string>{"ts", "level", "component", "msg"});
    REQUIRE_THAT(l.values.at("ts"), Catch::Matches(
        R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"));
  }
  // The start-up line names the port the kernel chose for --listen ...:0.
  const LogfmtLine* listening = FindLine(lines, "main", "listening");
  REQUIRE(listening);
  REQUIRE(listening->values.at("level") == "info");
  REQUIRE(listening->values.at("address") == p->address());
  REQUIRE(listening->values.at("version") == kVersion);
  REQUIRE(FindLine(lines, "main", "shutting down"));
  const LogfmtLine* checkpoint =
      FindLine(lines, "checkpoint", "checkpoint written");
  REQUIRE(checkpoint);
  REQUIRE(checkpoint->values.at("level") == "info");
  REQUIRE(checkpoint->values.at("series") == "1");
  REQUIRE_THAT(checkpoint->values.at("duration"),
               Catch::Matches(R"(\d+\.\d{3}s)"));

  // The shutdown checkpoint leaves nothing to replay, and nothing is lost.
  p->Start();
  const std::optional<testing::ExposedSample> after = testing::FindSample(
      p->Scrape(testing::FederatePath({"cpu_utilization:ewma"})),
      "cpu_utilization:ewma", vm1);
  REQUIRE(after);
  REQUIRE(after->value == ewma_before);
  // The shutdown checkpoint covered the whole log: no segment is left.
  REQUIRE(p->MetricValue("promewma_request_log_segments") == 0);
  REQUIRE(p->MetricValue("promewma_request_log_bytes") == 0);
  REQUIRE(p->Stop() == 0);
  const std::vector<LogfmtLine> restarted = ParseLog(p->Stderr());
  const LogfmtLine* recovered = FindLine(restarted, "recovery", "recovered");
  REQUIRE(recovered);
  REQUIRE(recovered->values.at("checkpoint_series") == "1");
  REQUIRE(recovered->values.at("log_requests") == "0");
}

// Posts `samples` of cpu_utilization{instance="vm-1"} and of
// mem{instance="vm-1"}.
void WriteCpuAndMem(const testing::Peer& p,
                    const std::vector<std::pair<int64_t, double>>& samples) {
  const std::string body =
      codec::CompressSnappyBlock(testing::SerializeWriteRequest(
          {{{{"__name__", "cpu_utilization"}, {"instance", "vm-1"}}, samples},
           {{{"__name__", "mem"}, {"instance", "vm-1"}}, samples}}));
  auto r = p.Client()->Post("/api/v1/write", {{"Content-Encoding", "snappy"}},
                            body, "application/x-protobuf");
  REQUIRE(r);
  REQUIRE(r->status == 204);
}

// The latest :ewma of `metric`{instance="vm-1"} on /federate.
std::optional<double> FederatedEwma(const testing::Peer& p,
                                    const std::string& metric) {
  const std::optional<testing::ExposedSample> got = testing::FindSample(
      p.Scrape(testing::FederatePath({metric + ":ewma"})), metric + ":ewma",
      {{"instance", "vm-1"}});
  if (!got) return std::nullopt;
  return got->value;
}

double EwmaOf(const ewma::EstimatorParams& params,
              const std::vector<std::pair<int64_t, double>>& samples) {
  ewma::EstimatorState state;
  ewma::DerivedValues out;
  for (const auto& [t, v] : samples)
    ewma::UpdateEstimator(params, &state, t, v, &out);
  return out.get(ewma::Output::kEwma);
}

const char kCpuAndMemConfig[] = R"(
ewma:
  span: 10
  outputs: [ewma]
rules:
  - match: cpu_utilization
  - match: mem
)";

TEST_CASE("SIGHUP and POST /-/reload put a new config in force, keeping "
          "unchanged series") {
  testing::PromewmaOptions options;
  options.config = kCpuAndMemConfig;
  options.args = {"--web.enable-lifecycle"};
  auto p = testing::StartPromewma(options);
  REQUIRE(p->MetricValue("promewma_config_last_reload_successful") == 1);

  std::vector<std::pair<int64_t, double>> first, second;
  for (int i = 0; i < 20; ++i) first.push_back({10000 * i, 50.0 + i % 7});
  for (int i = 20; i < 40; ++i) second.push_back({10000 * i, 50.0 + i % 7});
  WriteCpuAndMem(*p, first);

  // cpu keeps its parameters; mem gets alpha 0.5; a rule for disk is new.
  p->WriteFile("promewma.yml", R"(
ewma:
  span: 10
  outputs: [ewma]
rules:
  - match: cpu_utilization
  - match: mem
    alpha: 0.5
  - match: disk
)");
  REQUIRE(kill(p->pid(), SIGHUP) == 0);
  for (int i = 0; i < 100 && p->MetricValue("promewma_config_reloads_total",
                                            {{"result", "success"}}) < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(p->MetricValue("promewma_config_reloads_total",
                         {{"result", "success"}}) == 1);
  WriteCpuAndMem(*p, second);

  ewma::EstimatorParams span10;
  span10.alpha = 2.0 / 11;
  span10.outputs = ewma::OutputBit(ewma::Output::kEwma);
  std::vector<std::pair<int64_t, double>> all = first;
  all.insert(all.end(), second.begin(), second.end());
  // Unchanged: exactly what a run that never reloaded gives.
  REQUIRE(FederatedEwma(*p, "cpu_utilization") == EwmaOf(span10, all));
  // Changed: started afresh at the reload, with the new parameters.
  ewma::EstimatorParams half = span10;
  half.alpha = 0.5;
  REQUIRE(FederatedEwma(*p, "mem") == EwmaOf(half, second));

  // A rule set without mem: mem is dropped; POST answers once in force.
  p->WriteFile("promewma.yml", R"(
ewma:
  span: 10
  outputs: [ewma]
rules:
  - match: cpu_utilization
)");
  auto c = p->Client();
  auto r = c->Post("/-/reload", "", "text/plain");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  REQUIRE(!FederatedEwma(*p, "mem"));
  REQUIRE(FederatedEwma(*p, "cpu_utilization") == EwmaOf(span10, all));
  r = c->Put("/-/reload", "", "text/plain");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  r = c->Get("/-/reload");
  REQUIRE(r);
  REQUIRE(r->status == 405);
  REQUIRE(p->MetricValue("promewma_config_reloads_total",
                         {{"result", "success"}}) == 3);

  // A bad file is refused with its reason; the running config goes on.
  p->WriteFile("promewma.yml", "ewma:\n  span: -3\n");
  r = c->Post("/-/reload", "", "text/plain");
  REQUIRE(r);
  REQUIRE(r->status == 500);
  REQUIRE_THAT(r->body, Catch::Contains("promewma.yml: ewma.span"));
  REQUIRE(r->body.find('\n') == r->body.size() - 1);  // one line
  REQUIRE(p->MetricValue("promewma_config_last_reload_successful") == 0);
  REQUIRE(p->MetricValue("promewma_config_reloads_total",
                         {{"result", "failure"}}) == 1);
  const double last_success = p->MetricValue(
      "promewma_config_last_reload_success_timestamp_seconds");
  REQUIRE(last_success > 1.7e9);
  std::vector<std::pair<int64_t, double>> third = {{400000, 80}};
  WriteCpuAndMem(*p, third);
  all.insert(all.end(), third.begin(), third.end());
  REQUIRE(FederatedEwma(*p, "cpu_utilization") == EwmaOf(span10, all));
  REQUIRE(!FederatedEwma(*p, "mem"));  // the rules without mem still hold

  // A key that needs a restart is kept, and said so; the rest applies.
  p->WriteFile("promewma.yml", R"(
checkpoint_interval: 1h
ewma:
  span: 10
  outputs: [ewma]
rules:
  - match: cpu_utilization
  - match: mem
)");
  r = c->Post("/-/reload", "", "text/plain");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  REQUIRE(p->MetricValue("promewma_config_last_reload_successful") == 1);
  WriteCpuAndMem(*p, {{410000, 80}});
  REQUIRE(FederatedEwma(*p, "mem") == 80);

  REQUIRE(p->Stop() == 0);
  const std::vector<LogfmtLine> lines = ParseLog(p->Stderr());
  const LogfmtLine* refused = FindLine(
      lines, "reload", "configuration not reloaded; the running one is kept");
  REQUIRE(refused);
  REQUIRE(refused->values.at("level") == "error");
  REQUIRE_THAT(refused->values.at("err"), Catch::Contains("ewma.span"));
  const LogfmtLine* restart = FindLine(
      lines, "reload", "changing it needs a restart; the running value is kept");
  REQUIRE(restart);
  REQUIRE(restart->values.at("key") == "checkpoint_interval");
  const LogfmtLine* reloaded =
      FindLine(lines, "reload", "configuration reloaded");
  REQUIRE(reloaded);
  REQUIRE(reloaded->values.at("trigger") == "SIGHUP");
  REQUIRE(reloaded->values.at("series_kept") == "1");
  REQUIRE(reloaded->values.at("series_restarted") == "1");
  // A reload that sealed heads is followed by a checkpoint (and shutdown
  // writes one more), so a crash does not replay the old heads' log under
  // the new parameters.
  const auto checkpoints =
      std::count_if(lines.begin(), lines.end(), [](const LogfmtLine& l) {
        return l.values.at("component") == "checkpoint" &&
               l.values.at("msg") == "checkpoint written";
      });
  REQUIRE(checkpoints >= 2);
}

TEST_CASE("POST /-/reload is refused without --web.enable-lifecycle, "
          "but SIGHUP still reloads") {
  testing::PromewmaOptions options;
  options.config = kCpuAndMemConfig;
  auto p = testing::StartPromewma(options);
  auto r = p->Client()->Post("/-/reload", "", "text/plain");
  REQUIRE(r);
  REQUIRE(r->status == 403);
  REQUIRE_THAT(r->body, Catch::Contains("lifecycle API is not enabled"));
  REQUIRE(p->MetricValue("promewma_config_reloads_total",
                         {{"result", "success"}}) == 0);
  REQUIRE(kill(p->pid(), SIGHUP) == 0);
  for (int i = 0; i < 100 && p->MetricValue("promewma_config_reloads_total",
                                            {{"result", "success"}}) < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(p->MetricValue("promewma_config_reloads_total",
                         {{"result", "success"}}) == 1);
}

TEST_CASE("a reload adds and removes Teams channels") {
  testing::PromewmaOptions options;
  options.config = kCpuAndMemConfig;
  auto p = testing::StartPromewma(options);
  auto c = p->Client();
  // A body that is no Alertmanager payload: 400 from a relay, 404 without.
  auto r = c->Post("/api/v1/notify/msteams/ops", "{}", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 404);
  p->WriteFile("promewma.yml", std::string(kCpuAndMemConfig) + R"(
notify:
  msteams:
    channels:
      ops: {webhook_url: 'http://127.0.0.1:9/workflow'}
)");
  REQUIRE(kill(p->pid(), SIGHUP) == 0);
  for (int i = 0; i < 100 && p->MetricValue("promewma_config_reloads_total",
                                            {{"result", "success"}}) < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  r = c->Post("/api/v1/notify/msteams/ops", "{}", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 400);
  p->WriteFile("promewma.yml", kCpuAndMemConfig);
  REQUIRE(kill(p->pid(), SIGHUP) == 0);
  for (int i = 0; i < 100 && p->MetricValue("promewma_config_reloads_total",
                                            {{"result", "success"}}) < 2;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  r = c->Post("/api/v1/notify/msteams/ops", "{}", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 404);
}

}  // namespace
}  // namespace promewma::app
