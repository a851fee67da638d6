// Prometheus 2.42 reads promewma through remote_read (read_recent: true):
// the cpu_utilization:ewma samples its PromQL API returns are exactly the
// ones promewma derived from what was written to it.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "codec/snappy_block.h"
#include "ewma/series_estimator.h"
#include "testing/peers.h"
#include "testing/remote_write.h"

namespace promewma {
namespace {

double ValueAt(int t) { return 30 + 10 * std::sin(t / 9.0) + (t % 5); }

TEST_CASE("Prometheus 2.42 remote_read returns promewma's derived series") {
  auto promewma = testing::StartPromewma();

  // An hour of history at 15 s, ending a minute ago.
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  const int64_t first_ms = (now_ms - 3600 * 1000) / 1000 * 1000;
  constexpr int kSamples = 236;
  std::vector<std::pair<int64_t, double>> samples;
  for (int t = 0; t < kSamples; ++t)
    samples.push_back({first_ms + t * 15000, ValueAt(t)});
  httplib::Client pw("127.0.0.1", promewma->port());
  for (size_t i = 0; i < samples.size(); i += 50) {
    std::vector<std::pair<int64_t, double>> batch(
        samples.begin() + i,
        samples.begin() + std::min(samples.size(), i + 50));
    auto r =
        pw.Post("/api/v1/write", {{"Content-Encoding", "snappy"}},
                codec::CompressSnappyBlock(testing::SerializeWriteRequest(
                    {{{{"__name__", "cpu_utilization"}, {"instance", "vm-1"}},
                      batch}})),
                "application/x-protobuf");
    REQUIRE(r);
    REQUIRE(r->status == 204);
  }

  auto prometheus = testing::StartPrometheus(R"(
global:
  scrape_interval: 15s
remote_read:
  - url: )" + promewma->url() + R"(/api/v1/read
    read_recent: true
)");

  httplib::Client prom("127.0.0.1", prometheus->port());
  prom.set_read_timeout(20, 0);
  auto q = prom.Get(
      "/api/v1/"
      "query?query=cpu_utilization%3Aewma%7Binstance%3D%22vm-1%22%7D%5B2h%5D&"
      "time=" +
      std::to_string(now_ms / 1000.0));
  REQUIRE(q);
  INFO(q->body);
  INFO(prometheus->StderrTail());
  REQUIRE(q->status == 200);
  auto body = nlohmann::json::parse(q->body);
  REQUIRE(body["status"] == "success");
  REQUIRE(body["data"]["result"].size() == 1);
  const auto& series = body["data"]["result"][0];
  REQUIRE(series["metric"]["__name__"] == "cpu_utilization:ewma");
  REQUIRE(series["metric"]["instance"] == "vm-1");
  const auto& values = series["values"];
  REQUIRE(values.size() == kSamples);

  ewma::EstimatorParams params;
  ewma::EstimatorState state;
  ewma::DerivedValues out;
  for (int t = 0; t < kSamples; ++t) {
    ewma::UpdateEstimator(params, &state, samples[t].first, samples[t].second,
                          &out);
    const double seconds = values[t][0];
    const std::string value = values[t][1];
    REQUIRE(std::llround(seconds * 1000) == samples[t].first);
    // Prometheus formats with the shortest representation that parses back
    // to the same double.
    REQUIRE(std::stod(value) == out.get(ewma::Output::kEwma));
  }

  REQUIRE(promewma->Stop() == 0);
}

}  // namespace
}  // namespace promewma
