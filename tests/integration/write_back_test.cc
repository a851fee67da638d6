// promewma writes its derived series back into a real Prometheus 2.42
// (remote-write receiver on, out-of-order window set so history is
// accepted) and a real VictoriaMetrics 1.79. The values each peer returns
// through its own query API are the ones the estimator gives; a target that
// stops and comes back gets its whole backlog.

#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "codec/snappy_block.h"
#include "ewma/series_estimator.h"
#include "testing/peers.h"
#include "testing/remote_write.h"
#include "testing/remote_write_sink.h"

namespace promewma {
namespace {

using namespace std::chrono_literals;
using testing::Peer;

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
    auto r =
        pw.Post("/api/v1/write", {{"Content-Encoding", "snappy"}},
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
    out[first_ms + t * 15000] = {v.get(ewma::Output::kEwma),
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

// promewma's write-back configuration for `targets`, sending fast.
std::string WriteBackConfig(const std::vector<const Peer*>& targets,
                            const std::string& preamble = "") {
  std::string config = preamble + "write_back:\n";
  for (const Peer* t : targets) {
    config += "  - url: " + t->url() + "/api/v1/write\n" +
              "    queue_config: {batch_send_deadline: 100ms, min_backoff: "
              "50ms, max_backoff: 200ms}\n";
  }
  return config;
}

// promewma_writeback_<name>{url="<target>/api/v1/write", ...labels}.
double WriteBackMetric(const Peer& promewma, const std::string& name,
                       const Peer& target, testing::LabelSet labels = {}) {
  labels["url"] = target.url() + "/api/v1/write";
  return promewma.MetricValue("promewma_writeback_" + name, labels);
}

// Waits (bounded) until promewma counts `want` samples acknowledged by
// `target`, and returns the count then.
double WaitForSent(const Peer& promewma, const Peer& target, double want) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  double sent = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    sent = WriteBackMetric(promewma, "samples_sent_total", target);
    if (sent >= want) break;
    std::this_thread::sleep_for(50ms);
  }
  return sent;
}

// Nothing was given up on, and nothing is left to send.
void RequireNothingDroppedOrPending(const Peer& promewma, const Peer& target) {
  INFO("target " << target.name());
  for (const char* reason : {"http_4xx", "retry_timeout", "shutdown"}) {
    INFO("dropped, reason " << reason);
    REQUIRE(WriteBackMetric(promewma, "samples_dropped_total", target,
                            {{"reason", reason}}) == 0);
  }
  REQUIRE(WriteBackMetric(promewma, "samples_pending", target) == 0);
}

TEST_CASE(
    "derived series are written back into Prometheus 2.42 and "
    "VictoriaMetrics 1.79") {
  auto prometheus =
      testing::StartPrometheus(R"(
global:
  scrape_interval: 1m
storage:
  tsdb:
    out_of_order_time_window: 6h
)",
                               {"--web.enable-remote-write-receiver"});
  auto vm = testing::StartVictoriaMetrics();
  testing::PromewmaOptions options;
  options.config = WriteBackConfig({prometheus.get(), vm.get()});
  auto promewma = testing::StartPromewma(options);

  // Two hours of history ending now-ish; sent in two halves with the
  // VictoriaMetrics target down in between.
  const int64_t first_ms = (NowMs() - 2 * 3600 * 1000) / 1000 * 1000;
  constexpr int kSamples = 400;
  SendSamples(promewma->port(), first_ms, 0, 200);
  REQUIRE(WaitForSamples(
              [&] {
                return QueryVictoriaMetrics(vm->port(), "cpu_utilization:ewma");
              },
              200, 30s)
              .size() == 200);

  vm->Stop();
  // Accepted: there is room in the queue.
  SendSamples(promewma->port(), first_ms, 200, kSamples);
  // Restart only once promewma has seen the outage (a failed send), so the
  // retry path is what delivers the second half.
  const auto outage_seen = std::chrono::steady_clock::now() + 30s;
  while (WriteBackMetric(*promewma, "samples_failed_total", *vm) == 0 &&
         std::chrono::steady_clock::now() < outage_seen) {
    std::this_thread::sleep_for(100ms);
  }
  vm->Start();  // on the port promewma sends to

