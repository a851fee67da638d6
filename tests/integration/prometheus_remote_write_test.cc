// End to end with the real peers: node_exporter is scraped by Prometheus
// 2.42, a recording rule turns its counters into `cpu_utilization`, and
// Prometheus' own remote-write client sends that series (and only that,
// through write_relabel_configs as in the README) to promewma. The test
// then recomputes the EWMA from the raw samples Prometheus stored, read
// back through Prometheus' query API, and compares it with what promewma
// exposes on /metrics.
//
// Skipped (with a message) when the Debian peers are not installed.

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "ewma/series_estimator.h"
#include "testing/subprocess.h"

namespace promewma {
namespace {

using namespace std::chrono_literals;
using testing::Subprocess;
using testing::TempDir;

const std::string kPromewma =
    std::string(PROMEWMA_BINARY_DIR) + "/bin/promewma";
const char* kPrometheus = "/usr/bin/prometheus";
const char* kNodeExporter = "/usr/bin/prometheus-node-exporter";

struct ExposedValue {
  double value;
  int64_t timestamp_ms;
};

// `NAME{instance="..."} VALUE TIMESTAMP` lines of a /metrics page.
bool FindExposed(const std::string& metrics, const std::string& name,
                 ExposedValue* out) {
  std::regex line("^" + name + "\\{[^}]*\\} (\\S+) (\\d+)$");
  std::smatch m;
  std::istringstream in(metrics);
  std::string l;
  while (std::getline(in, l)) {
    if (std::regex_match(l, m, line)) {
      out->value = std::stod(m[1]);
      out->timestamp_ms = std::stoll(m[2]);
      return true;
    }
  }
  return false;
}

TEST_CASE("Prometheus 2.42 remote-writes node_exporter CPU into promewma") {
  if (access(kPrometheus, X_OK) != 0 || access(kNodeExporter, X_OK) != 0) {
    WARN(
        "prometheus or prometheus-node-exporter not installed; run "
        "tools/bootstrap.sh");
    return;
  }
  TempDir dir;
  const int node_port = testing::FreeLoopbackPort();
  const int promewma_port = testing::FreeLoopbackPort();
  const int prometheus_port = testing::FreeLoopbackPort();

  Subprocess node(
      {kNodeExporter,
       "--web.listen-address=127.0.0.1:" + std::to_string(node_port),
       "--collector.disable-defaults", "--collector.cpu"},
      dir.path());
  const std::string promewma_config = dir.WriteFile("promewma.yml", R"(
ewma:
  span: 10
  min_samples: 3
rules:
  - match: '{__name__="cpu_utilization",job="node"}'
)");
  Subprocess promewma({kPromewma, "--config", promewma_config, "--listen",
                       "127.0.0.1:" + std::to_string(promewma_port),
                       "--data-dir", dir.path() + "/promewma-data"},
                      dir.path());
  const std::string rules = dir.WriteFile("rules.yml", R"(
groups:
  - name: cpu
    interval: 1s
    rules:
      - record: cpu_utilization
        expr: 100 * (1 - avg by (instance, job) (rate(node_cpu_seconds_total{mode="idle"}[4s])))
)");
  const std::string prometheus_config = dir.WriteFile("prometheus.yml", R"(
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [")" + rules + R"("]
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:)" + std::to_string(node_port) + R"("]
remote_write:
  - url: http://127.0.0.1:)" + std::to_string(promewma_port) + R"(/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
    write_relabel_configs:
      - source_labels: [__name__]
        regex: cpu_utilization
        action: keep
)");
  Subprocess prometheus(
      {kPrometheus, "--config.file=" + prometheus_config,
       "--storage.tsdb.path=" + dir.path() + "/tsdb",
       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
      dir.path());

  REQUIRE(testing::WaitForHttpOk(node_port, "/metrics", 20s));
  REQUIRE(testing::WaitForHttpOk(promewma_port, "/-/ready", 20s));
  REQUIRE(testing::WaitForHttpOk(prometheus_port, "/-/ready", 30s));

  // Wait (bounded) until promewma exposes an upper threshold: that takes
  // min_samples + 1 rule evaluations.
  httplib::Client pw("127.0.0.1", promewma_port);
  ExposedValue exposed_ewma{}, upper{};
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = pw.Get("/metrics");
    if (r && r->status == 200) {
      metrics = r->body;
      if (FindExposed(metrics, "cpu_utilization:upper_threshold", &upper))
        break;
    }
    std::this_thread::sleep_for(500ms);
  }
  INFO("promewma stderr:\n"
       << promewma.Stderr() << "\nprometheus stderr tail:\n"
       << prometheus.Stderr().substr(prometheus.Stderr().size() > 3000
                                         ? prometheus.Stderr().size() - 3000
                                         : 0));
  INFO(metrics);
  REQUIRE(FindExposed(metrics, "cpu_utilization:upper_threshold", &upper));
  REQUIRE(FindExposed(metrics, "cpu_utilization:ewma", &exposed_ewma));
  // Only the kept series arrived: nothing was ignored or refused.
  REQUIRE(metrics.find("promewma_series_ignored 0") != std::string::npos);
  REQUIRE(metrics.find("code=\"400\"") == std::string::npos);
  REQUIRE(metrics.find("code=\"415\"") == std::string::npos);

  // The raw samples as Prometheus stored them, up to promewma's latest one.
  httplib::Client prom("127.0.0.1", prometheus_port);
  const std::string at = std::to_string(exposed_ewma.timestamp_ms / 1000.0);
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
    if (ts <= exposed_ewma.timestamp_ms) raw.push_back({ts, std::stod(value)});
  }
  REQUIRE(raw.size() >= 4);
  REQUIRE(raw.back().first == exposed_ewma.timestamp_ms);

  ewma::EstimatorParams params;
  params.min_samples = 3;
  ewma::EstimatorState state;
  ewma::DerivedValues out;
  for (const auto& [ts, v] : raw)
    ewma::UpdateEstimator(params, &state, ts, v, &out);
  // /metrics prints shortest round-trip doubles, so this is exact in
  // practice; allow 1e-9 relative for the text round trip.
  REQUIRE(exposed_ewma.value ==
          Approx(out.get(ewma::Output::kEwma)).epsilon(1e-9));
  if (upper.timestamp_ms == exposed_ewma.timestamp_ms) {
    REQUIRE(upper.value ==
            Approx(out.get(ewma::Output::kUpperThreshold)).epsilon(1e-9));
  }

  prometheus.Signal(SIGTERM);
  promewma.Signal(SIGTERM);
  node.Signal(SIGTERM);
  REQUIRE(prometheus.Wait(30s) >= 0);
  REQUIRE(promewma.Wait(15s) == 0);
  REQUIRE(node.Wait(10s) >= 0);
}

}  // namespace
}  // namespace promewma
