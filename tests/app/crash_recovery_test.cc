// SIGKILL under load, then restart: every acknowledged sample is there and
// the EWMA state continues as in an uninterrupted run; and chunks stored
// before a checkpoint outlive the log it dropped.

#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "codec/snappy_block.h"
#include "db/database.h"
#include "testing/remote_write.h"
#include "testing/subprocess.h"

namespace promewma::app {
namespace {

using namespace std::chrono_literals;
using testing::Subprocess;
using testing::TempDir;

const std::string kBinary = std::string(PROMEWMA_BINARY_DIR) + "/bin/promewma";
constexpr int kSeries = 50;

std::string Body(int t) {
  std::vector<testing::TestSeries> request;
  for (int s = 0; s < kSeries; ++s) {
    request.push_back(
        {{{"__name__", "cpu"}, {"host", "h" + std::to_string(s)}},
         {{1700000000000 + t * 15000, 20.0 + (t * 13 + s * 7) % 17}}});
  }
  return codec::CompressSnappyBlock(testing::SerializeWriteRequest(request));
}

httplib::Result Post(httplib::Client& c, const std::string& body) {
  return c.Post("/api/v1/write", {{"Content-Encoding", "snappy"}}, body,
                "application/x-protobuf");
}

// series text -> (value, timestamp) for one derived metric on /metrics.
std::map<std::string, std::pair<double, int64_t>> Scrape(
    int port, const std::string& metric) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/metrics");
  REQUIRE(r);
  std::map<std::string, std::pair<double, int64_t>> out;
  std::regex line("^" + metric + "(\\{[^}]*\\}) (\\S+) (\\d+)$");
  std::istringstream in(r->body);
  std::string l;
  std::smatch m;
  while (std::getline(in, l)) {
    if (std::regex_match(l, m, line))
      out[m[1]] = {std::stod(m[2]), std::stoll(m[3])};
  }
  return out;
}

std::map<std::string, std::pair<double, int64_t>> Reference(int last_t) {
  db::Database ingester{head::HeadOptions{}};
  head::Head& engine = *ingester.head();
  codec::DecodedWriteRequest decoded;
  std::string raw;
  head::ApplyResult result;
  for (int t = 0; t <= last_t; ++t) {
    const std::string body = Body(t);
    REQUIRE(codec::DecompressSnappyBlock(body, 1 << 30, &raw).ok());
    REQUIRE(codec::DecodeWriteRequest(raw, &decoded).ok());
    REQUIRE(ingester.Ingest(decoded, body, &result).ok());
  }
  std::map<std::string, std::pair<double, int64_t>> out;
  engine.VisitLatest([&](const head::LatestDerived& d) {
    std::string labels = d.labels.ToString();
    labels = labels.substr(labels.find('{'));
    labels.erase(std::remove(labels.begin(), labels.end(), ' '), labels.end());
    out[labels] = {d.values.get(ewma::Output::kEwma), d.timestamp_ms};
  });
  return out;
}

void RequireSameValues(
    const std::map<std::string, std::pair<double, int64_t>>& got,
    const std::map<std::string, std::pair<double, int64_t>>& want) {
  REQUIRE(got.size() == want.size());
  for (const auto& [series, v] : want) {
    INFO(series);
    REQUIRE(got.count(series) == 1);
    REQUIRE(got.at(series).second == v.second);
    REQUIRE(got.at(series).first == Approx(v.first).epsilon(1e-12));
  }
}

TEST_CASE("SIGKILL under load loses no acknowledged sample") {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  int port = testing::FreeLoopbackPort();
  auto start = [&] {
    return std::make_unique<Subprocess>(
        std::vector<std::string>{kBinary, "--listen",
                                 "127.0.0.1:" + std::to_string(port),
                                 "--data-dir", data},
        dir.path());
  };
  auto promewma = start();
  REQUIRE(testing::WaitForHttpOk(port, "/-/ready", 10s));

  // One sender, as one Prometheus shard: requests in order, each retried
  // until acknowledged, until the process dies under it.
  std::atomic<int> last_acked{-1};
  std::thread sender([&] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(5, 0);
    for (int t = 0; t < 100000; ++t) {
      auto r = Post(c, Body(t));
      if (!r || r->status != 204) return;
      last_acked = t;
    }
  });
  std::this_thread::sleep_for(400ms);
  promewma->Signal(SIGKILL);
  REQUIRE(promewma->Wait(10s) == 128 + SIGKILL);
  sender.join();
  const int acked = last_acked.load();
  REQUIRE(acked > 5);  // it was under load