  const auto expected = Expected(first_ms, kSamples);
  INFO(promewma->StderrTail());
  for (const char* name :
       {"cpu_utilization:ewma", "cpu_utilization:upper_threshold"}) {
    const bool upper = std::string(name).find("upper") != std::string::npos;
    const size_t want = upper ? kSamples - 10 : kSamples;
    auto from_prom = WaitForSamples(
        [&] { return QueryPrometheus(prometheus->port(), name); }, want, 30s);
    INFO(name << " from Prometheus");
    CheckValues(from_prom, expected, upper, 0);
    auto from_vm = WaitForSamples(
        [&] { return QueryVictoriaMetrics(vm->port(), name); }, want, 60s);
    INFO(name << " from VictoriaMetrics (backlog drained after its restart)");
    CheckValues(from_vm, expected, upper, 1e-12);
  }

  // The self-metrics count what each target acknowledged: every ewma
  // sample and every upper threshold (min_samples 10 holds back the first
  // ten). Prometheus never failed, so it got each sample once; the
  // VictoriaMetrics outage was seen and retried, and delivery is at least
  // once.
  constexpr double kDerived = kSamples + (kSamples - 10);
  REQUIRE(WaitForSent(*promewma, *prometheus, kDerived) == kDerived);
  REQUIRE(WriteBackMetric(*promewma, "samples_failed_total", *prometheus) == 0);
  REQUIRE(WaitForSent(*promewma, *vm, kDerived) >= kDerived);
  REQUIRE(WriteBackMetric(*promewma, "samples_failed_total", *vm) > 0);
  REQUIRE(WriteBackMetric(*promewma, "samples_retried_total", *vm) > 0);
  RequireNothingDroppedOrPending(*promewma, *prometheus);
  RequireNothingDroppedOrPending(*promewma, *vm);

  REQUIRE(promewma->Stop() == 0);
}

TEST_CASE(
    "after SIGKILL the backlog a target had not acknowledged is "
    "re-derived from the log and sent") {
  auto vm = testing::StartVictoriaMetrics();
  // Checkpoints every second: they must wait for delivery, or the samples
  // they cover would be lost with the crash.
  testing::PromewmaOptions options;
  options.config = WriteBackConfig({vm.get()}, "checkpoint_interval: 1s\n");
  auto promewma = testing::StartPromewma(options);

  const int64_t first_ms = (NowMs() - 2 * 3600 * 1000) / 1000 * 1000;
  constexpr int kSamples = 300;
  SendSamples(promewma->port(), first_ms, 0, 100);
  REQUIRE(WaitForSamples(
              [&] {
                return QueryVictoriaMetrics(vm->port(), "cpu_utilization:ewma");
              },
              100, 30s)
              .size() == 100);
  vm->Stop();
  SendSamples(promewma->port(), first_ms, 100, kSamples);
  std::this_thread::sleep_for(1500ms);  // a checkpoint comes and is postponed
  REQUIRE(promewma->Kill() == 128 + SIGKILL);

  vm->Start();
  promewma->Start();
  INFO(promewma->StderrTail());
  auto got = WaitForSamples(
      [&] { return QueryVictoriaMetrics(vm->port(), "cpu_utilization:ewma"); },
      kSamples, 60s);
  CheckValues(got, Expected(first_ms, kSamples), false, 1e-12);

  REQUIRE(promewma->Stop() == 0);
}

}  // namespace
}  // namespace promewma

namespace promewma {
namespace {

// Every value VictoriaMetrics holds for `name`, over all its series.
size_t CountVictoriaMetrics(int port, const std::string& name) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(20, 0);
  c.Get("/internal/force_flush");
  auto r = c.Post("/api/v1/export", httplib::Params{{"match[]", name}});
  if (!r || r->status != 200) return 0;
  size_t n = 0;
  std::istringstream lines(r->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) n += nlohmann::json::parse(line)["values"].size();
  }
  return n;
}

size_t WaitForCount(int port, const std::string& name, size_t want) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  size_t n = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    n = CountVictoriaMetrics(port, name);
    if (n >= want) break;
    std::this_thread::sleep_for(250ms);
  }
  return n;
}

