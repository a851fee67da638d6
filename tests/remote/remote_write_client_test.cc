// RemoteWriteClient against a real httplib::Server on a loopback port bound
// to port 0: headers, auth, the outcome of each status class, Retry-After,
// a refused connection, a timeout and secret files. https:
// remote_write_client_tls_test.cc; what a valid config is:
// client_config_test.cc.

#include "remote/remote_write_client.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "promewma/version.h"
#include "testing/server_thread.h"
#include "testing/subprocess.h"

namespace promewma::remote {
namespace {

using std::chrono::milliseconds;

// A write endpoint that records each request and answers what the test
// set up.
class FakeTarget {
 public:
  FakeTarget() {
    server_.Post("/api/v1/write", [this](const httplib::Request& req,
                                         httplib::Response& res) {
      int status;
      std::string body;
      std::string retry_after;
      milliseconds delay;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_ = req;
        remote_ports_.push_back(req.remote_port);
        status = status_;
        body = body_;
        retry_after = retry_after_;
        delay = delay_;
      }
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      res.status = status;
      if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
      if (!body.empty()) res.set_content(body, "text/plain");
    });
    running_ = std::make_unique<testing::ServerThread>(&server_);
  }

  void Answer(int status, std::string body = "", std::string retry_after = "",
              milliseconds delay = milliseconds(0)) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    body_ = std::move(body);
    retry_after_ = std::move(retry_after);
    delay_ = delay;
  }
  httplib::Request last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }
  std::vector<int> remote_ports() {
    std::lock_guard<std::mutex> lock(mu_);
    return remote_ports_;
  }
  std::string url(std::string_view suffix = "") const {
    return "http://127.0.0.1:" + std::to_string(running_->port()) + "/api/v1/write" +
           std::string(suffix);
  }

 private:
  httplib::Server server_;
  std::mutex mu_;
  httplib::Request last_;
  std::vector<int> remote_ports_;
  int status_ = 204;
  std::string body_;
  std::string retry_after_;
  milliseconds delay_{0};
  // Last: stops the server before the members its handlers use go.
  std::unique_ptr<testing::ServerThread> running_;
};

ClientConfig Options(const std::string& url) {
  ClientConfig o;
  o.url = url;
  o.remote_timeout = milliseconds(5000);
  return o;
}

TEST_CASE("client sends the remote-write headers and the body as is") {
  FakeTarget target;
  ClientConfig o = Options(target.url("?tenant=t1"));
  o.headers = {{"X-Scope-OrgID", "team-a"}};
  REQUIRE(ValidateClientConfig(o).ok());
  RemoteWriteClient client(o);
  const std::string body("\x00\x01snappy\xff", 9);
  SendResult r = client.Send(body);
  CHECK(r.outcome == SendResult::kSent);
  CHECK(r.http_status == 204);
  CHECK(r.reason.empty());
  const httplib::Request req = target.last();
  CHECK(req.body == body);
  CHECK(req.get_param_value("tenant") == "t1");
  CHECK(req.get_header_value("Content-Encoding") == "snappy");
  CHECK(req.get_header_value("Content-Type") == "application/x-protobuf");
  CHECK(req.get_header_value("X-Prometheus-Remote-Write-Version") == "0.1.0");
  CHECK(req.get_header_value("User-Agent") ==
        std::string("promewma/") + PROMEWMA_VERSION);
  CHECK(req.get_header_value("X-Scope-OrgID") == "team-a");
  CHECK_FALSE(req.has_header("Authorization"));

  // A second send reuses the keep-alive connection.
  CHECK(client.Send(body).outcome == SendResult::kSent);
  const auto ports = target.remote_ports();
  REQUIRE(ports.size() == 2);
  CHECK(ports[0] == ports[1]);
}

TEST_CASE("client sends basic auth or an authorization header") {
  FakeTarget target;
  SECTION("basic") {
    ClientConfig o = Options(target.url());
    o.basic_auth = BasicAuth{"user", "pass", ""};
    RemoteWriteClient client(o);
    CHECK(client.Send("x").outcome == SendResult::kSent);
    CHECK(target.last().get_header_value("Authorization") ==
          "Basic dXNlcjpwYXNz");
  }
  SECTION("bearer") {
    ClientConfig o = Options(target.url());
    o.authorization = Authorization{"Bearer", "s3cret", ""};
    RemoteWriteClient client(o);
    CHECK(client.Send("x").outcome == SendResult::kSent);
    CHECK(target.last().get_header_value("Authorization") == "Bearer s3cret");
  }
  SECTION("another type") {
    ClientConfig o = Options(target.url());
    o.authorization = Authorization{"Token", "abc", ""};
    RemoteWriteClient client(o);
    CHECK(client.Send("x").outcome == SendResult::kSent);
    CHECK(target.last().get_header_value("Authorization") == "Token abc");
  }
  SECTION("no credentials, no header") {
    ClientConfig o = Options(target.url());
    o.authorization = Authorization{};
    RemoteWriteClient client(o);
    CHECK(client.Send("x").outcome == SendResult::kSent);
    CHECK_FALSE(target.last().has_header("Authorization"));
  }
}

