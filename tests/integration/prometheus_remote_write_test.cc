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
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "ewma/series_estimator.h"
#include "testing/peers.h"

namespace promewma {
namespace {

using namespace std::chrono_literals;
using testing::ExposedSample;

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

}  // namespace
}  // namespace promewma