// One remote-write request: `per_series` samples, 1 s apart from first_ms,
// for each of `series` series NAME{instance="h<i>"}.
httplib::Result PostBlock(int port, const std::string& name, int series,
                          int per_series, int64_t first_ms) {
  std::vector<testing::TestSeries> request;
  for (int s = 0; s < series; ++s) {
    testing::TestSeries ts{{{"__name__", name},
                            {"instance", "h" + std::to_string(s)}},
                           {}};
    for (int i = 0; i < per_series; ++i) {
      ts.samples.push_back({first_ms + i * 1000, ValueAt(i + s)});
    }
    request.push_back(std::move(ts));
  }
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  return c.Post("/api/v1/write", {{"Content-Encoding", "snappy"}},
                codec::CompressSnappyBlock(
                    testing::SerializeWriteRequest(request)),
                "application/x-protobuf");
}

TEST_CASE(
    "write-back admits a request of any size at once, and with the target down "
    "and its backlog over capacity the next gets 503, then goes through") {
  auto vm = testing::StartVictoriaMetrics();
  testing::PromewmaOptions options;
  options.config = WriteBackConfig({vm.get()});  // capacity 10000 a shard
  auto promewma = testing::StartPromewma(options);
  // 40,000 s of history (VictoriaMetrics drops samples from the future).
  const int64_t first_ms = (NowMs() - 12 * 3600 * 1000) / 1000 * 1000;

  // 20,000 samples of one series (40,000 derived, four times a shard's
  // capacity), then 20,000 over 2,000 series: both 204 with empty queues.
  auto one = PostBlock(promewma->port(), "big_one", 1, 20000, first_ms);
  REQUIRE(one);
  INFO(one->body);
  REQUIRE(one->status == 204);
  auto many = PostBlock(promewma->port(), "big_many", 2000, 10, first_ms);
  REQUIRE(many);
  REQUIRE(many->status == 204);
  REQUIRE(WaitForCount(vm->port(), "big_one:ewma", 20000) == 20000);
  REQUIRE(WaitForCount(vm->port(), "big_many:ewma", 20000) == 20000);
  // ewma for every sample; upper_threshold from a series' 11th sample on
  // (min_samples 10), so none for the 10-sample series. Exactly once: the
  // target was up all along.
  REQUIRE(WaitForSent(*promewma, *vm, 20000 + 19990 + 20000) ==
          20000 + 19990 + 20000);

  // The target goes away. The next large request is admitted (its shard is
  // empty) and stays queued, over capacity; the one after it, to the same
  // shard, is refused whole.
  vm->Stop();
  auto c = PostBlock(promewma->port(), "big_two", 1, 20000, first_ms);
  REQUIRE(c);
  REQUIRE(c->status == 204);
  auto d = PostBlock(promewma->port(), "big_two", 1, 20000,
                     first_ms + 20000 * 1000);
  REQUIRE(d);
  REQUIRE(d->status == 503);
  REQUIRE(d->has_header("Retry-After"));
  REQUIRE(d->body.rfind("write-back backlog full", 0) == 0);
  // Nothing of it was applied: the series' latest sample is C's last.
  const auto latest = testing::FindSample(
      promewma->Scrape(testing::FederatePath({"big_two"})), "big_two",
      {{"instance", "h0"}});
  REQUIRE(latest);
  REQUIRE(latest->timestamp_ms == first_ms + 19999 * 1000);

  // Back: the sender's retries go through, and nothing is lost.
  vm->Start();
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  int status = 0;
  while (status != 204 && std::chrono::steady_clock::now() < deadline) {
    auto retry = PostBlock(promewma->port(), "big_two", 1, 20000,
                           first_ms + 20000 * 1000);
    REQUIRE(retry);
    status = retry->status;
    if (status != 204) {
      REQUIRE(status == 503);
      std::this_thread::sleep_for(500ms);
    }
  }
  REQUIRE(status == 204);
  const std::map<int64_t, double> ewma = WaitForSamples(
      [&] { return QueryVictoriaMetrics(vm->port(), "big_two:ewma"); }, 40000,
      60s);
  REQUIRE(ewma.size() == 40000);  // every timestamp, at least once
  RequireNothingDroppedOrPending(*promewma, *vm);
  REQUIRE(promewma->Stop() == 0);
}

