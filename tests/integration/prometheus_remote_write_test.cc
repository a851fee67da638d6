// End to end with the real peers: node_exporter is scraped by Prometheus
// 2.42, a recording rule turns its counters into `cpu_utilization`, and
// Prometheus' own remote-write client sends that series (and only that,
// through write_relabel_configs as in the README) to promewma. The test
// then recomputes the EWMA from the raw samples Prometheus stored, read
// back through Prometheus' query API, and compares it with what promewma
// exposes on /federate.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "ewma/series_estimator.h"
#include "testing/peers.h"
#include "testing/remote_write.h"

namespace promewma {
namespace {

using namespace std::chrono_literals;
using testing::ExposedSample;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_CASE("Prometheus 2.42 remote-writes node_exporter CPU into promewma") {
  auto node = testing::StartNodeExporter(
      {"--collector.disable-defaults", "--collector.cpu"});
  testing::PromewmaOptions options;
  options.config = R"(
ewma:
  span: 10
  min_samples: 3
rules:
  - match: '{__name__="cpu_utilization",job="node"}'
)";
  auto promewma = testing::StartPromewma(options);
  testing::NodeToPromewmaConfig config;
  config.queue_config = "{batch_send_deadline: 1s, min_backoff: 100ms}";
  config.keep = "cpu_utilization";
  config.extra = "rule_files: [rules.yml]\n";
  auto prometheus = testing::StartPrometheus(
      testing::PrometheusConfig(*node, *promewma, config), {},
      {{"rules.yml", R"(
groups:
  - name: cpu
    interval: 1s
    rules:
      - record: cpu_utilization
        expr: 100 * (1 - avg by (instance, job) (rate(node_cpu_seconds_total{mode="idle"}[4s])))
)"}});
  // Wait (bounded) until promewma exposes an upper threshold: that takes
  // min_samples + 1 rule evaluations.
  const testing::LabelSet series = {{"instance", node->address()},
                                    {"job", "node"}};
  std::vector<ExposedSample> derived;
  std::optional<ExposedSample> upper;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    derived = promewma->Scrape(
        testing::FederatePath({"{__name__=~\"cpu_utilization:.*\"}"}));
    upper =
        testing::FindSample(derived, "cpu_utilization:upper_threshold", series);
    if (upper) break;
    std::this_thread::sleep_for(500ms);
  }
  INFO("promewma stderr:\n"
       << promewma->StderrTail() << "\nprometheus stderr tail:\n"
       << prometheus->StderrTail());
  REQUIRE(upper);
  const std::optional<ExposedSample> exposed_ewma =
      testing::FindSample(derived, "cpu_utilization:ewma", series);
  REQUIRE(exposed_ewma);
  // Both are the latest derived values of one input sample.
  REQUIRE(exposed_ewma->timestamp_ms);
  REQUIRE(upper->timestamp_ms == exposed_ewma->timestamp_ms);
  const int64_t latest_ms = *exposed_ewma->timestamp_ms;
  // Only the kept series arrived, and every write was accepted.
  const std::vector<ExposedSample> metrics = promewma->Scrape();
  const std::optional<ExposedSample> ignored =
      testing::FindSample(metrics, "promewma_series_ignored");
  REQUIRE(ignored);
  REQUIRE(ignored->value == 0);
  double accepted = 0;
  for (const ExposedSample& s :
       testing::SamplesNamed(metrics, "promewma_http_requests_total")) {
    if (s.labels.at("handler") != "write") continue;
    INFO("write requests answered " << s.labels.at("code"));
    if (s.labels.at("code") == "204") {
      accepted = s.value;
    } else {
      REQUIRE(s.value == 0);
    }
  }
  REQUIRE(accepted > 0);

  // The raw samples as Prometheus stored them, up to promewma's latest one.
  httplib::Client prom("127.0.0.1", prometheus->port());
  const std::string at = std::to_string(latest_ms / 1000.0);
  auto q = prom.Get(std::string("/api/v1/query?query=") +
                    "cpu_utilization%5B10m%5D" + "&time=" + at);
  REQUIRE(q);
  REQUIRE(q->status == 200);
  auto body = nlohmann::json::parse(q->body);
  REQUIRE(body["data"]["result"].size() == 1);
  std::vector<std::pair<int64_t, double>> raw;
  for (const auto& v : body["data"]["result"][0]["values"]) {
    const double seconds = v[0];
    const std::string value = v[1];
    const int64_t ts = std::llround(seconds * 1000);
    if (ts <= latest_ms) raw.push_back({ts, std::stod(value)});
  }
  REQUIRE(raw.size() >= 4);
  REQUIRE(raw.back().first == latest_ms);

  ewma::EstimatorParams params;
  params.min_samples = 3;
  ewma::EstimatorState state;
  ewma::DerivedValues out;
  for (const auto& [ts, v] : raw)
    ewma::UpdateEstimator(params, &state, ts, v, &out);
  // /federate prints the shortest text that parses back to the same double;
  // the raw values come back through Prometheus' JSON, which does too.
  REQUIRE(exposed_ewma->value == out.get(ewma::Output::kEwma));
  REQUIRE(out.has(ewma::Output::kUpperThreshold));
  REQUIRE(upper->value == out.get(ewma::Output::kUpperThreshold));

  REQUIRE(promewma->Stop() == 0);
}

// The number of write requests promewma answered with each code.
std::map<std::string, double> WriteAnswers(const testing::Peer& promewma) {
  std::map<std::string, double> out;
  for (const ExposedSample& s : testing::SamplesNamed(
           promewma.Scrape(), "promewma_http_requests_total")) {
    if (s.labels.at("handler") == "write") out[s.labels.at("code")] += s.value;
  }
  return out;
}

// Prometheus 2.42's remote-write sender, after a restart, replays its WAL
// only to rebuild its series references: it sends samples newer than its
// own start (storage/remote WAL watcher), and at SIGTERM it flushes what
// it had read. So a restart is a gap in the scrapes, on both sides, and
// no sample in between may be lost or refused.
TEST_CASE(
    "Prometheus 2.42 stopped mid-stream and started again on its TSDB: every "
    "write gets a 2xx and promewma holds the samples Prometheus holds") {
  auto node = testing::StartNodeExporter(
      {"--collector.disable-defaults", "--collector.cpu"});
  testing::PromewmaOptions options;
  options.config = R"(
rules:
  - match: '{__name__="node_cpu_seconds_total",job="node"}'
)";
  auto promewma = testing::StartPromewma(options);
  testing::NodeToPromewmaConfig config;
  config.queue_config = "{batch_send_deadline: 1s, min_backoff: 100ms}";
  config.keep = "node_cpu_seconds_total";  // a few series a CPU
  auto prometheus =
      testing::StartPrometheus(testing::PrometheusConfig(*node, *promewma,
                                                         config));
  const int64_t start_ms = NowMs();
  auto received = [&] {
    return promewma->MetricValue("promewma_write_samples_received_total");
  };
  auto wait_for_more_than = [&](double n) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (received() <= n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(200ms);
    }
    return received();
  };
  REQUIRE(wait_for_more_than(0) > 0);
  std::this_thread::sleep_for(5s);  // mid-stream

