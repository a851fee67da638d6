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
#include <atomic>
#include <fstream>
#include <mutex>
#include <regex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "codec/snappy_block.h"
#include "testing/peers.h"
#include "testing/remote_write.h"
#include "testing/subprocess.h"

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

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `text` with every `from` replaced by `to`; fails the running test unless
// there were exactly `count` of them.
std::string ReplaceAll(std::string text, const std::string& from,
                       const std::string& to, int count) {
  int n = 0;
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
    ++n;
  }
  INFO("\"" << from << "\" in the shipped file");
  REQUIRE(n == count);
  return text;
}

// Remote-writes one series' samples to the server at `port`.
void Write(int port, const std::string& instance,
           const std::vector<std::pair<int64_t, double>>& samples) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/api/v1/write", {{"Content-Encoding", "snappy"}},
                  codec::CompressSnappyBlock(testing::SerializeWriteRequest(
                      {{{{"__name__", kCpu},
                         {"instance", instance},
                         {"job", "node"}},
                        samples}})),
                  "application/x-protobuf");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 204);
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

// Waits (bounded) until Prometheus at `port` sends alerts to the
// Alertmanager at `address`. Prometheus' notifier learns its Alertmanagers
// from service discovery, whose first update comes up to 5 s after the
// start; an alert sent before that is dropped (counted in
// prometheus_notifications_dropped_total, not logged) and sent again only
// after the resend delay, 1m. So a test alert that fires at once and ends
// within the minute never reaches an Alertmanager unless this came first.
void WaitForAlertmanager(int port, const std::string& address) {
  httplib::Client c("127.0.0.1", port);
  const std::string url = "http://" + address + "/api/v2/alerts";
  std::string last;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = c.Get("/api/v1/alertmanagers");
    if (r && r->status == 200) {
      last = r->body;
      const nlohmann::json body = nlohmann::json::parse(last);
      for (const auto& am : body["data"]["activeAlertmanagers"]) {
        if (am.value("url", "") == url) return;
      }
    }
    std::this_thread::sleep_for(200ms);
  }
  FAIL("Prometheus did not discover the Alertmanager at " << address << ": "
                                                           << last);
}