TEST_CASE("vmagent's large blocks all get a 2xx with write-back on") {
  auto node = testing::StartNodeExporter();
  auto vm = testing::StartVictoriaMetrics();
  testing::PromewmaOptions options;
  options.config = WriteBackConfig({vm.get()});
  auto promewma = testing::StartPromewma(options);
  testing::TempDir dir;
  const std::string scrape = dir.WriteFile("scrape.yml", R"(
scrape_configs:
  - job_name: node
    scrape_interval: 1s
    static_configs:
      - targets: [')" + node->address() + R"(']
)");
  // About 500 series a scrape, flushed every 12 s: blocks of ~6,000
  // samples, 12,000 derived, over a shard's capacity of 10,000. One queue:
  // vmagent spreads blocks over its queues without keeping a series on
  // one, so with several an older block can arrive after a newer one, and
  // its samples are out of order (README, Known limits).
  auto vmagent =
      testing::StartVmagent(promewma->url() + "/api/v1/write",
                            {"-promscrape.config=" + scrape,
                             "-remoteWrite.flushInterval=12s",
                             "-remoteWrite.queues=1"});
  const std::string url = promewma->url() + "/api/v1/write";
  auto requests = [&](const std::string& code) {
    double n = 0;
    for (const testing::ExposedSample& s : testing::SamplesNamed(
             vmagent->Scrape(), "vmagent_remotewrite_requests_total")) {
      // vmagent 1.79 counts answers by class: "2XX", "4XX", "5XX".
      if (code.empty() ? s.labels.at("status_code") != "2XX"
                       : s.labels.at("status_code") == code) {
        n += s.value;
      }
    }
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while (requests("2XX") < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1s);
  }
  INFO(promewma->StderrTail());
  INFO(vmagent->StderrTail());
  std::string lines;
  {
    std::istringstream all(vmagent->Get("/metrics"));
    std::string line;
    while (std::getline(all, line)) {
      if (line.find("vmagent_remotewrite_requests") != std::string::npos) {
        lines += line + "\n";
      }
    }
  }
  INFO(lines);
  REQUIRE(requests("2XX") >= 2);
  REQUIRE(requests("") == 0);  // no block answered with anything but 2xx
  const std::optional<testing::ExposedSample> refused = testing::FindSample(
      promewma->Scrape(), "promewma_http_requests_total",
      {{"code", "503"}, {"handler", "write"}});
  REQUIRE((!refused || refused->value == 0));
  // The blocks were large, as the test means them to be.
  const double samples =
      promewma->MetricValue("promewma_write_samples_received_total");
  const double writes = promewma->MetricValue(
      "promewma_http_requests_total", {{"code", "204"}, {"handler", "write"}});
  INFO(samples << " samples in " << writes << " requests");
  REQUIRE(samples / writes > 5000);
  REQUIRE(WaitForSent(*promewma, *vm, samples) >= samples);
}

}  // namespace
}  // namespace promewma

namespace promewma {
namespace {

// Faults of one write-back target, with a healthy VictoriaMetrics beside
// it. The faulty target is a RemoteWriteSink: it hangs, answers 500 or 400,
// or resets connections, then accepts and keeps what it got, in order.

using Sink = testing::RemoteWriteSink;

// promewma_writeback_<name>{url="<url>/api/v1/write", ...labels}.
double WriteBackMetricFor(const Peer& promewma, const std::string& name,
                          const std::string& url,
                          testing::LabelSet labels = {}) {
  labels["url"] = url + "/api/v1/write";
  return promewma.MetricValue("promewma_writeback_" + name, labels);
}

// Waits (bounded) until `name` for `url` reaches `want`; returns it then.
double WaitForMetric(const Peer& promewma, const std::string& name,
                     const std::string& url, double want,
                     testing::LabelSet labels = {}) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  double value = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    value = WriteBackMetricFor(promewma, name, url, labels);
    if (value >= want) break;
    std::this_thread::sleep_for(50ms);
  }
  return value;
}

