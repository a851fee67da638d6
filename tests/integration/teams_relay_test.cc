// promewma's Teams relay over real sockets: the promewma binary with a
// notify.msteams config, a local sink standing in for the Power Automate
// workflows, and Alertmanager-shaped payloads posted over HTTP.

#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "testing/peers.h"
#include "testing/teams_sink.h"

namespace promewma::integration {
namespace {

using namespace std::chrono_literals;
using testing::TeamsSink;

constexpr char kPath[] = "/api/v1/notify/msteams";

std::string Payload(const std::string& instance, const std::string& status) {
  nlohmann::json alert = {
      {"status", status},
      {"labels",
       {{"alertname", "CPUAboveAdaptiveThreshold"}, {"instance", instance}}},
      {"annotations", {{"summary", "CPU above its adaptive threshold"}}},
      {"startsAt", "2026-12-04T13:00:00Z"},
      {"endsAt", "0001-01-01T00:00:00Z"},
      {"generatorURL", "http://prometheus:9090/graph"}};
  return nlohmann::json{{"version", "4"},
                        {"status", status},
                        {"receiver", "teams"},
                        {"externalURL", "http://alertmanager:9093"},
                        {"groupLabels", {{"instance", instance}}},
                        {"alerts", {alert}}}
      .dump();
}

struct Answer {
  int status = 0;
  std::string body;
};

Answer Post(int port, const std::string& path, const std::string& body) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  auto r = c.Post(path.c_str(), body, "application/json");
  REQUIRE(r);
  return {r->status, r->body};
}

std::unique_ptr<testing::Peer> StartWithTeams(
    const TeamsSink& sink, const std::string& timeout = "8s") {
  testing::PromewmaOptions options;
  options.config =
      "notify:\n"
      "  msteams:\n"
      "    webhook_url: '" +
      sink.url("/workflows/default") +
      "'\n"
      "    timeout: " +
      timeout +
      "\n"
      "    channels:\n"
      "      database:\n"
      "        webhook_url: '" +
      sink.url("/workflows/database") +
      "'\n"
      "        title: Database alert\n";
  return testing::StartPromewma(options);
}

TEST_CASE(
    "The relay posts an Adaptive Card to the default and a named "
    "channel's workflow",
    "[integration]") {
  TeamsSink sink;
  auto promewma = StartWithTeams(sink);
  Answer a = Post(promewma->port(), kPath, Payload("web-1:9100", "firing"));
  CHECK(a.status == 200);
  CHECK(a.body == "sent 1 message to Teams channel default\n");
  a = Post(promewma->port(), std::string(kPath) + "/database",
           Payload("db-1:9100", "firing"));
  CHECK(a.status == 200);
  std::vector<TeamsSink::Received> got = sink.received();
  REQUIRE(got.size() == 2);
  CHECK(got[0].path == "/workflows/default");
  CHECK(got[0].content_type == "application/json");
  nlohmann::json card =
      nlohmann::json::parse(got[0].body)["attachments"][0]["content"];
  CHECK(card["type"] == "AdaptiveCard");
  CHECK_THAT(got[0].body, Catch::Contains("web-1:9100"));
  CHECK(got[1].path == "/workflows/database");
  CHECK_THAT(got[1].body,
             Catch::Contains("db-1:9100") && Catch::Contains("Database alert"));
  CHECK(promewma->MetricValue("promewma_notify_messages_total",
                              {{"channel", "default"}, {"result", "sent"}}) ==
        1);
  CHECK(promewma->MetricValue("promewma_notify_requests_total",
                              {{"channel", "database"}, {"code", "200"}}) == 1);
  CHECK(promewma->MetricValue(
            "promewma_http_requests_total",
            {{"handler", "notify_msteams"}, {"code", "200"}}) == 2);
  // The signature never reaches the log or the metrics.
  CHECK(promewma->Get("/metrics").find("TESTSIGNATURE") == std::string::npos);
  CHECK(promewma->Stop() == 0);
  CHECK(promewma->Stderr().find("TESTSIGNATURE") == std::string::npos);
  CHECK_THAT(promewma->Stderr(),
             Catch::Contains("component=notify msg=\"Teams channel\" "
                             "channel=database path=/api/v1/notify/msteams/"
                             "database webhook="));
}

TEST_CASE("The relay answers 404, 405, 413 and 400 over HTTP and sends nothing",
          "[integration]") {
  TeamsSink sink;
  auto promewma = StartWithTeams(sink);
  const int port = promewma->port();
  Answer a = Post(port, std::string(kPath) + "/nope", Payload("x", "firing"));
  CHECK(a.status == 404);
  CHECK_THAT(a.body, Catch::StartsWith("no Teams channel named \"nope\""));
  httplib::Client c("127.0.0.1", port);
  auto get = c.Get(kPath);
  REQUIRE(get);
  CHECK(get->status == 405);
  CHECK(get->body == std::string("use POST for ") + kPath + "\n");
  CHECK(get->get_header_value("Allow") == "POST");
  a = Post(port, kPath, std::string(2 << 20, 'x'));
  CHECK(a.status == 413);
  CHECK_THAT(a.body, Catch::Contains("1048576 bytes"));
  a = Post(port, kPath, "{\"version\":\"4\"");
  CHECK(a.status == 400);
  CHECK_THAT(a.body,
             Catch::StartsWith("bad Alertmanager payload: not valid JSON"));
  CHECK(a.body.find('\n') == a.body.size() - 1);
  CHECK(sink.count() == 0);
}

TEST_CASE("Without notify configured the endpoint is a one-line 404",
          "[integration]") {
  auto promewma = testing::StartPromewma();
  Answer a = Post(promewma->port(), kPath, Payload("x", "firing"));
  CHECK(a.status == 404);
  CHECK(a.body ==
        "Teams notifications are not configured (add notify: msteams: to the "
        "config file)\n");
}

TEST_CASE("A workflow answering 500 makes the relay answer 502 after one retry",
          "[integration]") {
  TeamsSink sink;
  sink.SetStatus(500);
  auto promewma = StartWithTeams(sink);
  Answer a = Post(promewma->port(), kPath, Payload("web-1:9100", "firing"));
  CHECK(a.status == 502);
  CHECK_THAT(a.body, Catch::Contains("answered 500") &&
                         Catch::Contains("(after a retry)"));
  CHECK(a.body.find("TESTSIGNATURE") == std::string::npos);
  CHECK(sink.count() == 2);
  CHECK(promewma->MetricValue("promewma_notify_messages_total",
                              {{"channel", "default"}, {"result", "failed"}}) ==
        1);
}

TEST_CASE(
    "A slow workflow gets a 504 within the timeout and does not stall "
    "other requests",
    "[integration]") {
  TeamsSink sink;
  sink.Hold(20s);
  auto promewma = StartWithTeams(sink, "2s");
  const int port = promewma->port();
  // More slow notifications than the server has event loops (8): were
  // they handled on the loops, every loop would be blocked, /-/healthy
  // included.
  std::vector<std::future<Answer>> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(std::async(std::launch::async, [port, i] {
      return Post(port, kPath, Payload("slow-" + std::to_string(i), "firing"));
    }));
  }
  sink.WaitForCount(4, 10s);  // the blocking pool's 4 threads are all busy
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(1, 0);  // far less than the held requests' 2 s
  for (int i = 0; i < 5; ++i) {
    auto healthy = c.Get("/-/healthy");
    REQUIRE(healthy);
    CHECK(healthy->status == 200);
  }
  for (auto& f : slow) {
    Answer a = f.get();
    CHECK(a.status == 504);
    CHECK_THAT(a.body, Catch::Contains("no answer from the workflow") ||
                           Catch::Contains("timeout ran out"));
  }
  sink.Release();
  CHECK(promewma->MetricValue("promewma_notify_requests_total",
                              {{"channel", "default"}, {"code", "504"}}) == 10);
}

}  // namespace
}  // namespace promewma::integration
