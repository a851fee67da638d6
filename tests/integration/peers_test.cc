// The peer fixture itself (tests/testing/peers.h): its text-format parser,
// and every peer started on a kernel-chosen port, scraped and stopped.
// vmagent scrapes node_exporter and writes into VictoriaMetrics, so the
// ports each one reports are the ones it serves on.

#include "testing/peers.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>

namespace promewma {
namespace {

using namespace std::chrono_literals;
using testing::ExposedSample;

TEST_CASE(
    "the exposition parser reads names, exact label sets, escapes, "
    "special values and timestamps") {
  const std::vector<ExposedSample> samples = testing::ParseExposition(
      "# HELP up Whether the target is up.\n"
      "# TYPE up gauge\n"
      "up 1\n"
      "up{job=\"a\"} 0\n"
      "up{job=\"a\",instance=\"x\"} 2 1700000000000\n"
      "cpu:ewma{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\",} -1.5e-3\n"
      "vm_app_version{version=\"\", short_version=\"\"} 1\n"
      "\n"
      "nan_value NaN\n"
      "inf_values{sign=\"+\"} +Inf\n"
      "inf_values{sign=\"-\"} -Inf -5\n");
  REQUIRE(samples.size() == 8);
  // Exact label sets: neither a subset nor a superset matches.
  REQUIRE(testing::FindSample(samples, "up")->value == 1);
  REQUIRE(testing::FindSample(samples, "up", {{"job", "a"}})->value == 0);
  const auto both =
      testing::FindSample(samples, "up", {{"job", "a"}, {"instance", "x"}});
  REQUIRE(both);
  REQUIRE(both->value == 2);
  REQUIRE(both->timestamp_ms == 1700000000000);
  REQUIRE_FALSE(testing::FindSample(samples, "up", {{"instance", "x"}}));
  REQUIRE_FALSE(testing::FindSample(samples, "u"));
  REQUIRE(testing::SamplesNamed(samples, "up").size() == 3);

  const auto escaped = testing::FindSample(
      samples, "cpu:ewma", {{"path", "C:\\dir"}, {"msg", "say \"hi\"\nbye"}});
  REQUIRE(escaped);
  REQUIRE(escaped->value == -1.5e-3);
  REQUIRE_FALSE(escaped->timestamp_ms);
  REQUIRE(testing::FindSample(samples, "vm_app_version",
                              {{"version", ""}, {"short_version", ""}}));
  REQUIRE(std::isnan(testing::FindSample(samples, "nan_value")->value));
  REQUIRE(testing::FindSample(samples, "inf_values", {{"sign", "+"}})->value ==
          INFINITY);
  const auto minus =
      testing::FindSample(samples, "inf_values", {{"sign", "-"}});
  REQUIRE(minus->value == -INFINITY);
  REQUIRE(minus->timestamp_ms == -5);
}

TEST_CASE(
    "every peer starts on a port of its own, serves its metrics and "
    "stops") {
  auto node = testing::StartNodeExporter(
      {"--collector.disable-defaults", "--collector.cpu"});
  auto vm = testing::StartVictoriaMetrics();
  testing::TempDir dir;
  const std::string scrape = dir.WriteFile("scrape.yml", R"(
scrape_configs:
  - job_name: node
    scrape_interval: 1s
    static_configs:
      - targets: [")" + node->address() + R"("]
)");
  auto vmagent = testing::StartVmagent(
      vm->url() + "/api/v1/write",
      {"-promscrape.config=" + scrape, "-remoteWrite.flushInterval=100ms"});
  auto alertmanager = testing::StartAlertmanager(R"(
route:
  receiver: none
receivers:
  - name: none
)");
  auto promewma = testing::StartPromewma();
  auto prometheus =
      testing::StartPrometheus("global:\n  scrape_interval: 1m\n");

  const std::set<int> ports = {node->port(),     vm->port(),
                               vmagent->port(),  alertmanager->port(),
                               promewma->port(), prometheus->port()};
  REQUIRE(ports.size() == 6);
  REQUIRE(*ports.begin() > 0);

  // One value from each /metrics.
  REQUIRE(prometheus->MetricValue("prometheus_ready") == 1);
  REQUIRE(alertmanager->MetricValue("alertmanager_cluster_enabled") == 0);
  REQUIRE(promewma->MetricValue("promewma_series_active") == 0);
  const std::vector<ExposedSample> cpu =
      testing::SamplesNamed(node->Scrape(), "node_cpu_seconds_total");
  REQUIRE(!cpu.empty());
  REQUIRE(testing::SamplesNamed(vm->Scrape(), "vm_app_uptime_seconds").size() ==
          1);

  // vmagent scrapes node_exporter at the address the fixture found and
  // writes to VictoriaMetrics at its; both counts show up (bounded wait).
  double scraped = 0, inserted = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::vector<ExposedSample> samples = vmagent->Scrape();
    scraped = 0;
    for (const ExposedSample& s :
         testing::SamplesNamed(samples, "vm_promscrape_scrapes_total"))
      scraped += s.value;
    inserted = vm->MetricValue("vm_rows_inserted_total",
                               {{"type", "promremotewrite"}});
    if (scraped > 0 && inserted >= static_cast<double>(cpu.size())) break;
    std::this_thread::sleep_for(100ms);
  }
  INFO("vmagent:\n"
       << vmagent->StderrTail() << "\nvictoria-metrics:\n"
       << vm->StderrTail());
  REQUIRE(scraped > 0);
  REQUIRE(inserted >= static_cast<double>(cpu.size()));

  // A restart keeps the port (what other peers were given).
  const int vm_port = vm->port();
  REQUIRE(vm->Stop() == 0);
  REQUIRE_FALSE(vm->running());
  vm->Start();
  REQUIRE(vm->port() == vm_port);

  REQUIRE(promewma->Stop() == 0);
  REQUIRE(prometheus->Stop() == 0);
  REQUIRE(alertmanager->Stop() == 0);
  REQUIRE(vmagent->Stop() == 0);
  REQUIRE(vm->Stop() == 0);
  // node_exporter does not handle SIGTERM: it dies of it.
  REQUIRE(node->Stop() == 128 + SIGTERM);
}

}  // namespace
}  // namespace promewma
