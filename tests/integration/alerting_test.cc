// The shipped alerting set-up with the real peers: node_exporter scraped by
// Prometheus 2.42 with deploy/prometheus/rules/promewma.rules.yml, the
// recorded CPU remote-written to promewma, the band written back, the
// rules evaluated on it.
//
// Prometheus and promewma each need the other's URL: Prometheus starts
// first with the receiver on, promewma with write-back to it, and then
// Prometheus restarts on its port with the full config.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "testing/peers.h"

namespace promewma {
namespace {

using namespace std::chrono_literals;

constexpr char kCpu[] = "instance:node_cpu_utilisation_percent:rate5m";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The shipped rules file.
std::string ShippedRules() {
  return ReadFile(std::string(PROMEWMA_SOURCE_DIR) +
                  "/deploy/prometheus/rules/promewma.rules.yml");
}

// The value of each series an instant query returns, by the value of
// label `by`; empty when Prometheus does not answer.
std::map<std::string, double> Query(int port, const std::string& query,
                                    const std::string& by = "instance") {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20, 0);
  std::string path = "/api/v1/query?query=";
  for (unsigned char ch : query) {  // percent-encode all but unreserved
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      path += static_cast<char>(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", ch);
      path += buf;
    }
  }
  auto r = c.Get(path);
  std::map<std::string, double> out;
  if (!r || r->status != 200) return out;
  const nlohmann::json body = nlohmann::json::parse(r->body);
  for (const auto& s : body["data"]["result"]) {
    out[s["metric"].value(by, "")] =
        std::stod(s["value"][1].get<std::string>());
  }
  return out;
}

// Prometheus' full config: scrapes node_exporter and promewma every
// second, evaluates the shipped rules every second, remote-writes the
// recorded CPU to promewma as deploy/prometheus/prometheus.yml does.
std::string PrometheusConfig(const testing::Peer& node,
                             const testing::Peer& promewma,
                             const std::string& alertmanager_address) {
  std::string config = R"(
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [promewma.rules.yml]
storage:
  tsdb:
    out_of_order_time_window: 1h
scrape_configs:
  - job_name: node
    static_configs:
      - targets: [")" + node.address() + R"("]
  - job_name: promewma
    static_configs:
      - targets: [")" + promewma.address() + R"("]
remote_write:
  - url: )" + promewma.url() + R"(/api/v1/write
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 100ms
    write_relabel_configs:
      - source_labels: [__name__]
        regex: instance:node_cpu_utilisation_percent:rate5m
        action: keep
)";
  if (!alertmanager_address.empty()) {
    config += R"(
alerting:
  alertmanagers:
    - static_configs:
        - targets: [")" + alertmanager_address + R"("]
)";
  }
  return config;
}

TEST_CASE("node_exporter's CPU, recorded by the shipped rule, reaches "
          "promewma and its thresholds come back into Prometheus") {
  auto node = testing::StartNodeExporter(
      {"--collector.disable-defaults", "--collector.cpu"});
  auto prometheus = testing::StartPrometheus(
      "global: {scrape_interval: 1m}\n", {"--web.enable-remote-write-receiver"},
      {{"promewma.rules.yml", ShippedRules()}});
  testing::PromewmaOptions options;
  options.config = R"(
ewma:
  span: 10
  min_samples: 3
write_back:
  - url: )" + prometheus->url() + R"(/api/v1/write
    queue_config:
      batch_send_deadline: 100ms
)";
  auto promewma = testing::StartPromewma(options);
  prometheus->Stop();
  prometheus->WriteFile("prometheus.yml",
                        PrometheusConfig(*node, *promewma, ""));
  prometheus->Start();

  // Bounded wait for the band of node_exporter's instance, written back
  // by promewma, queried from Prometheus: the recorded series needs two
  // scrapes, the threshold min_samples recorded samples after it.
  const std::string upper = std::string(kCpu) + ":upper_threshold";
  std::map<std::string, double> cpu, ewma, thresholds;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    thresholds = Query(prometheus->port(), upper);
    if (thresholds.count(node->address()) > 0) break;
    std::this_thread::sleep_for(500ms);
  }
  INFO(promewma->StderrTail());
  REQUIRE(thresholds.count(node->address()) == 1);
  cpu = Query(prometheus->port(), kCpu);
  ewma = Query(prometheus->port(), std::string(kCpu) + ":ewma");
  REQUIRE(cpu.count(node->address()) == 1);
  REQUIRE(ewma.count(node->address()) == 1);
  CHECK(cpu[node->address()] >= 0);
  CHECK(cpu[node->address()] <= 100);
  CHECK(ewma[node->address()] >= 0);
  CHECK(ewma[node->address()] <= 100);

  // promewma got the recorded series and only it (write_relabel_configs),
  // under its node_exporter labels.
  const auto federated = promewma->Scrape(
      testing::FederatePath({std::string("{__name__=~\"") + kCpu + ".*\"}"}));
  CHECK(testing::FindSample(federated, kCpu,
                            {{"instance", node->address()}, {"job", "node"}}));
  CHECK(promewma->MetricValue("promewma_series_active") == 1);

  // The shipped pipeline alerts see a healthy pipeline: promewma is up and
  // the band is not stale, so neither fires nor is pending.
  const auto alerts = Query(prometheus->port(), "ALERTS", "alertname");
  CHECK(alerts.count("PromewmaDown") == 0);
  CHECK(alerts.count("PromewmaDerivedSeriesStale") == 0);
  CHECK(Query(prometheus->port(), "up{job=\"promewma\"}")
            .at(promewma->address()) == 1);

  REQUIRE(promewma->Stop() == 0);
}

}  // namespace
}  // namespace promewma
