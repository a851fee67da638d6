// Reloading the real promewma binary: the keys that change a running
// process beyond the series rules (limits, write-back targets), and a
// SIGTERM while a reload waits.

#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "codec/snappy_block.h"
#include "testing/peers.h"
#include "testing/remote_write.h"
#include "testing/subprocess.h"

namespace promewma::app {
namespace {

using Samples = std::vector<std::pair<int64_t, double>>;

// A remote-write body of cpu{instance="vm-1"} and mem{instance="vm-1"}.
std::string TwoSeriesBody(const Samples& samples) {
  return codec::CompressSnappyBlock(testing::SerializeWriteRequest(
      {{{{"__name__", "cpu"}, {"instance", "vm-1"}}, samples},
       {{{"__name__", "mem"}, {"instance", "vm-1"}}, samples}}));
}

httplib::Result PostWrite(httplib::Client& c, const std::string& body) {
  return c.Post("/api/v1/write", {{"Content-Encoding", "snappy"}}, body,
                "application/x-protobuf");
}

// Sends SIGHUP and waits for the reload count to reach `successes`.
void ReloadBySighup(const testing::Peer& p, double successes) {
  REQUIRE(kill(p.pid(), SIGHUP) == 0);
  for (int i = 0; i < 200 && p.MetricValue("promewma_config_reloads_total",
                                            {{"result", "success"}}) <
                                 successes;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  REQUIRE(p.MetricValue("promewma_config_reloads_total",
                        {{"result", "success"}}) == successes);
}

bool OneLine(const std::string& body) {
  return !body.empty() && body.find('\n') == body.size() - 1;
}

const char kRules[] = R"(
ewma:
  span: 10
  outputs: [ewma]
rules:
  - match: cpu
  - match: mem
)";

TEST_CASE("a reload changes the request limits for the next request") {
  testing::PromewmaOptions options;
  options.config = std::string(kRules) + "limits:\n  max_series_per_request: 1\n";
  options.args = {"--web.enable-lifecycle"};
  auto p = testing::StartPromewma(options);
  auto c = p->Client();

  // Two series over a limit of one: the one-line 413, nothing applied.
  auto r = PostWrite(*c, TwoSeriesBody({{1000, 1}}));
  REQUIRE(r);
  REQUIRE(r->status == 413);
  REQUIRE(OneLine(r->body));
  REQUIRE_THAT(r->body, Catch::Contains("limits.max_series_per_request (1)"));

  REQUIRE(p->MetricValue("promewma_disk_min_free_bytes") == 256 << 20);
  p->WriteFile("promewma.yml",
               std::string(kRules) + "limits:\n  max_series_per_request: 2\n" +
                   "  min_free_disk_bytes: 1048576\n");
  ReloadBySighup(*p, 1);
  r = PostWrite(*c, TwoSeriesBody({{1000, 1}}));
  REQUIRE(r);
  REQUIRE(r->status == 204);
  REQUIRE(p->MetricValue("promewma_series_active") == 2);
  REQUIRE(p->MetricValue("promewma_disk_min_free_bytes") == 1048576);

  // The reverse: a lower max_request_bytes refuses the same body again,
  // before it is read, and nothing is logged as needing a restart.
  const std::string body = TwoSeriesBody({{2000, 2}});
  p->WriteFile("promewma.yml",
               std::string(kRules) + "limits:\n  max_series_per_request: 2\n" +
                   "  max_request_bytes: " + std::to_string(body.size() - 1) +
                   "\n");
  ReloadBySighup(*p, 2);
  r = PostWrite(*c, body);
  REQUIRE(r);
  REQUIRE(r->status == 413);
  REQUIRE(OneLine(r->body));
  REQUIRE_THAT(r->body, Catch::Contains("size limit of " +
                                        std::to_string(body.size() - 1)));
  p->WriteFile("promewma.yml",
               std::string(kRules) + "limits:\n  max_series_per_request: 2\n" +
                   "  max_request_bytes: " + std::to_string(body.size()) +
                   "\n");
  ReloadBySighup(*p, 3);
  r = PostWrite(*c, body);
  REQUIRE(r);
  REQUIRE(r->status == 204);

  // max_connections lowered under the open connections: they stay served;
  // a new one gets the 503. (POST /-/reload: a scrape would be refused.)
  auto held = p->Client();
  held->set_keep_alive(true);
  r = held->Get("/-/ready");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  p->WriteFile("promewma.yml",
               std::string(kRules) + "limits:\n  max_series_per_request: 2\n" +
                   "  max_connections: 1\n");
  r = held->Post("/-/reload", "", "text/plain");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  for (int i = 0; i < 3; ++i) {
    r = held->Get("/-/ready");  // the same connection: not dropped
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }
  r = p->Client()->Get("/-/ready");
  REQUIRE(r);
  REQUIRE(r->status == 503);
  REQUIRE_THAT(r->body, Catch::Contains("at most 1 at once"));
  // Raised again: new connections are served.
  p->WriteFile("promewma.yml", kRules);
  r = held->Post("/-/reload", "", "text/plain");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  held.reset();
  r = p->Client()->Get("/-/ready");
  REQUIRE(r);
  REQUIRE(r->status == 200);

  REQUIRE(p->Stop() == 0);
  REQUIRE(p->Stderr().find("needs a restart") == std::string::npos);
}

// A promewma whose first checkpoint waits 30 s for a write-back target that
// takes connections and never answers (`silent`), with a new config file
// written (one more rule): a reload asked for now waits for the checkpoint.
std::unique_ptr<testing::Peer> StartWithCheckpointWaiting(
    const testing::SilentLoopbackPort& silent, std::vector<std::string> args) {
  const std::string write_back =
      "write_back:\n  - url: http://127.0.0.1:" +
      std::to_string(silent.port()) + "/api/v1/write\n";
  testing::PromewmaOptions options;
  options.args = std::move(args);
  options.config =
      std::string(kRules) + "checkpoint_interval: 1s\n" + write_back;
  auto p = testing::StartPromewma(options);
  auto r = PostWrite(*p->Client(), TwoSeriesBody({{1000, 1}}));
  REQUIRE(r);
  REQUIRE(r->status == 204);
  // The first checkpoint starts within a second and then waits.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  REQUIRE(p->Stderr().find("checkpoint written") == std::string::npos);
  p->WriteFile("promewma.yml", std::string(kRules) +
                                   "  - match: disk\ncheckpoint_interval: 1s\n" +
                                   write_back);
  return p;
}

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
      .count();
}

// The write-back drain (10 s for the silent target) bounds the exit.
void RequireStoppedWithinDrain(testing::Peer& p, std::future<int>& exited,
                               std::chrono::steady_clock::time_point sigterm) {
  REQUIRE(exited.get() == 0);
  REQUIRE(SecondsSince(sigterm) < 25);
  REQUIRE(p.Stderr().find("msg=stopped") != std::string::npos);
}

TEST_CASE("SIGTERM while a SIGHUP reload waits for a checkpoint starts "
          "shutdown at once") {
  testing::SilentLoopbackPort silent;
  auto p = StartWithCheckpointWaiting(silent, {});
  REQUIRE(kill(p->pid(), SIGHUP) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  REQUIRE(p->MetricValue("promewma_config_reloads_total",
                         {{"result", "success"}}) == 0);  // it waits

  const int port = p->port();
  const auto sigterm = std::chrono::steady_clock::now();
  std::future<int> exited =
      std::async(std::launch::async, [&p] { return p->Stop(); });
  // The server stops listening at once, not after the reload's wait.
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - sigterm <
                        std::chrono::seconds(10)) {
    httplib::Client probe("127.0.0.1", port);
    probe.set_connection_timeout(0, 200000);
    closed = !probe.Get("/-/healthy");
    if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double closed_after = SecondsSince(sigterm);
  REQUIRE(closed);
  REQUIRE(closed_after < 3);
  RequireStoppedWithinDrain(*p, exited, sigterm);
}

TEST_CASE("SIGTERM while a POST /-/reload waits for a checkpoint answers it "
          "503 and starts shutdown at once") {
  testing::SilentLoopbackPort silent;
  auto p = StartWithCheckpointWaiting(silent, {"--web.enable-lifecycle"});
  std::future<httplib::Result> reloaded =
      std::async(std::launch::async, [&p] {
        auto client = p->Client();
        client->set_read_timeout(60, 0);
        return client->Post("/-/reload", "", "text/plain");
      });
  REQUIRE(reloaded.wait_for(std::chrono::milliseconds(1000)) ==
          std::future_status::timeout);  // it waits

  const auto sigterm = std::chrono::steady_clock::now();
  std::future<int> exited =
      std::async(std::launch::async, [&p] { return p->Stop(); });
  // The POST is answered at once, not after the checkpoint's wait.
  REQUIRE(reloaded.wait_for(std::chrono::seconds(3)) ==
          std::future_status::ready);
  auto r = reloaded.get();
  REQUIRE(r);
  REQUIRE(r->status == 503);
  REQUIRE_THAT(r->body, Catch::Contains("shutting down"));
  RequireStoppedWithinDrain(*p, exited, sigterm);
}

}  // namespace
}  // namespace promewma::app
