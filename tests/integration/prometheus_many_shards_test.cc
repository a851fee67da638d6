// The real Prometheus 2.42 remote-writing to promewma over 64 shards at
// once, each shard a keep-alive connection of its own, as a Prometheus
// that has resharded upward (or an HA pair) sends. Every sample must be
// accepted the first time: a refused connection, a reset or a 5xx would
// show in Prometheus' own failed and retried counters.

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "testing/peers.h"

namespace promewma {
namespace {

using namespace std::chrono_literals;
using testing::ExposedSample;

// The sum of every sample named `name` (whatever its labels); fails the
// test when there is none, so a renamed counter cannot pass as a 0.
double Sum(const std::vector<ExposedSample>& samples, const std::string& name) {
  const std::vector<ExposedSample> named = testing::SamplesNamed(samples, name);
  INFO(name);
  REQUIRE(!named.empty());
  double sum = 0;
  for (const ExposedSample& s : named) sum += s.value;
  return sum;
}

TEST_CASE("Prometheus 2.42 with 64 remote-write shards: no sample failed or retried") {
  auto node = testing::StartNodeExporter();
  auto promewma = testing::StartPromewma();
  // Small batches sent every second: many requests on all 64 connections.
  testing::NodeToPromewmaConfig config;
  config.queue_config =
      "{min_shards: 64, max_shards: 64, max_samples_per_send: 100, "
      "batch_send_deadline: 1s}";
  auto prometheus =
      testing::StartPrometheus(testing::PrometheusConfig(*node, *promewma, config));
  // Until 64 shards have sent for a while: 1,000 accepted requests, about
  // 16 per shard.
  std::vector<ExposedSample> prom, pw;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    pw = promewma->Scrape();
    const std::optional<ExposedSample> accepted = testing::FindSample(
        pw, "promewma_http_requests_total",
        {{"code", "204"}, {"handler", "write"}});
    if (accepted && accepted->value >= 1000) break;
    std::this_thread::sleep_for(500ms);
  }
  prom = prometheus->Scrape();
  pw = promewma->Scrape();
  INFO("promewma stderr:\n"
       << promewma->StderrTail() << "\nprometheus stderr tail:\n"
       << prometheus->StderrTail());
  REQUIRE(Sum(prom, "prometheus_remote_storage_shards") == 64);
  const std::optional<ExposedSample> accepted = testing::FindSample(
      pw, "promewma_http_requests_total", {{"code", "204"}, {"handler", "write"}});
  REQUIRE(accepted);
  REQUIRE(accepted->value >= 1000);
  // Every write request promewma answered was a 204.
  for (const ExposedSample& s :
       testing::SamplesNamed(pw, "promewma_http_requests_total")) {
    if (s.labels.at("handler") != "write") continue;
    INFO("write requests answered " << s.labels.at("code"));
    if (s.labels.at("code") != "204") REQUIRE(s.value == 0);
  }
  // Prometheus' side: sent, none failed, none sent again.
  REQUIRE(Sum(prom, "prometheus_remote_storage_samples_total") > 0);
  REQUIRE(Sum(prom, "prometheus_remote_storage_samples_failed_total") == 0);
  REQUIRE(Sum(prom, "prometheus_remote_storage_samples_retried_total") == 0);
  REQUIRE(Sum(prom, "prometheus_remote_storage_samples_dropped_total") == 0);
  // And the samples arrived.
  REQUIRE(testing::FindSample(pw, "promewma_write_samples_applied_total")
              ->value > 0);
  REQUIRE(testing::FindSample(pw, "promewma_series_active")->value > 0);

  REQUIRE(promewma->Stop() == 0);
}

}  // namespace
}  // namespace promewma
