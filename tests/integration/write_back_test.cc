// promewma writes its derived series back into a real Prometheus 2.42
// (remote-write receiver on, out-of-order window set so history is
// accepted) and a real VictoriaMetrics 1.79. The values each peer returns
// through its own query API are the ones the estimator gives; a target that
// stops and comes back gets its whole backlog.

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "codec/snappy_block.h"
#include "ewma/series_estimator.h"
#include "testing/remote_write.h"
#include "testing/subprocess.h"

namespace promewma {
namespace {

using namespace std::chrono_literals;
using testing::Subprocess;
using testing::TempDir;

const std::string kPromewma =
    std::string(PROMEWMA_BINARY_DIR) + "/bin/promewma";
const char* kPrometheus = "/usr/bin/prometheus";
const char* kVictoriaMetrics = "/usr/bin/victoria-metrics";

double ValueAt(int t) { return 30 + 10 * std::sin(t / 7.0) + (t % 3) * 0.37; }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Samples [first, last) of cpu_utilization{instance="vm-1"}, 15 s apart.
void SendSamples(int port, int64_t first_ms, int first, int last) {
  httplib::Client pw("127.0.0.1", port);
  for (int i = first; i < last; i += 20) {
    std::vector<std::pair<int64_t, double>> batch;
    for (int t = i; t < std::min(last, i + 20); ++t) {
      batch.push_back({first_ms + t * 15000, ValueAt(t)});
    }
    auto r = pw.Post(
        "/api/v1/write", {{"Content-Encoding", "snappy"}},
        codec::CompressSnappyBlock(testing::SerializeWriteRequest(
            {{{{"__name__", "cpu_utilization"}, {"instance", "vm-1"}},
              batch}})),
        "application/x-protobuf");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 204);
  }
}

// The estimator's ewma and upper_threshold for samples [0, n), by time.
std::map<int64_t, std::pair<double, double>> Expected(int64_t first_ms, int n) {
  std::map<int64_t, std::pair<double, double>> out;
  ewma::EstimatorParams params;
  ewma::EstimatorState state;
  ewma::DerivedValues v;
  for (int t = 0; t < n; ++t) {
    ewma::UpdateEstimator(params, &state, first_ms + t * 15000, ValueAt(t), &v);
    out[first_ms + t * 15000] = {
        v.get(ewma::Output::kEwma),
        v.has(ewma::Output::kUpperThreshold)
            ? v.get(ewma::Output::kUpperThreshold)
            : NAN};
  }
  return out;
}

// name's samples as (ms, value) from Prometheus' API: an instant query for
// a range selector returns every raw sample.
std::map<int64_t, double> QueryPrometheus(int port, const std::string& name) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20, 0);
  httplib::Params params = {{"query", name + "[3h]"},
                            {"time", std::to_string(NowMs() / 1000.0)}};
  auto r = c.Post("/api/v1/query", params);
  std::map<int64_t, double> out;
  if (!r || r->status != 200) return out;
  auto body = nlohmann::json::parse(r->body);
  for (const auto& series : body["data"]["result"]) {
    for (const auto& v : series["values"]) {
      out[std::llround(v[0].get<double>() * 1000)] =
          std::stod(v[1].get<std::string>());
    }
  }
  return out;
}

// The same from VictoriaMetrics' export API (one JSON object per series).
std::map<int64_t, double> QueryVictoriaMetrics(int port,
                                               const std::string& name) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20, 0);
  // Make just-written samples searchable now.
  c.Get("/internal/force_flush");
  httplib::Params params = {{"match[]", name}};
  auto r = c.Post("/api/v1/export", params);
  std::map<int64_t, double> out;
  if (!r || r->status != 200) return out;
  std::istringstream lines(r->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    auto series = nlohmann::json::parse(line);
    const auto& values = series["values"];
    const auto& times = series["timestamps"];
    for (size_t i = 0; i < values.size(); ++i) {
      out[times[i].get<int64_t>()] = values[i].get<double>();
    }
  }
  return out;
}

// Polls `query` until it returns `want` samples (bounded).
std::map<int64_t, double> WaitForSamples(
    const std::function<std::map<int64_t, double>()>& query, size_t want,
    std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::map<int64_t, double> got;
  while (std::chrono::steady_clock::now() < deadline) {
    got = query();
    if (got.size() >= want) break;
    std::this_thread::sleep_for(200ms);
  }
  return got;
}

