// csv2rw's sending path end to end over HTTP: WriteBatches through a
// RemoteWriteSink and the real remote::RemoteWriteClient, against a fake
// remote-write receiver (httplib::Server on a loopback port) that answers
// from a script: 500 then 204 (retried, nothing lost or duplicated), 429
// with Retry-After (honoured), and 400 (fails with the server's reason).

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "codec/snappy_block.h"
#include "csv2rw/batch_writer.h"
#include "csv2rw/csv_loader.h"
#include "remote.pb.h"
#include "testing/server_thread.h"

namespace promewma::csv2rw {
namespace {

using std::chrono::milliseconds;

struct Reply {
  int status;
  std::string body;
  std::string retry_after;
};

class FakeReceiver {
 public:
  explicit FakeReceiver(std::deque<Reply> script) : script_(std::move(script)) {
    server_.Post("/api/v1/write", [this](const httplib::Request& req,
                                         httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      Reply r = script_.empty() ? Reply{204, "", ""} : script_.front();
      if (!script_.empty()) script_.pop_front();
      requests_.push_back({req.body, r.status});
      res.status = r.status;
      if (!r.retry_after.empty()) res.set_header("Retry-After", r.retry_after);
      if (!r.body.empty()) res.set_content(r.body, "text/plain");
    });
    running_ = std::make_unique<testing::ServerThread>(&server_);
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(running_->port()) + "/api/v1/write";
  }
  std::vector<std::pair<std::string, int>> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  httplib::Server server_;
  std::mutex mu_;
  std::deque<Reply> script_;
  std::vector<std::pair<std::string, int>> requests_;  // body, status
  // Last: stops the server before the members its handlers use go.
  std::unique_ptr<testing::ServerThread> running_;
};

std::unique_ptr<SeriesBuilder> Minutes(int n) {
  std::string text = "timestamp,value\n";
  for (int i = 0; i < n; ++i) {
    text +=
        std::to_string(1727740800 + 60 * i) + "," + std::to_string(i) + ".5\n";
  }
  BadRowLog bad_rows("m.csv");
  ProgressBar progress(false, stderr);
  Result<LoadedCsv> loaded = LoadCsv(text, {}, &bad_rows, &progress);
  REQUIRE(loaded.ok());
  return std::move(loaded->series);
}

// (timestamp, value) of the samples in the bodies the receiver accepted.
std::vector<std::pair<int64_t, double>> Accepted(
    const std::vector<std::pair<std::string, int>>& requests) {
  std::vector<std::pair<int64_t, double>> out;
  for (const auto& [body, status] : requests) {
    if (status != 204) continue;
    std::string raw;
    REQUIRE(codec::DecompressSnappyBlock(body, 1 << 30, &raw).ok());
    prometheus::WriteRequest req;
    REQUIRE(req.ParseFromString(raw));
    for (const auto& ts : req.timeseries()) {
      for (const auto& s : ts.samples()) {
        out.emplace_back(s.timestamp(), s.value());
      }
    }
  }
  return out;
}

Status Send(const SeriesBuilder& series, const std::string& url,
            uint64_t* written, uint64_t* retries) {
  remote::ClientConfig options;
  options.url = url;
  options.remote_timeout = milliseconds(5000);
  remote::RemoteWriteClient client(options);
  RetryPolicy policy;
  policy.max_retry_duration = milliseconds(10000);
  RemoteWriteSink sink(&client, url, policy);
  ProgressBar progress(false, stderr);
  Status s = WriteBatches(series, 500, &sink, &progress, written);
  *retries = sink.retries();
  return s;
}

TEST_CASE(
    "500 then 204, and 429 with Retry-After: retried, nothing lost, "
    "nothing duplicated") {
  auto series = Minutes(1200);  // three batches: 500, 500, 200
  FakeReceiver receiver({{500, "internal error", ""},
                         {204, "", ""},
                         {204, "", ""},
                         {429, "too many requests", "1"},
                         {204, "", ""}});
  uint64_t written = 0, retries = 0;
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(Send(*series, receiver.url(), &written, &retries).ok());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(written == 1200);
  CHECK(retries == 2);
  // Retry-After: 1 was honoured (the backoff alone would wait 30 ms).
  CHECK(elapsed >= milliseconds(950));
  CHECK(elapsed < milliseconds(5000));

  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 5);
  CHECK(requests[0].first == requests[1].first);  // the same bytes again
  CHECK(requests[3].first == requests[4].first);
  const auto accepted = Accepted(requests);
  REQUIRE(accepted.size() == 1200);
  for (int i = 0; i < 1200; ++i) {
    INFO(i);
    CHECK(accepted[i].first == (1727740800LL + 60 * i) * 1000);
    CHECK(accepted[i].second == i + 0.5);
  }
}

TEST_CASE("400 fails the run with the server's one-line reason") {
  auto series = Minutes(700);
  FakeReceiver receiver(
      {{204, "", ""}, {400, "out of order sample for series cpu\nmore", ""}});
  uint64_t written = 0, retries = 0;
  const Status s = Send(*series, receiver.url(), &written, &retries);
  CHECK(s.message() == receiver.url() +
                           " refused a batch of 200 samples: HTTP 400: out of "
                           "order sample for series cpu");
  CHECK(written == 500);
  CHECK(retries == 0);
  CHECK(receiver.requests().size() == 2);
}

}  // namespace
}  // namespace promewma::csv2rw