  promewma = start();
  REQUIRE(testing::WaitForHttpOk(port, "/-/ready", 30s));
  auto after = Scrape(port, "cpu:ewma");
  // The request in flight at the kill may or may not have been logged;
  // everything acknowledged must be there.
  const auto with_acked = Reference(acked);
  const int64_t recovered_ts = after.begin()->second.second;
  INFO("acked up to " << acked);
  if (recovered_ts == with_acked.begin()->second.second) {
    RequireSameValues(after, with_acked);
  } else {
    RequireSameValues(after, Reference(acked + 1));
  }
  // The sender retries its unacknowledged request; duplicates are exact.
  httplib::Client c("127.0.0.1", port);
  REQUIRE(Post(c, Body(acked + 1))->status == 204);
  REQUIRE(Post(c, Body(acked + 2))->status == 204);
  RequireSameValues(Scrape(port, "cpu:ewma"), Reference(acked + 2));

  promewma->Signal(SIGTERM);
  REQUIRE(promewma->Wait(10s) == 0);
}

double MetricValue(int port, const std::string& name) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/metrics");
  REQUIRE(r);
  std::smatch m;
  const std::regex line("(^|\\n)" + name + " (\\S+)");
  if (!std::regex_search(r->body, m, line)) return 0;
  return std::stod(m[2]);
}

TEST_CASE("chunks sealed before a checkpoint survive a SIGKILL after it") {
  // Sealed chunks skip RocksDB's WAL (the request log can rebuild them);
  // a checkpoint drops that log, so it must have made them durable first.
  TempDir dir;
  const int port = testing::FreeLoopbackPort();
  {
    std::ofstream config(dir.path() + "/promewma.yml");
    config << "listen: 127.0.0.1:" << port << "\n"
           << "data_dir: " << dir.path() << "/data\n"
           << "checkpoint_interval: 1s\n";
  }
  auto start = [&] {
    return std::make_unique<Subprocess>(
        std::vector<std::string>{kBinary, "--config",
                                 dir.path() + "/promewma.yml"},
        dir.path());
  };
  auto promewma = start();
  REQUIRE(testing::WaitForHttpOk(port, "/-/ready", 10s));
  // 300 samples a series: two sealed raw chunks (120 samples each) and an
  // open head.
  constexpr int kSteps = 300;
  {
    httplib::Client c("127.0.0.1", port);
    for (int t = 0; t < kSteps; ++t) REQUIRE(Post(c, Body(t))->status == 204);
  }
  const double sent_at =
      std::chrono::duration<double>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (MetricValue(port,
                     "promewma_checkpoint_last_success_timestamp_seconds") <
         sent_at + 0.1) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(100ms);
  }
  promewma->Signal(SIGKILL);
  REQUIRE(promewma->Wait(10s) == 128 + SIGKILL);

  promewma = start();
  REQUIRE(testing::WaitForHttpOk(port, "/-/ready", 30s));
  for (int s : {0, kSeries - 1}) {
    const auto samples = testing::RemoteReadSeries(
        port, {{"__name__", "cpu"}, {"host", "h" + std::to_string(s)}}, 0,
        INT64_MAX);
    REQUIRE(samples.size() == kSteps);
    for (int t = 0; t < kSteps; ++t) {
      REQUIRE(samples[t].first == 1700000000000 + t * 15000);
    }
  }
  promewma->Signal(SIGTERM);
  REQUIRE(promewma->Wait(10s) == 0);
}

}  // namespace
}  // namespace promewma::app