// Prometheus stores doubles bit for bit. VictoriaMetrics stores them as
// decimal mantissa and exponent (about 15 significant digits), so its values
// are compared to that precision.
void CheckValues(const std::map<int64_t, double>& got,
                 const std::map<int64_t, std::pair<double, double>>& expected,
                 bool upper, double relative_tolerance) {
  size_t compared = 0;
  for (const auto& [ms, want] : expected) {
    const double w = upper ? want.second : want.first;
    if (std::isnan(w)) continue;  // not emitted yet (min_samples)
    auto it = got.find(ms);
    INFO("timestamp " << ms);
    REQUIRE(it != got.end());
    if (relative_tolerance == 0) {
      REQUIRE(it->second == w);
    } else {
      REQUIRE(std::fabs(it->second - w) <= relative_tolerance * std::fabs(w));
    }
    ++compared;
  }
  REQUIRE(compared > 100);
  REQUIRE(got.size() == compared);
}

bool Installed(const char* path) { return access(path, X_OK) == 0; }

TEST_CASE("derived series are written back into Prometheus 2.42 and "
          "VictoriaMetrics 1.79") {
  if (!Installed(kPrometheus) || !Installed(kVictoriaMetrics)) {
    WARN("prometheus or victoria-metrics not installed; run "
         "tools/bootstrap.sh");
    return;
  }
  TempDir dir;
  const int prom_port = testing::FreeLoopbackPort();
  const int vm_port = testing::FreeLoopbackPort();
  const int pw_port = testing::FreeLoopbackPort();
  const std::string prom_config = dir.WriteFile("prometheus.yml", R"(
global:
  scrape_interval: 1m
storage:
  tsdb:
    out_of_order_time_window: 6h
)");
  Subprocess prometheus(
      {kPrometheus, "--config.file=" + prom_config,
       "--storage.tsdb.path=" + dir.path() + "/tsdb",
       "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
       "--web.enable-remote-write-receiver"},
      dir.path());
  std::vector<std::string> vm_argv = {
      kVictoriaMetrics, "-storageDataPath=" + dir.path() + "/vm",
      "-httpListenAddr=127.0.0.1:" + std::to_string(vm_port),
      "-retentionPeriod=1y"};
  auto vm = std::make_unique<Subprocess>(vm_argv, dir.path());
  REQUIRE(testing::WaitForHttpOk(prom_port, "/-/ready", 30s));
  REQUIRE(testing::WaitForHttpOk(vm_port, "/health", 30s));

  const std::string config = dir.WriteFile("promewma.yml", R"(
write_back:
  - url: http://127.0.0.1:)" + std::to_string(prom_port) + R"(/api/v1/write
    queue_config: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 200ms}
  - url: http://127.0.0.1:)" + std::to_string(vm_port) + R"(/api/v1/write
    queue_config: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 200ms}
)");
  Subprocess promewma({kPromewma, "--config", config, "--listen",
                       "127.0.0.1:" + std::to_string(pw_port), "--data-dir",
                       dir.path() + "/promewma-data"},
                      dir.path());
  REQUIRE(testing::WaitForHttpOk(pw_port, "/-/ready", 20s));

  // Two hours of history ending now-ish; sent in two halves with the
  // VictoriaMetrics target down in between.
  const int64_t first_ms = (NowMs() - 2 * 3600 * 1000) / 1000 * 1000;
  constexpr int kSamples = 400;
  SendSamples(pw_port, first_ms, 0, 200);
  REQUIRE(WaitForSamples(
              [&] {
                return QueryVictoriaMetrics(vm_port, "cpu_utilization:ewma");
              },
              200, 30s)
              .size() == 200);

  vm->Signal(SIGTERM);
  REQUIRE(vm->Wait(30s) >= 0);
  vm.reset();
  SendSamples(pw_port, first_ms, 200, kSamples);  // accepted: room in queue
  vm = std::make_unique<Subprocess>(vm_argv, dir.path());
  REQUIRE(testing::WaitForHttpOk(vm_port, "/health", 30s));

  const auto expected = Expected(first_ms, kSamples);
  INFO(promewma.Stderr());
  for (const char* name :
       {"cpu_utilization:ewma", "cpu_utilization:upper_threshold"}) {
    const bool upper = std::string(name).find("upper") != std::string::npos;
    const size_t want = upper ? kSamples - 10 : kSamples;
    auto from_prom = WaitForSamples(
        [&] { return QueryPrometheus(prom_port, name); }, want, 30s);
    INFO(name << " from Prometheus");
    CheckValues(from_prom, expected, upper, 0);
    auto from_vm = WaitForSamples(
        [&] { return QueryVictoriaMetrics(vm_port, name); }, want, 60s);
    INFO(name << " from VictoriaMetrics (backlog drained after its restart)");
    CheckValues(from_vm, expected, upper, 1e-12);
  }

  // The self-metrics count what was sent, per target.
  httplib::Client pw("127.0.0.1", pw_port);
  auto metrics = pw.Get("/metrics");
  REQUIRE(metrics);
  REQUIRE(metrics->body.find("promewma_writeback_samples_sent_total") !=
          std::string::npos);

  promewma.Signal(SIGTERM);
  REQUIRE(promewma.Wait(30s) == 0);
  prometheus.Signal(SIGTERM);
  vm->Signal(SIGTERM);
  REQUIRE(prometheus.Wait(30s) >= 0);
  REQUIRE(vm->Wait(30s) >= 0);
}