// Two targets: the healthy VictoriaMetrics and the sink. The sink's
// remote_timeout is 1 s so that a hang costs an attempt 1 s, not 30.
std::string HealthyAndFaultyConfig(const Peer& vm, const Sink& sink) {
  const std::string queue =
      "    queue_config: {batch_send_deadline: 100ms, min_backoff: 50ms, "
      "max_backoff: 200ms}\n";
  return "write_back:\n  - url: " + vm.url() + "/api/v1/write\n" + queue +
         "  - url: " + sink.url() + "/api/v1/write\n    remote_timeout: 1s\n" +
         queue;
}

using SeriesSamples =
    std::map<std::string, std::vector<std::pair<int64_t, double>>>;

// The derived samples of input samples [0, n), per series in time order.
SeriesSamples ExpectedDerived(int64_t first_ms, int n) {
  SeriesSamples out;
  for (const auto& [ms, values] : Expected(first_ms, n)) {
    out["cpu_utilization:ewma{instance=\"vm-1\"}"].push_back(
        {ms, values.first});
    if (!std::isnan(values.second)) {
      out["cpu_utilization:upper_threshold{instance=\"vm-1\"}"].push_back(
          {ms, values.second});
    }
  }
  return out;
}

// `samples` per series, in the order they came.
SeriesSamples BySeries(const std::vector<Sink::Sample>& samples) {
  SeriesSamples out;
  for (const Sink::Sample& s : samples) {
    out[s.series].push_back({s.timestamp_ms, s.value});
  }
  return out;
}

// The number of samples in `all`.
size_t Count(const SeriesSamples& all) {
  size_t n = 0;
  for (const auto& [series, samples] : all) n += samples.size();
  return n;
}

// Runs 400 input samples through promewma while the sink is in `fault`
// for the first 200 and all of them have reached VictoriaMetrics; then
// the sink recovers and must get every derived sample, in order, exactly
// once (it keeps only what it answered 204).
void RequireBacklogDeliveredAfter(Sink::Mode fault) {
  Sink sink(fault);
  auto vm = testing::StartVictoriaMetrics();
  testing::PromewmaOptions options;
  options.config = HealthyAndFaultyConfig(*vm, sink);
  auto promewma = testing::StartPromewma(options);
  const std::string vm_url = vm->url();
  const int64_t first_ms = (NowMs() - 2 * 3600 * 1000) / 1000 * 1000;
  constexpr int kSamples = 400;
  constexpr double kHalf = 200 + (200 - 10);  // ewma + upper_threshold
  constexpr double kDerived = kSamples + (kSamples - 10);

  // Every write is 204 (SendSamples requires it) and the healthy target
  // gets each derived sample while the other one fails.
  SendSamples(promewma->port(), first_ms, 0, 200);
  REQUIRE(WaitForMetric(*promewma, "samples_sent_total", vm_url, kHalf) ==
          kHalf);
  REQUIRE(WaitForMetric(*promewma, "samples_failed_total", sink.url(), 1) > 0);
  SendSamples(promewma->port(), first_ms, 200, kSamples);
  REQUIRE(WaitForMetric(*promewma, "samples_sent_total", vm_url, kDerived) ==
          kDerived);
  REQUIRE(WriteBackMetricFor(*promewma, "samples_sent_total", sink.url()) ==
          0);
  REQUIRE(sink.accepted().empty());
  REQUIRE(WriteBackMetricFor(*promewma, "samples_pending", sink.url()) ==
          kDerived);

  sink.SetMode(Sink::Mode::kAccept);
  INFO(promewma->StderrTail());
  REQUIRE(WaitForMetric(*promewma, "samples_sent_total", sink.url(),
                        kDerived) == kDerived);
  const SeriesSamples got = BySeries(sink.accepted());
  const SeriesSamples want = ExpectedDerived(first_ms, kSamples);
  INFO("sink holds " << Count(got) << " samples of " << got.size()
                     << " series; " << Count(want) << " derived");
  REQUIRE(got == want);
  REQUIRE(WriteBackMetricFor(*promewma, "samples_retried_total", sink.url()) >
          0);
  for (const std::string& url : {vm_url, sink.url()}) {
    INFO("target " << url);
    for (const char* reason : {"http_4xx", "retry_timeout", "shutdown"}) {
      REQUIRE(WriteBackMetricFor(*promewma, "samples_dropped_total", url,
                                 {{"reason", reason}}) == 0);
    }
    REQUIRE(WriteBackMetricFor(*promewma, "samples_pending", url) == 0);
  }
  REQUIRE(promewma->Stop() == 0);
}

