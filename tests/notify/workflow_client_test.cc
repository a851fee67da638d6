#include "notify/workflow_client.h"

#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "testing/server_thread.h"

namespace promewma::notify {
namespace {

using std::chrono::milliseconds;

// A stand-in for Power Automate: answers each POST with the next status of
// `statuses` (the last one repeated), optionally after a delay, and keeps
// what it received.
class FakeWorkflow {
 public:
  explicit FakeWorkflow(std::vector<int> statuses, milliseconds delay = {})
      : statuses_(std::move(statuses)), delay_(delay) {
    server_.Post("/workflows/abc", [this](const httplib::Request& req,
                                          httplib::Response& res) {
      size_t n;
      {
        std::lock_guard<std::mutex> lock(mu_);
        bodies_.push_back(req.body);
        content_types_.push_back(req.get_header_value("Content-Type"));
        n = bodies_.size();
      }
      if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
      res.status = statuses_[std::min(n, statuses_.size()) - 1];
      res.set_content(res.status >= 300 ? "{\"error\":\"refused\"}\n" : "",
                      "application/json");
    });
    running_ = std::make_unique<testing::ServerThread>(&server_);
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(running_->port()) +
           "/workflows/abc?sig=SECRETSIG";
  }
  size_t requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.size();
  }
  std::string content_type(size_t i) const {
    std::lock_guard<std::mutex> lock(mu_);
    return content_types_.at(i);
  }
  std::string body(size_t i) const {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.at(i);
  }

 private:
  const std::vector<int> statuses_;
  const milliseconds delay_;
  mutable std::mutex mu_;
  std::vector<std::string> bodies_;         // guarded by mu_
  std::vector<std::string> content_types_;  // guarded by mu_
  httplib::Server server_;
  std::unique_ptr<testing::ServerThread> running_;
};

TEST_CASE("A 202 from the workflow is delivery, as JSON in one attempt",
          "[notify]") {
  FakeWorkflow workflow({202});
  HttpWorkflowClient client;
  DeliveryResult r =
      client.Post(workflow.url(), "{\"type\":\"message\"}", milliseconds(5000));
  INFO(r.reason);
  CHECK(r.ok());
  CHECK(r.http_status == 202);
  CHECK(r.attempts == 1);
  REQUIRE(workflow.requests() == 1);
  CHECK(workflow.content_type(0) == "application/json");
  CHECK(workflow.body(0) == "{\"type\":\"message\"}");
}

TEST_CASE("A 5xx or 429 is retried once", "[notify]") {
  const int first = GENERATE(500, 503, 429);
  FakeWorkflow workflow({first, 202});
  HttpWorkflowClient client;
  DeliveryResult r = client.Post(workflow.url(), "{}", milliseconds(5000));
  INFO(r.reason);
  CHECK(r.ok());
  CHECK(r.attempts == 2);
  CHECK(workflow.requests() == 2);
}

TEST_CASE("A 5xx twice is a refusal naming the status but not the URL",
          "[notify]") {
  FakeWorkflow workflow({500});
  HttpWorkflowClient client;
  DeliveryResult r = client.Post(workflow.url(), "{}", milliseconds(5000));
  CHECK(r.outcome == DeliveryResult::Outcome::kRejected);
  CHECK(r.http_status == 500);
  CHECK(r.attempts == 2);
  CHECK(workflow.requests() == 2);
  CHECK_THAT(r.reason, Catch::Contains("answered 500") &&
                           Catch::Contains("refused") &&
                           Catch::Contains("(after a retry)"));
  CHECK(r.reason.find("SECRETSIG") == std::string::npos);
  CHECK(r.reason.find("/workflows") == std::string::npos);
}

TEST_CASE("A 4xx other than 429 is final", "[notify]") {
  FakeWorkflow workflow({400, 202});
  HttpWorkflowClient client;
  DeliveryResult r = client.Post(workflow.url(), "{}", milliseconds(5000));
  CHECK(r.outcome == DeliveryResult::Outcome::kRejected);
  CHECK(r.http_status == 400);
  CHECK(workflow.requests() == 1);
}

TEST_CASE("No answer within the budget is a timeout, not retried", "[notify]") {
  FakeWorkflow workflow({202}, milliseconds(3000));
  HttpWorkflowClient client;
  const auto start = std::chrono::steady_clock::now();
  DeliveryResult r = client.Post(workflow.url(), "{}", milliseconds(500));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.outcome == DeliveryResult::Outcome::kTimeout);
  CHECK(r.attempts == 1);
  // Bounded by the budget (with slack for a loaded machine), far below
  // the sink's delay.
  CHECK(took < milliseconds(2500));
  CHECK_THAT(r.reason, Catch::Contains("within 500ms"));
  CHECK(r.reason.find("SECRETSIG") == std::string::npos);
}

TEST_CASE("A refused connection is a network error, retried once", "[notify]") {
  std::string url;
  {
    FakeWorkflow gone({202});
    url = gone.url();
  }  // nothing listens there now
  HttpWorkflowClient client;
  DeliveryResult r = client.Post(url, "{}", milliseconds(3000));
  CHECK(r.outcome == DeliveryResult::Outcome::kNetworkError);
  CHECK(r.attempts == 2);
  CHECK_THAT(r.reason, Catch::Contains("could not connect"));
  CHECK(r.reason.find("SECRETSIG") == std::string::npos);
}

}  // namespace
}  // namespace promewma::notify