  REQUIRE(prometheus->Stop() == 0);  // SIGTERM
  const double before_restart = received();
  const int64_t stopped_ms = NowMs();
  std::this_thread::sleep_for(2s);
  prometheus->Start();  // the same TSDB directory and port
  REQUIRE(wait_for_more_than(before_restart) > before_restart);
  std::this_thread::sleep_for(5s);
  INFO("promewma stderr:\n"
       << promewma->StderrTail() << "\nprometheus stderr tail:\n"
       << prometheus->StderrTail());

  // Every request of both runs was applied.
  const std::map<std::string, double> answers = WriteAnswers(*promewma);
  for (const auto& [code, n] : answers) {
    INFO("write requests answered " << code << ": " << n);
    REQUIRE(code[0] == '2');
  }
  REQUIRE(answers.count("204"));
  // Prometheus' count of the second run agrees (its remote_name label is
  // a hash of the config, so the one queue is found by name alone).
  const std::vector<ExposedSample> failed = testing::SamplesNamed(
      prometheus->Scrape(), "prometheus_remote_storage_samples_failed_total");
  REQUIRE(failed.size() == 1);
  REQUIRE(failed[0].value == 0);

  // One series, as promewma stores it (remote read) and as Prometheus
  // does (its query API), up to the latest sample promewma has.
  const std::vector<std::pair<std::string, std::string>> matchers = {
      {"__name__", "node_cpu_seconds_total"}, {"cpu", "0"}, {"mode", "idle"}};
  const std::vector<std::pair<int64_t, double>> stored =
      testing::RemoteReadSeries(promewma->port(), matchers,
                                start_ms - 60 * 1000, NowMs());
  REQUIRE(!stored.empty());
  const int64_t latest_ms = stored.back().first;
  httplib::Client prom("127.0.0.1", prometheus->port());
  auto q = prom.Post(
      "/api/v1/query",
      httplib::Params{
          {"query", "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}[10m]"},
          {"time", std::to_string(latest_ms / 1000.0)}});
  REQUIRE(q);
  REQUIRE(q->status == 200);
  auto body = nlohmann::json::parse(q->body);
  REQUIRE(body["data"]["result"].size() == 1);
  std::vector<std::pair<int64_t, double>> held;
  for (const auto& v : body["data"]["result"][0]["values"]) {
    const int64_t ts = std::llround(v[0].get<double>() * 1000);
    if (ts <= latest_ms) held.push_back({ts, std::stod(v[1].get<std::string>())});
  }
  INFO(held.size() << " samples in Prometheus, " << stored.size()
                   << " in promewma");
  REQUIRE(held == stored);
  // The range spans the restart: samples on both sides of the stop.
  REQUIRE(held.front().first < stopped_ms);
  REQUIRE(held.back().first > stopped_ms + 2000);

  REQUIRE(promewma->Stop() == 0);
}

}  // namespace
}  // namespace promewma
