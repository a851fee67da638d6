#include "notify/teams_relay.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace promewma::notify {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// Records what it is asked to post and answers with `outcome`.
class FakeClient : public WorkflowClient {
 public:
  DeliveryResult Post(const std::string& url, const std::string& json,
                      milliseconds budget) override {
    std::lock_guard<std::mutex> lock(mu);
    posts.push_back({url, json});
    budgets.push_back(budget);
    DeliveryResult r;
    r.outcome = outcome;
    r.http_status = outcome == DeliveryResult::Outcome::kAccepted ? 202 : 500;
    r.reason = "fake reason";
    return r;
  }

  std::mutex mu;
  DeliveryResult::Outcome outcome = DeliveryResult::Outcome::kAccepted;
  std::vector<std::pair<std::string, std::string>> posts;
  std::vector<milliseconds> budgets;
};

config::MsTeamsConfig TwoChannels(bool with_default = true) {
  config::MsTeamsConfig c;
  if (with_default) {
    config::TeamsChannel def;
    def.webhook_url = "http://127.0.0.1:1/default?sig=SECRETSIG";
    def.timeout_ms = 3000;
    c.default_channel = def;
  }
  config::TeamsChannel ops;
  ops.webhook_url = "http://127.0.0.1:1/ops";
  ops.title = "Ops alert";
  ops.send_resolved = false;
  c.channels["ops"] = ops;
  return c;
}

std::string Payload(const std::vector<std::string>& statuses) {
  nlohmann::json alerts = nlohmann::json::array();
  for (size_t i = 0; i < statuses.size(); ++i) {
    alerts.push_back(
        {{"status", statuses[i]},
         {"labels",
          {{"alertname", "CPU"}, {"instance", "host-" + std::to_string(i)}}},
         {"startsAt", "2026-12-04T13:00:00Z"}});
  }
  return nlohmann::json{{"version", "4"},
                        {"status", "firing"},
                        {"externalURL", "http://am:9093"},
                        {"alerts", alerts}}
      .dump();
}

