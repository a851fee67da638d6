// The real promewma binary: command line, config checking, serving, and a
// clean exit on SIGTERM.

#include <httplib.h>

#include <algorithm>
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

}  // namespace
}  // namespace promewma::app
