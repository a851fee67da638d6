// The sharded topology of deploy/scaleout/ on loopback: node_exporter
// scraped by a real Prometheus 2.42 under several jobs, the CPU series
// split by `hashmod` between promewma replicas, every replica writing back
// to one VictoriaMetrics 1.79, and Prometheus' remote_read merging the
// replicas. The Prometheus and promewma configs are the shipped files with
// the addresses (and the intervals) of this test put in.

#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "codec/snappy_block.h"
#include "config/config.h"
#include "ewma/series_estimator.h"
#include "remote.pb.h"
#include "testing/peers.h"
#include "testing/remote_write.h"

namespace promewma::integration {
namespace {

using namespace std::chrono_literals;
using testing::Peer;

constexpr char kInput[] = "instance:node_cpu_utilisation_percent:rate5m";

// The one node_exporter, scraped as these jobs, each with an instance
// label of its own: series whose shard does not depend on the ports of
// this run (README "Scaling" says which labels to hash). With modulus 2,
// node-2..node-5 hash to replica 0 and node-0, node-1 to replica 1.
constexpr int kJobs = 6;

std::string ReadSourceFile(const std::string& relative) {
  std::ifstream in(std::string(PROMEWMA_SOURCE_DIR) + "/" + relative);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ReplaceAll(std::string text, const std::string& from,
                       const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// The entries of a top-level list `key:` of the shipped prometheus.yml
// that belong to replica 0, as text: from "  - name: promewma-0" to the
// next entry.
std::string ReplicaZeroEntry(const std::string& text, const std::string& key) {
  const size_t section = text.find("\n" + key + ":\n");
  REQUIRE(section != std::string::npos);
  const size_t first = text.find("  - name: promewma-0\n", section);
  const size_t second = text.find("  - name: promewma-1\n", first);
  REQUIRE(second != std::string::npos);
  return text.substr(first, second - first);
}

// deploy/scaleout/prometheus.yml for `replicas` (their index is their
// shard): the shipped file's replica-0 remote_write and remote_read
// entries repeated with each index and modulus replicas.size(), every
// interval 1s, and the extra jobs scraping `node`.
std::string ShardedPrometheusConfig(const std::vector<const Peer*>& replicas,
                                    const Peer& node) {
  const std::string shipped = ReadSourceFile("deploy/scaleout/prometheus.yml");
  const std::string write_entry = ReplicaZeroEntry(shipped, "remote_write");
  const std::string read_entry = ReplicaZeroEntry(shipped, "remote_read");
  std::string config = shipped.substr(0, shipped.find("\nremote_write:\n"));
  config += "\nremote_write:";
  if (replicas.empty()) config += " []";
  config += "\n";
  const std::string n = std::to_string(replicas.size());
  for (size_t i = 0; i < replicas.size(); ++i) {
    std::string entry = write_entry;
    entry = ReplaceAll(entry, "modulus: 2", "modulus: " + n);
    entry = ReplaceAll(entry, "regex: '0'", "regex: '" + std::to_string(i) + "'");
    config += ReplaceAll(entry, "promewma-0", "promewma-" + std::to_string(i));
  }
  config += "\nremote_read:";
  if (replicas.empty()) config += " []";
  config += "\n";
  for (size_t i = 0; i < replicas.size(); ++i) {
    config +=
        ReplaceAll(read_entry, "promewma-0", "promewma-" + std::to_string(i));
  }
  for (size_t i = 0; i < replicas.size(); ++i) {
    config = ReplaceAll(config, "promewma-" + std::to_string(i) + ":9201",
                        replicas[i]->address());
  }
  // Replicas the shipped scrape job names but this run does not have.
  for (size_t i = replicas.size(); i < 2; ++i) {
    config = ReplaceAll(config,
                        ", 'promewma-" + std::to_string(i) + ":9201'", "");
    config = ReplaceAll(config, "'promewma-" + std::to_string(i) + ":9201'",
                        "");
  }
  config = ReplaceAll(config, "15s", "1s");
  config = ReplaceAll(config, "../prometheus/rules/promewma.rules.yml",
                      std::string(PROMEWMA_SOURCE_DIR) +
                          "/deploy/prometheus/rules/promewma.rules.yml");
  config = ReplaceAll(config, "alertmanager:9093", "127.0.0.1:9");
  config = ReplaceAll(config, "node-exporter:9100", node.address());
  std::string jobs;
  for (int j = 0; j < kJobs; ++j) {
    const std::string k = std::to_string(j);
    jobs += "  - job_name: node-" + k + "\n    static_configs:\n      - targets: ['" +
            node.address() + "']\n        labels: {instance: host-" + k + "}\n";
  }
  return ReplaceAll(config, "scrape_configs:\n", "scrape_configs:\n" + jobs);
}

// deploy/scaleout/promewma.yml writing back to `vm`, warming from
// `prometheus` over `lookback`.
std::string ReplicaConfig(const Peer& vm, const Peer& prometheus,
                          const std::string& lookback = "6h") {
  std::string config = ReadSourceFile("deploy/scaleout/promewma.yml");
  config = ReplaceAll(config, "http://victoria-metrics:8428", vm.url());
  config = ReplaceAll(config, "http://prometheus:9090", prometheus.url());
  return ReplaceAll(config, "lookback: 6h", "lookback: " + lookback);
}

// Writes `config` as Prometheus' prometheus.yml, reloads it (SIGHUP), and
// waits (bounded) until the running config names `expect`.
void ReloadPrometheus(const Peer& prometheus, const std::string& config,
                      const std::string& expect) {
  prometheus.WriteFile("prometheus.yml", config);
  REQUIRE(::kill(prometheus.pid(), SIGHUP) == 0);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (prometheus.Get("/api/v1/status/config").find(expect) ==
         std::string::npos) {
    INFO(prometheus.StderrTail());
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(100ms);
  }
}

// The jobs of the `name` series a replica's /federate serves now.
std::set<std::string> FederatedJobs(const Peer& replica,
                                    const std::string& name) {
  std::set<std::string> jobs;
  for (const testing::ExposedSample& s :
       replica.Scrape(testing::FederatePath({name}))) {
    if (s.name == name) jobs.insert(s.labels.at("job"));
  }
  return jobs;
}

// The jobs of the `name` series VictoriaMetrics holds.
std::set<std::string> VictoriaMetricsJobs(const Peer& vm,
                                          const std::string& name) {
  httplib::Client c("127.0.0.1", vm.port());
  c.set_read_timeout(20, 0);
  c.Get("/internal/force_flush");
  auto r = c.Post("/api/v1/export", httplib::Params{{"match[]", name}});
  std::set<std::string> jobs;
  if (!r || r->status != 200) return jobs;
  std::istringstream lines(r->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    jobs.insert(nlohmann::json::parse(line)["metric"]["job"].get<std::string>());
  }
  return jobs;
}

// job -> number of samples of `name`[window] through Prometheus' PromQL
// API (an instant query of a range selector returns every raw sample).
std::map<std::string, size_t> PrometheusSamplesByJob(const Peer& prometheus,
                                                     const std::string& name,
                                                     const std::string& window) {
  httplib::Client c("127.0.0.1", prometheus.port());
  c.set_read_timeout(20, 0);
  auto r = c.Post("/api/v1/query",
                  httplib::Params{{"query", name + "[" + window + "]"}});
  std::map<std::string, size_t> out;
  if (!r || r->status != 200) {
    UNSCOPED_INFO("query " << name << ": "
                           << (r ? r->body : httplib::to_string(r.error())));
    return out;
  }
  // Named: a range-for over a member of the temporary parse() would
  // outlive it.
  const nlohmann::json body = nlohmann::json::parse(r->body);
  for (const auto& series : body["data"]["result"]) {
    out[series["metric"]["job"].get<std::string>()] = series["values"].size();
  }
  return out;
}

std::set<std::string> AllJobs() {
  std::set<std::string> jobs = {"node"};
  for (int j = 0; j < kJobs; ++j) jobs.insert("node-" + std::to_string(j));
  return jobs;
}

TEST_CASE(
    "two replicas behind hashmod each process their own series, write back "
    "to one VictoriaMetrics and are merged by Prometheus' remote_read") {
  auto node = testing::StartNodeExporter(
      {"--collector.disable-defaults", "--collector.cpu"});
  auto vm = testing::StartVictoriaMetrics();
  // Prometheus first, without replicas; the replicas are added by a reload
  // (as when resharding), once their ports are known.
  auto prometheus = testing::StartPrometheus(ShardedPrometheusConfig({}, *node));
  testing::PromewmaOptions options;
  options.config = ReplicaConfig(*vm, *prometheus);
  auto replica0 = testing::StartPromewma(options);
  auto replica1 = testing::StartPromewma(options);
  ReloadPrometheus(*prometheus,
                   ShardedPrometheusConfig({replica0.get(), replica1.get()},
                                           *node),
                   replica1->address());

  const std::string ewma = std::string(kInput) + ":ewma";
  const std::set<std::string> all = AllJobs();
  // Every series reaches a replica: the union of what they serve is all.
  std::set<std::string> jobs0, jobs1;
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < deadline) {
    jobs0 = FederatedJobs(*replica0, ewma);
    jobs1 = FederatedJobs(*replica1, ewma);
    std::set<std::string> both = jobs0;
    both.insert(jobs1.begin(), jobs1.end());
    if (both == all) break;
    std::this_thread::sleep_for(500ms);
  }
  INFO(prometheus->StderrTail());
  std::set<std::string> both = jobs0;
  both.insert(jobs1.begin(), jobs1.end());
  REQUIRE(both == all);
  // ... and exactly one: the replicas' series are disjoint, and each
  // replica's input series count says the same.
  for (const std::string& job : jobs0) {
    INFO(job);
    REQUIRE(jobs1.count(job) == 0);
  }
  REQUIRE(jobs0.count("node-2") == 1);
  REQUIRE(jobs1.count("node-0") == 1);
  // A few more samples later, still no series on both.
  std::this_thread::sleep_for(3s);
  for (const std::string& job : FederatedJobs(*replica0, ewma)) {
    INFO(job);
    REQUIRE(FederatedJobs(*replica1, ewma).count(job) == 0);
  }
  REQUIRE(replica0->MetricValue("promewma_series_active") ==
          static_cast<double>(jobs0.size()));
  REQUIRE(replica1->MetricValue("promewma_series_active") ==
          static_cast<double>(jobs1.size()));

  // The shared store holds the derived series of all of them (thresholds
  // once min_samples samples are in).
  for (const std::string& name :
       {ewma, std::string(kInput) + ":upper_threshold"}) {
    INFO(name);
    std::set<std::string> in_vm;
    for (const auto vm_deadline = std::chrono::steady_clock::now() + 60s;
         std::chrono::steady_clock::now() < vm_deadline;
         std::this_thread::sleep_for(500ms)) {
      in_vm = VictoriaMetricsJobs(*vm, name);
      if (in_vm == all) break;
    }
    REQUIRE(in_vm == all);
  }

  // PromQL through Prometheus: its own TSDB holds no derived series, so
  // every `:ewma` history comes from the replicas by remote_read, merged.
  std::map<std::string, size_t> history;
  for (const auto q_deadline = std::chrono::steady_clock::now() + 30s;
       std::chrono::steady_clock::now() < q_deadline;
       std::this_thread::sleep_for(500ms)) {
    history = PrometheusSamplesByJob(*prometheus, ewma, "10m");
    if (history.size() == all.size()) break;
  }
  REQUIRE(history.size() == all.size());
  for (const auto& [job, samples] : history) {
    INFO(job);
    REQUIRE(all.count(job) == 1);
    REQUIRE(samples >= 3);
  }

  REQUIRE(replica0->Stop() == 0);
  REQUIRE(replica1->Stop() == 0);
}

// (timestamp ms, value) of `name`{job} over the last `window`, from
// Prometheus' PromQL API (its own TSDB for the input series).
std::vector<std::pair<int64_t, double>> PrometheusSamples(
    const Peer& prometheus, const std::string& name, const std::string& job,
    const std::string& window) {
  httplib::Client c("127.0.0.1", prometheus.port());
  c.set_read_timeout(20, 0);
  auto r = c.Post("/api/v1/query",
                  httplib::Params{{"query", name + "{job=\"" + job + "\"}[" +
                                                window + "]"}});
  std::vector<std::pair<int64_t, double>> out;
  if (!r || r->status != 200) return out;
  const nlohmann::json body = nlohmann::json::parse(r->body);
  for (const auto& series : body["data"]["result"]) {
    for (const auto& v : series["values"]) {
      out.push_back({std::llround(v[0].get<double>() * 1000),
                     std::stod(v[1].get<std::string>())});
    }
  }
  return out;
}

// (timestamp ms, value) of name{job, instance="host-K"} (job node-K) from
// a replica's remote read; empty while it has no such series.
std::vector<std::pair<int64_t, double>> ReplicaSamples(const Peer& replica,
                                                       const std::string& name,
                                                       const std::string& job,
                                                       int64_t start_ms,
                                                       int64_t end_ms) {
  httplib::Client client("127.0.0.1", replica.port());
  client.set_read_timeout(20, 0);
  auto r = client.Post(
      "/api/v1/read",
      {{"Content-Encoding", "snappy"},
       {"X-Prometheus-Remote-Read-Version", "0.1.0"}},
      codec::CompressSnappyBlock(testing::SerializeReadRequest(
          {{"__name__", name}, {"job", job}, {"instance", "host-" + job.substr(5)}},
          start_ms, end_ms)),
      "application/x-protobuf");
  std::vector<std::pair<int64_t, double>> out;
  if (!r || r->status != 200) return out;
  std::string raw;
  REQUIRE(codec::DecompressSnappyBlock(r->body, 1 << 30, &raw).ok());
  prometheus::ReadResponse response;
  REQUIRE(response.ParseFromString(raw));
  for (const auto& result : response.results()) {
    for (const auto& series : result.timeseries()) {
      for (const auto& sample : series.samples()) {
        out.emplace_back(sample.timestamp(), sample.value());
      }
    }
  }
  return out;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The lookback the replicas warm over, in samples (1 s apart here).
constexpr int kLookbackSamples = 60;

TEST_CASE(
    "resizing from 2 to 3 replicas warms each moved series from "
    "Prometheus: its thresholds continue an uninterrupted run's") {
  auto node = testing::StartNodeExporter(
      {"--collector.disable-defaults", "--collector.cpu"});
  auto vm = testing::StartVictoriaMetrics();
  auto prometheus = testing::StartPrometheus(ShardedPrometheusConfig({}, *node));
  testing::PromewmaOptions options;
  options.config = ReplicaConfig(*vm, *prometheus,
                                 std::to_string(kLookbackSamples) + "s");
  // The replicas' estimator, explicit: the plain EWMA band, whose every
  // part (mean, ewm_std spread) forgets at span 10, and no season. What
  // is tested is that warm start continues a run, within the bound a
  // lookback gives an estimator that forgets within it. The defaults'
  // error spread remembers 10000 samples and their season needs 24h of
  // history: a lookback covering them would take days of history.
  options.config = ReplaceAll(
      options.config, "\newma:\n",
      "\newma:\n  span: 10\n  k: 3\n  spread: ewm_std\n  season: {slots: 0}\n");
  const auto parsed = config::ParseConfig(options.config, "replica config");
  INFO(parsed.status().message());
  REQUIRE(parsed.ok());
  const ewma::EstimatorParams params = parsed.value().ewma;
  REQUIRE(params.spread == ewma::SpreadKind::kEwmStd);
  REQUIRE(params.season_slots == 0);
  auto r0 = testing::StartPromewma(options);
  auto r1 = testing::StartPromewma(options);
  auto r2 = testing::StartPromewma(options);
  ReloadPrometheus(*prometheus, ShardedPrometheusConfig({r0.get(), r1.get()}, *node),
                   r1->address());

  // With modulus 3 (Prometheus' hashmod, md5 of name;job;instance): these
  // move, to these replicas. The rest stay where they are.
  const std::map<std::string, const Peer*> moved = {
      {"node-0", r0.get()},
      {"node-2", r1.get()},
      {"node-4", r1.get()},
      {"node-5", r2.get()}};
  // History first: more than the lookback in Prometheus for every series,
  // processed by the two replicas.
  const std::string input = kInput;
  for (const auto deadline = std::chrono::steady_clock::now() + 150s;;
       std::this_thread::sleep_for(1s)) {
    size_t ready = 0;
    std::string counts;
    for (const auto& [job, samples] :
         PrometheusSamplesByJob(*prometheus, input, "10m")) {
      if (job != "node" && samples >= kLookbackSamples + 10) ++ready;
      counts += job + ": " + std::to_string(samples) + " ";
    }
    if (ready == kJobs) break;
    INFO("samples by job: " << counts);
    INFO(prometheus->StderrTail());
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  }
  REQUIRE(r2->MetricValue("promewma_series_active") == 0);
  const int64_t move_ms = NowMs();
  ReloadPrometheus(*prometheus,
                   ShardedPrometheusConfig({r0.get(), r1.get(), r2.get()}, *node),
                   r2->address());

  // Each moved series reaches its new owner, which warms it and then has
  // thresholds from its very first sample on.
  const std::string upper = input + ":upper_threshold";
  std::map<std::string, std::vector<std::pair<int64_t, double>>> after;
  for (const auto deadline = std::chrono::steady_clock::now() + 90s;;
       std::this_thread::sleep_for(1s)) {
    size_t ready = 0;
    for (const auto& [job, owner] : moved) {
      after[job] = ReplicaSamples(*owner, upper, job, move_ms - 600000,
                                  NowMs() + 60000);
      if (after[job].size() >= 15) ++ready;
    }
    if (ready == moved.size()) break;
    INFO(r2->StderrTail());
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  }
  double warmed = 0;
  for (const Peer* r : {r0.get(), r1.get(), r2.get()}) {
    warmed += r->MetricValue("promewma_warm_start_series_total",
                             {{"result", "warmed"}});
  }
  REQUIRE(warmed >= static_cast<double>(moved.size()));

  // The uninterrupted run: the replicas' estimator (`params`, read from
  // their config) over the series' whole raw history in Prometheus.
  //
  // Tolerance: the new owner replays only the last kLookbackSamples (60)
  // samples before its first, starting cold there. The estimator forgets
  // geometrically: an error e in its state (mean, spread, weights) weighs
  // (1 - 2/11)^60 = 6e-6 e after 60 samples, and less with each later one.
  // CPU utilisation is a percentage, so e < 100 and the thresholds differ
  // by less than 1e-3. Starting cold instead differs by the whole band and
  // has no threshold for min_samples (10) samples.
  constexpr double kTolerance = 1e-3;
  for (const auto& [job, owner] : moved) {
    INFO(job);
    const auto raw = PrometheusSamples(*prometheus, input, job, "15m");
    REQUIRE(raw.size() > kLookbackSamples);
    std::map<int64_t, double> uninterrupted;
    ewma::EstimatorState state;
    ewma::DerivedValues v;
    for (const auto& [ms, value] : raw) {
      ewma::UpdateEstimator(params, &state, ms, value, &v);
      if (v.has(ewma::Output::kUpperThreshold)) {
        uninterrupted[ms] = v.get(ewma::Output::kUpperThreshold);
      }
    }
    // The new owner's raw samples start at its first live sample, and so
    // do its thresholds: none is held back for min_samples.
    const auto owned =
        ReplicaSamples(*owner, input, job, move_ms - 600000, NowMs() + 60000);
    REQUIRE(!owned.empty());
    const auto& thresholds = after[job];
    REQUIRE(thresholds.front().first == owned.front().first);
    size_t compared = 0;
    for (const auto& [ms, got] : thresholds) {
      auto want = uninterrupted.find(ms);
      if (want == uninterrupted.end()) continue;  // newer than the query
      INFO("timestamp " << ms << " got " << got << " want " << want->second);
      REQUIRE(std::fabs(got - want->second) <= kTolerance);
      ++compared;
    }
    REQUIRE(compared >= 10);
  }

  for (auto* r : {r0.get(), r1.get(), r2.get()}) REQUIRE(r->Stop() == 0);
}

}  // namespace
}  // namespace promewma::integration