TEST_CASE("after SIGKILL the backlog a target had not acknowledged is "
          "re-derived from the log and sent") {
  if (!Installed(kVictoriaMetrics)) {
    WARN("victoria-metrics not installed; run tools/bootstrap.sh");
    return;
  }
  TempDir dir;
  const int vm_port = testing::FreeLoopbackPort();
  const int pw_port = testing::FreeLoopbackPort();
  std::vector<std::string> vm_argv = {
      kVictoriaMetrics, "-storageDataPath=" + dir.path() + "/vm",
      "-httpListenAddr=127.0.0.1:" + std::to_string(vm_port),
      "-retentionPeriod=1y"};
  auto vm = std::make_unique<Subprocess>(vm_argv, dir.path());
  REQUIRE(testing::WaitForHttpOk(vm_port, "/health", 30s));
  // Checkpoints every second: they must wait for delivery, or the samples
  // they cover would be lost with the crash.
  const std::string config = dir.WriteFile("promewma.yml", R"(
checkpoint_interval: 1s
write_back:
  - url: http://127.0.0.1:)" + std::to_string(vm_port) + R"(/api/v1/write
    queue_config: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 200ms}
)");
  const std::vector<std::string> pw_argv = {
      kPromewma, "--config", config, "--listen",
      "127.0.0.1:" + std::to_string(pw_port), "--data-dir",
      dir.path() + "/promewma-data"};
  auto promewma = std::make_unique<Subprocess>(pw_argv, dir.path());
  REQUIRE(testing::WaitForHttpOk(pw_port, "/-/ready", 20s));

  const int64_t first_ms = (NowMs() - 2 * 3600 * 1000) / 1000 * 1000;
  constexpr int kSamples = 300;
  SendSamples(pw_port, first_ms, 0, 100);
  REQUIRE(WaitForSamples(
              [&] {
                return QueryVictoriaMetrics(vm_port, "cpu_utilization:ewma");
              },
              100, 30s)
              .size() == 100);
  vm->Signal(SIGTERM);
  REQUIRE(vm->Wait(30s) >= 0);
  vm.reset();
  SendSamples(pw_port, first_ms, 100, kSamples);
  std::this_thread::sleep_for(1500ms);  // a checkpoint comes and is postponed
  promewma->Signal(SIGKILL);
  promewma->Wait(10s);
  promewma.reset();

  vm = std::make_unique<Subprocess>(vm_argv, dir.path());
  REQUIRE(testing::WaitForHttpOk(vm_port, "/health", 30s));
  promewma = std::make_unique<Subprocess>(pw_argv, dir.path());
  REQUIRE(testing::WaitForHttpOk(pw_port, "/-/ready", 30s));
  INFO(promewma->Stderr());
  auto got = WaitForSamples(
      [&] { return QueryVictoriaMetrics(vm_port, "cpu_utilization:ewma"); },
      kSamples, 60s);
  CheckValues(got, Expected(first_ms, kSamples), false, 1e-12);

  promewma->Signal(SIGTERM);
  REQUIRE(promewma->Wait(30s) == 0);
  vm->Signal(SIGTERM);
  REQUIRE(vm->Wait(30s) >= 0);
}

}  // namespace
}  // namespace promewma