TEST_CASE(
    "a write-back target that hangs holds up neither ingest nor the other "
    "target, and gets its backlog in order once it answers") {
  RequireBacklogDeliveredAfter(Sink::Mode::kHang);
}

TEST_CASE(
    "a write-back target that answers 500 holds up neither ingest nor the "
    "other target, and gets its backlog in order once it accepts") {
  RequireBacklogDeliveredAfter(Sink::Mode::kStatus500);
}

TEST_CASE(
    "a write-back target that resets connections holds up neither ingest nor "
    "the other target, and gets its backlog in order once it accepts") {
  RequireBacklogDeliveredAfter(Sink::Mode::kReset);
}

TEST_CASE(
    "a write-back target's 400 drops that one batch, counted, and nothing "
    "else: the target gets the rest in order, the other target everything") {
  Sink sink(Sink::Mode::kAccept);
  auto vm = testing::StartVictoriaMetrics();
  testing::PromewmaOptions options;
  options.config = HealthyAndFaultyConfig(*vm, sink);
  auto promewma = testing::StartPromewma(options);
  const int64_t first_ms = (NowMs() - 2 * 3600 * 1000) / 1000 * 1000;
  constexpr int kSamples = 300;
  constexpr double kDerived = kSamples + (kSamples - 10);

  SendSamples(promewma->port(), first_ms, 0, 100);
  REQUIRE(WaitForMetric(*promewma, "samples_sent_total", sink.url(), 190) ==
          190);
  // The next request the sink reads gets 400; it accepts the ones after.
  sink.SetMode(Sink::Mode::kStatus400Once);
  SendSamples(promewma->port(), first_ms, 100, kSamples);
  REQUIRE(WaitForMetric(*promewma, "samples_sent_total", vm->url(),
                        kDerived) == kDerived);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  double sent = 0, dropped = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    sent = WriteBackMetricFor(*promewma, "samples_sent_total", sink.url());
    dropped = WriteBackMetricFor(*promewma, "samples_dropped_total",
                                 sink.url(), {{"reason", "http_4xx"}});
    if (sent + dropped >= kDerived) break;
    std::this_thread::sleep_for(50ms);
  }
  INFO(promewma->StderrTail());
  const std::vector<Sink::Sample> accepted = sink.accepted();
  const std::vector<Sink::Sample> rejected = sink.rejected();
  INFO(accepted.size() << " accepted, " << rejected.size() << " rejected, "
                       << sent << " sent, " << dropped << " dropped");
  // The 400 was final: that batch was sent once and dropped, counted.
  REQUIRE(!rejected.empty());
  REQUIRE(dropped == static_cast<double>(rejected.size()));
  REQUIRE(sent == static_cast<double>(accepted.size()));
  REQUIRE(sent + dropped == kDerived);
  REQUIRE(WriteBackMetricFor(*promewma, "samples_retried_total", sink.url()) ==
          0);
  // Nothing else lost: what the sink accepted came in order, and with the
  // rejected batch it is every derived sample once.
  const SeriesSamples got = BySeries(accepted);
  for (const auto& [series, samples] : got) {
    INFO(series);
    for (size_t i = 1; i < samples.size(); ++i) {
      REQUIRE(samples[i - 1].first < samples[i].first);
    }
  }
  std::vector<Sink::Sample> both = accepted;
  both.insert(both.end(), rejected.begin(), rejected.end());
  SeriesSamples all = BySeries(both);
  for (auto& [series, samples] : all) {
    std::sort(samples.begin(), samples.end());
  }
  REQUIRE(all == ExpectedDerived(first_ms, kSamples));
  REQUIRE(WriteBackMetricFor(*promewma, "samples_pending", sink.url()) == 0);
  // The healthy target lost nothing.
  REQUIRE(WriteBackMetric(*promewma, "samples_failed_total", *vm) == 0);
  RequireNothingDroppedOrPending(*promewma, *vm);
  REQUIRE(promewma->Stop() == 0);
}

}  // namespace
}  // namespace promewma