TEST_CASE("client reads secret files, and again while they cannot be read") {
  FakeTarget target;
  testing::TempDir dir;
  const std::string token = dir.path() + "/token";
  ClientConfig o = Options(target.url());
  o.authorization = Authorization{"Bearer", "", token};
  RemoteWriteClient client(o);  // the file is not there yet
  SendResult r = client.Send("x");
  CHECK(r.outcome == SendResult::kRetry);
  CHECK(r.reason == "authorization.credentials_file: cannot read " + token +
                        ": No such file or directory");
  dir.WriteFile("token", " s3cret\n");
  r = client.Send("x");
  CHECK(r.outcome == SendResult::kSent);
  CHECK(target.last().get_header_value("Authorization") == "Bearer s3cret");

  const std::string password = dir.WriteFile("password", "pass\n");
  o.authorization.reset();
  o.basic_auth = BasicAuth{"user", "", password};
  RemoteWriteClient basic(o);
  CHECK(basic.Send("x").outcome == SendResult::kSent);
  CHECK(target.last().get_header_value("Authorization") ==
        "Basic dXNlcjpwYXNz");
}

TEST_CASE("client classifies each status class") {
  struct Case {
    int status;
    bool retry_on_429;
    SendResult::Outcome want;
  };
  const Case c = GENERATE(Case{200, true, SendResult::kSent},
                          Case{204, true, SendResult::kSent},
                          Case{400, true, SendResult::kDrop},
                          Case{401, true, SendResult::kDrop},
                          Case{404, true, SendResult::kDrop},
                          Case{413, true, SendResult::kDrop},
                          Case{429, true, SendResult::kRetry},
                          Case{429, false, SendResult::kDrop},
                          Case{500, true, SendResult::kRetry},
                          Case{503, false, SendResult::kRetry},
                          Case{302, true, SendResult::kDrop});
  CAPTURE(c.status, c.retry_on_429);
  FakeTarget target;
  target.Answer(c.status, "first line of the error\nsecond line\n");
  ClientConfig o = Options(target.url());
  o.retry_on_http_429 = c.retry_on_429;
  RemoteWriteClient client(o);
  SendResult r = client.Send("x");
  CHECK(r.outcome == c.want);
  CHECK(r.http_status == c.status);
  if (c.want == SendResult::kSent) {
    CHECK(r.reason.empty());
  } else {
    CHECK(r.reason == "first line of the error");
  }
  CHECK_FALSE(r.retry_after.has_value());
}

TEST_CASE("client truncates a long error line and escapes control bytes") {
  FakeTarget target;
  target.Answer(400, std::string(1000, 'e'));
  RemoteWriteClient client(Options(target.url()));
  SendResult r = client.Send("x");
  CHECK(r.reason == std::string(kMaxReasonBytes, 'e') + "...");
  target.Answer(400, "bad\tthing\x01");
  CHECK(client.Send("x").reason == "bad\\tthing\\x01");
  target.Answer(500, "");
  CHECK(client.Send("x").reason == "(empty response body)");
}

TEST_CASE("client returns Retry-After of a retryable answer only") {
  FakeTarget target;
  RemoteWriteClient client(Options(target.url()));
  target.Answer(503, "busy", "7");
  SendResult r = client.Send("x");
  CHECK(r.outcome == SendResult::kRetry);
  REQUIRE(r.retry_after.has_value());
  CHECK(*r.retry_after == milliseconds(7000));
  target.Answer(429, "slow down", "2");
  r = client.Send("x");
  REQUIRE(r.retry_after.has_value());
  CHECK(*r.retry_after == milliseconds(2000));
  target.Answer(503, "busy", "garbage");
  CHECK_FALSE(client.Send("x").retry_after.has_value());
  target.Answer(400, "no", "7");
  r = client.Send("x");
  CHECK(r.outcome == SendResult::kDrop);
  CHECK_FALSE(r.retry_after.has_value());
}

TEST_CASE("client retries a refused connection") {
  const testing::RefusingLoopbackPort refusing;  // nothing listens there
  const int port = refusing.port();
  RemoteWriteClient client(
      Options("http://127.0.0.1:" + std::to_string(port) + "/api/v1/write"));
  SendResult r = client.Send("x");
  CHECK(r.outcome == SendResult::kRetry);
  CHECK(r.http_status == 0);
  CHECK_FALSE(r.reason.empty());
}

TEST_CASE("client retries a response that does not come within the timeout") {
  FakeTarget target;
  target.Answer(204, "", "", milliseconds(400));
  ClientConfig o = Options(target.url());
  o.remote_timeout = milliseconds(50);
  RemoteWriteClient client(o);
  SendResult r = client.Send("x");
  CHECK(r.outcome == SendResult::kRetry);
  CHECK(r.http_status == 0);
  CHECK_FALSE(r.reason.empty());
}

}  // namespace
}  // namespace promewma::remote