// Prometheus' full config: scrapes node_exporter and promewma every
// second, evaluates the shipped rules every second, remote-writes the
// recorded CPU to promewma as deploy/prometheus/prometheus.yml does.
std::string PrometheusConfig(const testing::Peer& node,
                             const testing::Peer& promewma,
                             const std::string& alertmanager_address) {
  testing::NodeToPromewmaConfig config;
  config.queue_config = "{batch_send_deadline: 500ms, min_backoff: 100ms}";
  config.keep = kCpu;
  config.extra_jobs = {{"promewma", promewma.address()}};
  config.extra =
      "rule_files: [promewma.rules.yml]\n"
      "storage:\n  tsdb:\n    out_of_order_time_window: 1h\n";
  if (!alertmanager_address.empty()) {
    config.extra += "alerting:\n  alertmanagers:\n    - static_configs:\n"
                    "        - targets: [\"" +
                    alertmanager_address + "\"]\n";
  }
  return testing::PrometheusConfig(node, promewma, config);
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

// A stand-in for the Power Automate workflow: tools/teams_sink, the
// demo's sink, in a process of its own. It answers 202 and keeps each body.
class WorkflowSink {
 public:
  WorkflowSink()
      : process_({PROMEWMA_PYTHON,
                  std::string(PROMEWMA_SOURCE_DIR) +
                      "/tools/teams_sink/teams_sink.py",
                  "--listen", "127.0.0.1:0"},
                 dir_.path()) {
    const std::string prefix = "teams_sink: listening on http://127.0.0.1:";
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string out = process_.Stdout();
      if (out.rfind(prefix, 0) == 0 && out.find('\n') != std::string::npos) {
        port_ = std::stoi(out.substr(prefix.size()));
        return;
      }
      REQUIRE(process_.Wait(0ms) < 0);
      std::this_thread::sleep_for(50ms);
    }
    FAIL("teams_sink did not start: " << process_.Stderr());
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/workflows/test";
  }
  // The bodies received so far.
  std::vector<std::string> Bodies() const {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/cards.json");
    std::vector<std::string> out;
    if (!r || r->status != 200) return out;
    const nlohmann::json cards = nlohmann::json::parse(r->body);
    for (const auto& card : cards) out.push_back(card["body"].dump());
    return out;
  }
  // The first body that holds every one of `parts`, waiting up to
  // `timeout`; empty when none came.
  std::string WaitFor(const std::vector<std::string>& parts,
                      std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
      for (const std::string& body : Bodies()) {
        bool all = true;
        for (const std::string& p : parts) {
          all &= body.find(p) != std::string::npos;
        }
        if (all) return body;
      }
      std::this_thread::sleep_for(500ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return "";
  }
  std::string All() const {
    std::string out;
    for (const std::string& b : Bodies()) out += b + "\n";
    return out;
  }

 private:
  testing::TempDir dir_;
  testing::Subprocess process_;  // killed when the test ends
  int port_ = 0;
};

TEST_CASE("a CPU spike above its adaptive threshold reaches Teams as a "
          "firing card, then a resolved one, through Alertmanager 0.25 and "
          "the relay") {
  auto node = testing::StartNodeExporter(
      {"--collector.disable-defaults", "--collector.cpu"});
  // The shipped rules with only `keep_firing_for:` of the two CPU alerts
  // shortened, from 12h to 5s: with 12h the alert stays firing for half a
  // day after the spike, so no resolved card could come within a test. The
  // expressions, `for: 0s` (checked here: both CPU alerts) and everything
  // else are the shipped ones.
  std::string rules = ShippedRules();
  ReplaceAll(rules, "        for: 0s\n", "        for: 0s\n", 2);
  rules = ReplaceAll(rules, "keep_firing_for: 12h\n", "keep_firing_for: 5s\n", 2);
  auto prometheus = testing::StartPrometheus(
      "global: {scrape_interval: 1m}\n", {"--web.enable-remote-write-receiver"},
      {{"promewma.rules.yml", rules}});
  WorkflowSink sink;
  testing::PromewmaOptions options;
  // half_life in time: 10m at one sample a second. With the default
  // spread (error_rms over 10000 samples, k 4.5) the band starts at about
  // 15% and widens with each spike sample: it passes 95% after about 28
  // of them, and the alert, firing from the first, resolves 5 s later.
  options.config = R"(
ewma:
  half_life: 10m
  min_samples: 10
write_back:
  - url: )" + prometheus->url() + R"(/api/v1/write
    queue_config:
      batch_send_deadline: 100ms
notify:
  msteams:
    webhook_url: )" + sink.url() + R"(
    title: CPU anomaly
    send_resolved: true
)";
  auto promewma = testing::StartPromewma(options);
  // The demo's Alertmanager config, pointed at this promewma.
  const std::string am_config = std::regex_replace(
      ReadFile(std::string(PROMEWMA_SOURCE_DIR) +
               "/deploy/local/alertmanager.yml"),
      std::regex("127\\.0\\.0\\.1:9201"), promewma->address());
  REQUIRE(am_config.find(promewma->address()) != std::string::npos);
  auto alertmanager = testing::StartAlertmanager(am_config);
  prometheus->Stop();
  prometheus->WriteFile(
      "prometheus.yml",
      PrometheusConfig(*node, *promewma, alertmanager->address()));
  prometheus->Start();
  WaitForAlertmanager(prometheus->port(), alertmanager->address());

  // Ten minutes of calm history for instance "spike", straight into
  // promewma (one sample a second, 10% +- 1), ending now: its band.
  const int64_t now = NowMs() / 1000 * 1000;
  std::vector<std::pair<int64_t, double>> history;
  for (int i = 600; i >= 1; --i) {
    history.push_back({now - i * 1000, i % 2 == 0 ? 9.0 : 11.0});
  }
  Write(promewma->port(), "spike", history);

  // Live samples into Prometheus' receiver, one a second: in order, so
  // its remote_write forwards them to promewma like a recorded series.
  std::atomic<double> value{95};  // the spike, until the card came
  std::atomic<bool> stop{false};
  std::thread feeder([&] {
    int64_t t = now;
    while (!stop) {
      t = std::max(t + 1000, NowMs());
      Write(prometheus->port(), "spike", {{t, value.load()}});
      std::this_thread::sleep_for(1s);
    }
  });
  struct Join {
    std::atomic<bool>* stop;
    std::thread* thread;
    ~Join() {
      *stop = true;
      thread->join();
    }
  } join{&stop, &feeder};

  const std::string firing = sink.WaitFor(
      {"FIRING: CPUAboveAdaptiveThreshold", "\"spike\""}, 90s);
  INFO(sink.All());
  INFO(promewma->StderrTail());
  REQUIRE(!firing.empty());
  // The Teams workflow's message: an Adaptive Card with the value and the
  // threshold from the shipped rule's annotations.
  const nlohmann::json message = nlohmann::json::parse(firing);
  CHECK(message["type"] == "message");
  CHECK(message["attachments"][0]["contentType"] ==
        "application/vnd.microsoft.card.adaptive");
  CHECK(message["attachments"][0]["content"]["version"] == "1.4");
  CHECK(firing.find("CPU anomaly") != std::string::npos);
  CHECK(firing.find("\"threshold\"") != std::string::npos);
  CHECK(firing.find("above its adaptive threshold") != std::string::npos);

  value = 10;  // back to calm: below the band, resolved after keep_firing_for
  const std::string resolved = sink.WaitFor(
      {"RESOLVED: CPUAboveAdaptiveThreshold", "\"spike\""}, 90s);
  REQUIRE(!resolved.empty());

  REQUIRE(promewma->Stop() == 0);
}

}  // namespace
}  // namespace promewma