std::string Metrics(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST_CASE("The relay routes the default and named channels to their URLs",
          "[notify]") {
  prometheus::Registry registry;
  FakeClient client;
  TeamsRelay relay(TwoChannels(), &client, registry);
  http::HttpResponse r =
      relay.Handle("/api/v1/notify/msteams", Payload({"firing"}));
  CHECK(r.status == 200);
  CHECK(r.body == "sent 1 message to Teams channel default\n");
  r = relay.Handle("/api/v1/notify/msteams/ops", Payload({"firing"}));
  CHECK(r.status == 200);
  REQUIRE(client.posts.size() == 2);
  CHECK(client.posts[0].first == "http://127.0.0.1:1/default?sig=SECRETSIG");
  CHECK(client.posts[1].first == "http://127.0.0.1:1/ops");
  CHECK_THAT(client.posts[1].second, Catch::Contains("Ops alert"));
  CHECK(client.budgets[0] <= milliseconds(3000));
  CHECK(client.budgets[0] > milliseconds(2000));
  const std::string m = Metrics(registry);
  CHECK_THAT(m, Catch::Contains(
                    "promewma_notify_messages_total{channel=\"default\",result="
                    "\"sent\"} 1"));
  CHECK_THAT(
      m, Catch::Contains("promewma_notify_requests_total{channel=\"ops\",code="
                         "\"200\"} 1"));
  CHECK_THAT(
      m, Catch::Contains("promewma_notify_send_duration_seconds_count{channel="
                         "\"default\"} 1"));
  CHECK(m.find("SECRETSIG") == std::string::npos);
}

TEST_CASE("The relay refuses unknown channels and bad payloads without sending",
          "[notify]") {
  prometheus::Registry registry;
  FakeClient client;
  TeamsRelay relay(TwoChannels(), &client, registry);
  auto [path, body, status, reason] =
      GENERATE(table<std::string, std::string, int, std::string>({
          {"/api/v1/notify/msteams/nope", "{}", 404,
           "no Teams channel named \"nope\" (channels: ops)"},
          {"/api/v1/notify/msteams/ops/x", "{}", 404, "no Teams channel named"},
          {"/api/v1/notify/msteams/", "{}", 404,
           "no Teams channel named \"\" (channels: ops)"},
          {"/api/v1/notify/msteams", "{", 400,
           "bad Alertmanager payload: not valid JSON"},
          {"/api/v1/notify/msteams/ops",
           R"({"version":"2","status":"firing","alerts":[]})", 400,
           "bad Alertmanager payload: version: must be \"4\""},
          {"/api/v1/notify/msteams", std::string(kMaxBodyBytes + 1, ' '), 413,
           "request body over the size limit of 1048576 bytes"},
      }));
  http::HttpResponse r = relay.Handle(path, body);
  CHECK(r.status == status);
  CHECK_THAT(r.body, Catch::StartsWith(reason));
  CHECK(r.body.find('\n') == r.body.size() - 1);
  CHECK(client.posts.empty());
}

TEST_CASE(
    "Without a default channel the unnamed path is a 404 naming the "
    "channels",
    "[notify]") {
  prometheus::Registry registry;
  FakeClient client;
  TeamsRelay relay(TwoChannels(false), &client, registry);
  http::HttpResponse r =
      relay.Handle("/api/v1/notify/msteams", Payload({"firing"}));
  CHECK(r.status == 404);
  CHECK_THAT(r.body, Catch::Contains("channels: ops"));
}

TEST_CASE(
    "send_resolved false drops resolved alerts and sends nothing for "
    "only resolved ones",
    "[notify]") {
  prometheus::Registry registry;
  FakeClient client;
  TeamsRelay relay(TwoChannels(), &client, registry);
  http::HttpResponse r =
      relay.Handle("/api/v1/notify/msteams/ops", Payload({"resolved"}));
  CHECK(r.status == 200);
  CHECK_THAT(r.body, Catch::StartsWith("nothing to send"));
  CHECK(client.posts.empty());
  r = relay.Handle("/api/v1/notify/msteams/ops",
                   Payload({"resolved", "firing"}));
  CHECK(r.status == 200);
  REQUIRE(client.posts.size() == 1);
  CHECK_THAT(client.posts[0].second,
             Catch::Contains("host-1") && !Catch::Contains("host-0"));
  // The default channel keeps them.
  r = relay.Handle("/api/v1/notify/msteams", Payload({"resolved"}));
  CHECK(r.status == 200);
  REQUIRE(client.posts.size() == 2);
  CHECK_THAT(client.posts[1].second, Catch::Contains("RESOLVED"));
}

TEST_CASE("A failed delivery is a 5xx so that Alertmanager retries",
          "[notify]") {
  auto [outcome, status] =
      GENERATE(std::make_pair(DeliveryResult::Outcome::kRejected, 502),
               std::make_pair(DeliveryResult::Outcome::kNetworkError, 502),
               std::make_pair(DeliveryResult::Outcome::kTimeout, 504));
  prometheus::Registry registry;
  FakeClient client;
  client.outcome = outcome;
  TeamsRelay relay(TwoChannels(), &client, registry);
  http::HttpResponse r =
      relay.Handle("/api/v1/notify/msteams", Payload({"firing"}));
  CHECK(r.status == status);
  CHECK(r.body ==
        "Teams channel default: message 1 of 1 not delivered: fake reason\n");
  const std::string m = Metrics(registry);
  CHECK_THAT(m, Catch::Contains(
                    "promewma_notify_messages_total{channel=\"default\",result="
                    "\"failed\"} 1"));
  CHECK_THAT(m, Catch::Contains("promewma_notify_requests_total{channel="
                                "\"default\",code=\"" +
                                std::to_string(status) + "\"} 1"));
}

TEST_CASE(
    "A split notification posts every part, stopping at the first "
    "failure",
    "[notify]") {
  prometheus::Registry registry;
  FakeClient client;
  TeamsRelay relay(TwoChannels(), &client, registry);
  std::vector<std::string> many(150, "firing");
  http::HttpResponse r = relay.Handle("/api/v1/notify/msteams", Payload(many));
  CHECK(r.status == 200);
  const size_t parts = client.posts.size();
  REQUIRE(parts > 1);
  CHECK(r.body == "sent " + std::to_string(parts) +
                      " messages to Teams channel default\n");
  client.outcome = DeliveryResult::Outcome::kRejected;
  r = relay.Handle("/api/v1/notify/msteams", Payload(many));
  CHECK(r.status == 502);
  CHECK(client.posts.size() == parts + 1);
  CHECK_THAT(r.body, Catch::Contains("message 1 of " + std::to_string(parts)));
}

TEST_CASE("The timeout counts from when the request was read", "[notify]") {
  prometheus::Registry registry;
  FakeClient client;
  TeamsRelay relay(TwoChannels(), &client, registry);  // default: 3 s
  const auto now = std::chrono::steady_clock::now();
  http::HttpResponse r =
      relay.Handle("/api/v1/notify/msteams", Payload({"firing"}), now - 4s);
  CHECK(r.status == 504);
  CHECK_THAT(r.body, Catch::Contains("3000ms timeout ran out"));
  CHECK(client.posts.empty());
  r = relay.Handle("/api/v1/notify/msteams", Payload({"firing"}), now - 1s);
  CHECK(r.status == 200);
  REQUIRE(client.budgets.size() == 1);
  CHECK(client.budgets[0] <= 2000ms);
}

}  // namespace
}  // namespace promewma::notify
