// Alertmanager 0.25, configured with the shipped
// deploy/alertmanager/alertmanager.yml (its timings shortened), delivers
// to promewma's Teams relay, which posts Adaptive Cards to a local sink
// standing in for the Power Automate workflows: a firing card naming the
// instance, then a resolved one, on the default and on a named channel.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "testing/peers.h"
#include "testing/teams_sink.h"

namespace promewma::integration {
namespace {

using namespace std::chrono_literals;
using testing::TeamsSink;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces every `from` in `text`; fails the test when there is none (the
// shipped file changed under the test).
void ReplaceAll(std::string* text, const std::string& from,
                const std::string& to) {
  size_t at = text->find(from);
  INFO("deploy/alertmanager/alertmanager.yml no longer holds " << from);
  REQUIRE(at != std::string::npos);
  for (; at != std::string::npos; at = text->find(from, at + to.size())) {
    text->replace(at, from.size(), to);
  }
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// POST /api/v2/alerts, as Prometheus sends them.
void PostAlert(int port, const nlohmann::json& labels, bool resolved) {
  const auto now = std::chrono::system_clock::now();
  nlohmann::json alert = {
      {"labels", labels},
      {"annotations",
       {{"summary", "CPU above its adaptive threshold"},
        {"value", "93%"},
        {"threshold", "71%"}}},
      {"startsAt", Rfc3339(now - 1min)},
      {"generatorURL", "http://prometheus.example:9090/graph?g0.expr=cpu"}};
  // An end in the past resolves it; one in the future keeps it firing.
  alert["endsAt"] = Rfc3339(resolved ? now - 1s : now + 1h);
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/api/v2/alerts", nlohmann::json::array({alert}).dump(),
                  "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
}

bool IsCard(const TeamsSink::Received& r, const std::string& path,
            const std::string& instance, const std::string& status) {
  if (r.path != path) return false;
  nlohmann::json m = nlohmann::json::parse(r.body, nullptr, false);
  if (m.is_discarded()) return false;
  const nlohmann::json& card = m["attachments"][0]["content"];
  return card["type"] == "AdaptiveCard" &&
         r.body.find(instance) != std::string::npos &&
         r.body.find("\"" + status + ": CPUAboveAdaptiveThreshold\"") !=
             std::string::npos;
}

TEST_CASE(
    "Alertmanager 0.25 delivers firing and resolved cards through the "
    "relay",
    "[integration]") {
  TeamsSink sink;
  testing::PromewmaOptions options;
  options.config = "notify:\n  msteams:\n    webhook_url: '" +
                   sink.url("/workflows/default") +
                   "'\n    channels:\n      database:\n        webhook_url: '" +
                   sink.url("/workflows/database") + "'\n";
  auto promewma = testing::StartPromewma(options);

  std::string config = ReadFile(std::string(PROMEWMA_SOURCE_DIR) +
                                "/deploy/alertmanager/alertmanager.yml");
  ReplaceAll(&config, "127.0.0.1:9201", promewma->address());
  ReplaceAll(&config, "group_wait: 30s", "group_wait: 1s");
  ReplaceAll(&config, "group_interval: 5m", "group_interval: 1s");
  auto alertmanager = testing::StartAlertmanager(config);

  const nlohmann::json web = {{"alertname", "CPUAboveAdaptiveThreshold"},
                              {"instance", "web-1:9100"},
                              {"severity", "warning"}};
  const nlohmann::json db = {{"alertname", "CPUAboveAdaptiveThreshold"},
                             {"instance", "db-1:9100"},
                             {"severity", "warning"},
                             {"team", "database"}};
  PostAlert(alertmanager->port(), web, false);
  PostAlert(alertmanager->port(), db, false);
  const std::string firing = sink.WaitFor(
      [](const TeamsSink::Received& r) {
        return IsCard(r, "/workflows/default", "web-1:9100", "FIRING");
      },
      60s);
  CHECK_THAT(firing, Catch::Contains("#/silences/new?filter="));
  CHECK_THAT(firing, Catch::Contains("http://prometheus.example:9090/graph"));
  sink.WaitFor(
      [](const TeamsSink::Received& r) {
        return IsCard(r, "/workflows/database", "db-1:9100", "FIRING");
      },
      60s);

  PostAlert(alertmanager->port(), web, true);
  PostAlert(alertmanager->port(), db, true);
  const std::string resolved = sink.WaitFor(
      [](const TeamsSink::Received& r) {
        return IsCard(r, "/workflows/default", "web-1:9100", "RESOLVED");
      },
      60s);
  CHECK_THAT(resolved, Catch::Contains("\"style\":\"good\""));
  sink.WaitFor(
      [](const TeamsSink::Received& r) {
        return IsCard(r, "/workflows/database", "db-1:9100", "RESOLVED");
      },
      60s);
  // The default channel never got the database alert.
  for (const TeamsSink::Received& r : sink.received()) {
    if (r.path == "/workflows/default") {
      CHECK(r.body.find("db-1:9100") == std::string::npos);
    }
  }
  CHECK(promewma->MetricValue("promewma_notify_messages_total",
                              {{"channel", "default"}, {"result", "failed"}}) ==
        0);
  CHECK(alertmanager->Stop() == 0);
  CHECK(promewma->Stop() == 0);
}

}  // namespace
}  // namespace promewma::integration
