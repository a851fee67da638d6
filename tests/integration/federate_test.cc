// promewma's /federate scraped by a real Prometheus 2.42 with
// `honor_labels: true`: the derived series are stored with the labels of
// their input series (not the scrape's job and instance), at their own
// timestamps, with the values /federate served.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "codec/snappy_block.h"
#include "testing/peers.h"
#include "testing/remote_write.h"

namespace promewma::integration {
namespace {

using namespace std::chrono_literals;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Prometheus' answer to an instant query at `time_ms`: each series' labels
// and value.
std::vector<std::pair<std::map<std::string, std::string>, double>> Query(
    int port, const std::string& expr, int64_t time_ms) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20, 0);
  httplib::Params params = {{"query", expr},
                            {"time", std::to_string(time_ms / 1000.0)}};
  auto r = c.Post("/api/v1/query", params);
  std::vector<std::pair<std::map<std::string, std::string>, double>> out;
  if (!r || r->status != 200) return out;
  auto body = nlohmann::json::parse(r->body);
  for (const auto& series : body["data"]["result"]) {
    std::map<std::string, std::string> labels;
    for (const auto& [k, v] : series["metric"].items()) {
      labels[k] = v.get<std::string>();
    }
    out.push_back(
        {labels, std::stod(series["value"][1].get<std::string>())});
  }
  return out;
}

TEST_CASE("Prometheus 2.42 scraping /federate with honor_labels keeps the "
          "series' own labels and values") {
  auto promewma = testing::StartPromewma();
  // The input carries job and instance labels of its own, which a scrape
  // without honor_labels would rename to exported_job/exported_instance.
  const int64_t last_ms = NowMs() / 1000 * 1000 - 1000;
  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 14; i >= 0; --i) {
    samples.push_back({last_ms - i * 15000, 20 + std::sqrt(3.0 + i)});
  }
  httplib::Client c("127.0.0.1", promewma->port());
  auto w = c.Post("/api/v1/write", {{"Content-Encoding", "snappy"}},
                  codec::CompressSnappyBlock(testing::SerializeWriteRequest(
                      {{{{"__name__", "cpu_utilization"},
                         {"env", "prod"},
                         {"instance", "vm-1"},
                         {"job", "node"}},
                        samples}})),
                  "application/x-protobuf");
  REQUIRE(w);
  REQUIRE(w->status == 204);

  const std::string selector = "{__name__=~\"cpu_utilization:.*\"}";
  const std::vector<testing::ExposedSample> federated =
      promewma->Scrape(testing::FederatePath({selector}));
  REQUIRE(federated.size() == 2);  // :ewma and :upper_threshold

  auto prometheus = testing::StartPrometheus(R"(
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: promewma-federate
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{__name__=~"cpu_utilization:.*"}']
    static_configs:
      - targets: [')" + promewma->address() + R"(']
)");

  const std::map<std::string, std::string> own = {
      {"env", "prod"}, {"instance", "vm-1"}, {"job", "node"}};
  for (const testing::ExposedSample& sample : federated) {
    INFO(sample.name);
    REQUIRE(sample.timestamp_ms == last_ms);
    std::vector<std::pair<std::map<std::string, std::string>, double>> got;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (got.empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(500ms);
      got = Query(prometheus->port(), sample.name, last_ms);
    }
    INFO(prometheus->StderrTail());
    REQUIRE(got.size() == 1);
    std::map<std::string, std::string> want = own;
    want["__name__"] = sample.name;
    REQUIRE(got[0].first == want);
    REQUIRE(got[0].second == sample.value);
  }
}

}  // namespace
}  // namespace promewma::integration
