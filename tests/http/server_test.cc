// The HTTP server over real sockets on a free loopback port.

#include "http/server.h"

#include <httplib.h>
#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <optional>
#include <thread>

#include "codec/snappy_block.h"
#include "ewma/series_estimator.h"
#include "testing/peers.h"
#include "testing/remote_write.h"

namespace promewma::http {
namespace {

class RunningServer {
 public:
  explicit RunningServer(ServerOptions options = {}) {
    options.port = 0;
    server_ =
        std::make_unique<Server>(options, &db_, &registry_);
    REQUIRE(server_->Bind().ok());
    thread_ = std::thread([this] { server_->Run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
  }
  ~RunningServer() {
    // Close our keep-alive connection first: a worker waiting on it would
    // hold Stop() up for the keep-alive timeout.
    client_.reset();
    server_->Stop();
    thread_.join();
  }
  httplib::Client& client() { return *client_; }
  Server& server() { return *server_; }
  head::Head& engine() { return *db_.head(); }

 private:
  db::Database db_{head::HeadOptions{}};
  prometheus::Registry registry_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

httplib::Result PostWrite(httplib::Client& c, const std::string& raw) {
  httplib::Headers headers = {{"Content-Encoding", "snappy"},
                              {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
  return c.Post("/api/v1/write", headers, codec::CompressSnappyBlock(raw),
                "application/x-protobuf");
}

TEST_CASE("remote write, then the derived values on /federate and the counts on /metrics") {
  RunningServer s;
  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 0; i < 12; ++i)
    samples.push_back({1700000000000 + i * 15000, 10.0 + i % 3});
  auto r = PostWrite(s.client(),
                     testing::SerializeWriteRequest(
                         {{{{"__name__", "cpu"}, {"host", "a"}}, samples}}));
  REQUIRE(r);
  REQUIRE(r->status == 204);

  auto f = s.client().Get(
      testing::FederatePath({"{__name__=~\"cpu:.*\",host=\"a\"}"}));
  REQUIRE(f);
  REQUIRE(f->status == 200);
  REQUIRE(f->get_header_value("Content-Type") ==
          "text/plain; version=0.0.4; charset=utf-8");
  INFO(f->body);
  REQUIRE(f->body.find("# TYPE cpu:ewma untyped\n") != std::string::npos);
  const std::vector<testing::ExposedSample> federated =
      testing::ParseExposition(f->body);
  REQUIRE(federated.size() == 2);
  // Latest EWMA and upper threshold (the estimator's, with the default
  // parameters), at the last input sample's timestamp, bit for bit.
  ewma::EstimatorParams params;
  ewma::EstimatorState state;
  ewma::DerivedValues want;
  for (const auto& [t, v] : samples)
    ewma::UpdateEstimator(params, &state, t, v, &want);
  REQUIRE(want.has(ewma::Output::kUpperThreshold));
  for (const auto& [name, output] :
       {std::pair{"cpu:ewma", ewma::Output::kEwma},
        {"cpu:upper_threshold", ewma::Output::kUpperThreshold}}) {
    INFO(name);
    const std::optional<testing::ExposedSample> got =
        testing::FindSample(federated, name, {{"host", "a"}});
    REQUIRE(got);
    REQUIRE(got->value == want.get(output));
    REQUIRE(got->timestamp_ms == samples.back().first);
  }

  auto m = s.client().Get("/metrics");
  REQUIRE(m);
  REQUIRE(m->status == 200);
  const std::string& text = m->body;
  INFO(text);
  const std::vector<testing::ExposedSample> exposed =
      testing::ParseExposition(text);
  auto value = [&](const std::string& name, const testing::LabelSet& labels) {
    INFO(name);
    const std::optional<testing::ExposedSample> found =
        testing::FindSample(exposed, name, labels);
    REQUIRE(found);
    return *found;
  };
  // /metrics is promewma's own health: no series of its input.
  REQUIRE(testing::SamplesNamed(exposed, "cpu:ewma").empty());
  // Self-metrics.
  REQUIRE(value("promewma_write_samples_received_total", {}).value == 12);
  REQUIRE(value("promewma_write_samples_applied_total", {}).value == 12);
  REQUIRE(value("promewma_series_active", {}).value == 1);
  REQUIRE(value("promewma_http_requests_total",
                {{"code", "204"}, {"handler", "write"}})
              .value == 1);
  REQUIRE(value("promewma_http_request_duration_seconds_count",
                {{"handler", "write"}})
              .value == 1);
  REQUIRE(value("promewma_write_samples_dropped_total",
                {{"reason", "out_of_order"}})
              .value == 0);

  // One sample older than the series' last: refused and counted.
  r = PostWrite(s.client(), testing::SerializeWriteRequest(
                                {{{{"__name__", "cpu"}, {"host", "a"}},
                                  {{samples.front().first, 1.0}}}}));
  REQUIRE(r);
  REQUIRE(r->status == 400);
  m = s.client().Get("/metrics");
  REQUIRE(m);
  const std::vector<testing::ExposedSample> after =
      testing::ParseExposition(m->body);
  REQUIRE(testing::FindSample(after, "promewma_write_samples_dropped_total",
                              {{"reason", "out_of_order"}})
              ->value == 1);
  REQUIRE(testing::FindSample(after, "promewma_write_samples_applied_total")
              ->value == 12);
  REQUIRE(testing::FindSample(after, "promewma_http_requests_total",
                              {{"code", "400"}, {"handler", "write"}})
              ->value == 1);
}

TEST_CASE("/metrics stays the same size whatever the number of series") {
  RunningServer s;
  auto write_series = [&](int first, int count) {
    std::vector<testing::TestSeries> request;
    for (int h = first; h < first + count; ++h) {
      request.push_back({{{"__name__", "cpu"}, {"host", "h" + std::to_string(h)}},
                         {{1700000000000, 1.0 * h}}});
    }
    auto r = PostWrite(s.client(), testing::SerializeWriteRequest(request));
    REQUIRE(r);
    REQUIRE(r->status == 204);
  };
  write_series(0, 1);
  // The first scrape adds the metrics handler's own request series.
  REQUIRE(s.client().Get("/metrics"));
  auto small = s.client().Get("/metrics");
  REQUIRE(small);
  write_series(1, 3000);
  auto large = s.client().Get("/metrics");
  REQUIRE(large);
  const auto lines = [](const std::string& text) {
    return std::count(text.begin(), text.end(), '\n');
  };
  // The same lines; only numbers (counts, durations) may grow a few digits.
  REQUIRE(lines(large->body) == lines(small->body));
  REQUIRE(large->body.size() < small->body.size() + 200);
  const auto exposed = testing::ParseExposition(large->body);
  REQUIRE(testing::FindSample(exposed, "promewma_series_active")->value == 3001);
}

TEST_CASE("/federate without match[] is a one-line 400") {
  RunningServer s;
  auto r = s.client().Get("/federate");
  REQUIRE(r);
  REQUIRE(r->status == 400);
  REQUIRE(r->body.rfind("no match[] parameter", 0) == 0);
  REQUIRE(std::count(r->body.begin(), r->body.end(), '\n') == 1);
  auto bad = s.client().Get(testing::FederatePath({"cpu{"}));
  REQUIRE(bad);
  REQUIRE(bad->status == 400);
}

TEST_CASE("health, readiness and unknown endpoints") {
  RunningServer s;
  auto healthy = s.client().Get("/-/healthy");
  REQUIRE(healthy->status == 200);
  auto not_ready = s.client().Get("/-/ready");
  REQUIRE(not_ready->status == 503);
  s.server().SetReady(true);
  REQUIRE(s.client().Get("/-/ready")->status == 200);

  auto missing = s.client().Get("/nope");
  REQUIRE(missing->status == 404);
  REQUIRE(missing->body == "no such endpoint: GET /nope\n");
  auto wrong_method = s.client().Get("/api/v1/write");
  REQUIRE(wrong_method->status == 405);
  REQUIRE(wrong_method->body == "use POST for /api/v1/write\n");
}

TEST_CASE("a body over the payload limit is refused by the server with 413") {
  ServerOptions options;
  options.limits.max_request_bytes = 1000;
  RunningServer s(options);
  auto r = s.client().Post("/api/v1/write", std::string(5000, 'x'),
                           "application/x-protobuf");
  REQUIRE(r);
  REQUIRE(r->status == 413);
  REQUIRE(r->body.find('\n') == r->body.size() - 1);
}

TEST_CASE("the server keeps serving after bad requests, over one connection") {
  RunningServer s;
  s.client().set_keep_alive(true);
  for (int i = 0; i < 20; ++i) {
    auto bad = s.client().Post("/api/v1/write", "garbage, not snappy",
                               "application/x-protobuf");
    REQUIRE(bad->status == 400);
  }
  auto good = PostWrite(s.client(), testing::SerializeWriteRequest(
                                        {{{{"__name__", "cpu"}}, {{1, 1}}}}));
  REQUIRE(good->status == 204);
  REQUIRE(s.engine().active_series() == 1);
}

TEST_CASE("two concurrent writers are both applied") {
  RunningServer s;
  auto writer = [&](int id, int* failures) {
    httplib::Client c("127.0.0.1", s.server().port());
    for (int t = 0; t < 50; ++t) {
      std::vector<testing::TestSeries> series;
      for (int k = 0; k < 20; ++k) {
        series.push_back(
            {{{"__name__", "cpu"},
              {"host", std::to_string(id) + "-" + std::to_string(k)}},
             {{t * 1000, double(t)}}});
      }
      auto r = PostWrite(c, testing::SerializeWriteRequest(series));
      if (!r || r->status != 204) ++*failures;
    }
  };
  int fa = 0, fb = 0;
  std::thread a(writer, 0, &fa), b(writer, 1, &fb);
  a.join();
  b.join();
  REQUIRE(fa == 0);
  REQUIRE(fb == 0);
  REQUIRE(s.engine().active_series() == 40);
}

}  // namespace
}  // namespace promewma::http
