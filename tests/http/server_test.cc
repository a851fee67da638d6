// The HTTP server over real sockets on a free loopback port.

#include "http/server.h"

#include <httplib.h>
#include <prometheus/registry.h>
#include <sched.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <future>
#include <optional>
#include <thread>

#include "codec/snappy_block.h"
#include "ewma/series_estimator.h"
#include "testing/peers.h"
#include "testing/raw_http.h"
#include "testing/subprocess.h"
#include "testing/remote_write.h"
#include "testing/slow_store.h"

namespace promewma::http {
namespace {

class RunningServer {
 public:
  // Serves `db`, or a database of its own in memory.
  explicit RunningServer(ServerOptions options = {},
                         db::Database* db = nullptr) {
    options.port = 0;
    if (db == nullptr) {
      own_db_ = std::make_unique<db::Database>(head::HeadOptions{});
      db = own_db_.get();
    }
    db_ = db;
    server_ = std::make_unique<Server>(options, db_, &registry_);
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
  head::Head& engine() { return *db_->head(); }

 private:
  std::unique_ptr<db::Database> own_db_;
  db::Database* db_;
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

TEST_CASE("SetLimits applies to the requests that start after it while "
          "writers keep sending") {
  ServerOptions options;
  options.limits.max_series_per_request = 1;
  RunningServer s(options);
  // Two series at time t, far after what the writer below sends.
  auto two = [](int64_t t) {
    return testing::SerializeWriteRequest(
        {{{{"__name__", "cpu"}, {"host", "a"}}, {{t, 1}}},
         {{{"__name__", "cpu"}, {"host", "b"}}, {{t, 1}}}});
  };
  auto r = PostWrite(s.client(), two(1'000'000'000));
  REQUIRE(r);
  REQUIRE(r->status == 413);
  // Writers run while the limits change under them: each request is
  // judged whole by one snapshot, 204 or 413, never anything else.
  std::atomic<bool> done{false};
  std::atomic<int> other{0};
  std::thread writer([&] {
    httplib::Client c("127.0.0.1", s.server().port());
    c.set_keep_alive(true);
    int64_t t = 2;
    while (!done.load()) {
      auto w = PostWrite(c, testing::SerializeWriteRequest(
                                {{{{"__name__", "cpu"}, {"host", "a"}}, {{t, 1}}},
                                 {{{"__name__", "cpu"}, {"host", "b"}}, {{t, 1}}}}));
      ++t;
      if (!w || (w->status != 204 && w->status != 413)) ++other;
    }
  });
  ServerLimits limits;
  for (int i = 0; i < 50; ++i) {
    limits.write.max_series_per_request = i % 2 == 0 ? 2 : 1;
    limits.read.max_concurrent_reads = i % 3;
    s.server().SetLimits(limits);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  limits.write.max_series_per_request = 2;
  s.server().SetLimits(limits);
  done = true;
  writer.join();
  REQUIRE(other == 0);
  r = PostWrite(s.client(), two(1'000'000'000));
  REQUIRE(r);
  REQUIRE(r->status == 204);
  // And back: the next request is refused again.
  limits.write.max_series_per_request = 1;
  s.server().SetLimits(limits);
  r = PostWrite(s.client(), two(1'000'000'001));
  REQUIRE(r);
  REQUIRE(r->status == 413);
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

TEST_CASE("300 keep-alive connections each get both of their remote writes answered") {
  RunningServer s;
  constexpr int kConnections = 300;
  // Every connection is opened before any request is sent, and every
  // request is sent before any answer is read: 300 requests in flight at
  // once, as 300 remote-write shards would have them.
  std::vector<testing::RawHttpConnection> conns =
      testing::ConnectAll(s.server().port(), kConnections);
  for (int round = 0; round < 2; ++round) {
    for (int k = 0; k < kConnections; ++k) {
      const std::string body =
          codec::CompressSnappyBlock(testing::SerializeWriteRequest(
              {{{{"__name__", "cpu"}, {"conn", std::to_string(k)}},
                {{1700000000000 + round * 15000, 1.0 * k}}}}));
      INFO("round " << round << ", connection " << k);
      REQUIRE(conns[k].Send(testing::RawHttpConnection::Request(
                  "POST", "/api/v1/write",
                  {{"Content-Type", "application/x-protobuf"},
                   {"Content-Encoding", "snappy"},
                   {"X-Prometheus-Remote-Write-Version", "0.1.0"}},
                  body)) == "");
    }
    std::vector<std::string> failures;
    for (int k = 0; k < kConnections; ++k) {
      const testing::RawHttpResponse r = conns[k].Receive();
      if (!r.error.empty() || r.status != 204) {
        failures.push_back("round " + std::to_string(round) + ", connection " +
                           std::to_string(k) + ": " +
                           (r.error.empty() ? std::to_string(r.status) + " " +
                                                  r.body
                                            : r.error));
      }
    }
    INFO(failures.size() << " of " << kConnections << " failed, first: "
                         << (failures.empty() ? "" : failures.front()));
    REQUIRE(failures.empty());
  }
  REQUIRE(s.engine().active_series() == kConnections);
}

// One request on a connection of its own, and its answer.
testing::RawHttpResponse Exchange(int port, const std::string& request) {
  testing::RawHttpConnection conn(port);
  REQUIRE(conn.Wait(std::chrono::seconds(60)) == "");
  REQUIRE(conn.Send(request) == "");
  return conn.Receive();
}

const std::vector<std::pair<std::string, std::string>> kWriteHeaders = {
    {"Content-Type", "application/x-protobuf"},
    {"Content-Encoding", "snappy"},
    {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
const std::vector<std::pair<std::string, std::string>> kReadHeaders = {
    {"Content-Type", "application/x-protobuf"},
    {"Content-Encoding", "snappy"},
    {"X-Prometheus-Remote-Read-Version", "0.1.0"}};

std::string WriteBody(const std::string& host) {
  return codec::CompressSnappyBlock(testing::SerializeWriteRequest(
      {{{{"__name__", "cpu"}, {"host", host}}, {{1700000000000, 1.0}}}}));
}

// The same headers with one replaced (or added).
std::vector<std::pair<std::string, std::string>> With(
    std::vector<std::pair<std::string, std::string>> headers,
    const std::string& name, const std::string& value) {
  for (auto& [n, v] : headers) {
    if (n == name) {
      v = value;
      return headers;
    }
  }
  headers.push_back({name, value});
  return headers;
}

// A request whose body is sent chunked, in pieces of `piece` bytes.
std::string ChunkedPost(
    const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::string& body, size_t piece) {
  std::string out = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  out += "Transfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += piece) {
    const std::string part = body.substr(at, piece);
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", part.size());
    out += size + part + "\r\n";
  }
  return out + "0\r\n\r\n";
}

std::string Get(const std::string& target) {
  return testing::RawHttpConnection::Request("GET", target, {}, "");
}

// Every status of the README's endpoint table, as a sender sees it over a
// socket of the real server.
TEST_CASE("every status code of the endpoint table, observed over sockets") {
  ServerOptions options;
  options.limits.max_request_bytes = 2000;
  options.limits.max_decoded_bytes = 4096;
  options.read_limits.max_request_bytes = 2000;
  options.read_limits.max_decoded_bytes = 4096;
  RunningServer s(options);
  s.server().SetReady(true);
  // A series to read and federate.
  REQUIRE(Exchange(s.server().port(),
                   testing::RawHttpConnection::Request(
                       "POST", "/api/v1/write", kWriteHeaders, WriteBody("a")))
              .status == 204);

  const std::string read_body =
      codec::CompressSnappyBlock(testing::SerializeReadRequest(
          {{"__name__", "cpu"}}, 1700000000000 - 60000, 1700000000000));
  using R = testing::RawHttpConnection;
  struct Case {
    std::string what;
    std::string request;
    int want;
    std::string body_prefix;  // of the answer, "" for any
  };
  const std::vector<Case> cases = {
      {"write: applied", R::Request("POST", "/api/v1/write", kWriteHeaders, WriteBody("b")), 204, ""},
      {"write: not snappy", R::Request("POST", "/api/v1/write", kWriteHeaders, "garbage, not snappy"), 400, ""},
      {"write: invalid metric name",
       R::Request("POST", "/api/v1/write", kWriteHeaders,
                  codec::CompressSnappyBlock(testing::SerializeWriteRequest(
                      {{{{"__name__", "bad name"}}, {{1, 1}}}}))),
       400, "timeseries[0]: invalid metric name"},
      {"write: Content-Length over max_request_bytes",
       R::Request("POST", "/api/v1/write", kWriteHeaders, std::string(3000, 'x')),
       413, "request body over the size limit of 2000 bytes"},
      {"write: chunked body over max_request_bytes",
       ChunkedPost("/api/v1/write", kWriteHeaders, std::string(3000, 'x'), 700),
       413, "request body over the size limit of 2000 bytes"},
      {"write: declared decoded size over max_decoded_bytes",
       R::Request("POST", "/api/v1/write", kWriteHeaders,
                  codec::CompressSnappyBlock(std::string(10000, 'a'))),
       413, ""},
      {"write: Content-Encoding gzip",
       R::Request("POST", "/api/v1/write", With(kWriteHeaders, "Content-Encoding", "gzip"), WriteBody("c")),
       415, "unsupported Content-Encoding \"gzip\""},
      {"write: Content-Encoding br",
       R::Request("POST", "/api/v1/write", With(kWriteHeaders, "Content-Encoding", "br"), WriteBody("c")),
       415, "unsupported Content-Encoding \"br\""},
      {"write: wrong Content-Type",
       R::Request("POST", "/api/v1/write", With(kWriteHeaders, "Content-Type", "application/json"), WriteBody("c")),
       415, "unsupported Content-Type \"application/json\""},
      {"write: GET", Get("/api/v1/write"), 405, "use POST for /api/v1/write"},
      {"read: one query", R::Request("POST", "/api/v1/read", kReadHeaders, read_body), 200, ""},
      {"read: not snappy", R::Request("POST", "/api/v1/read", kReadHeaders, "garbage"), 400, ""},
      {"read: body over max_request_bytes",
       R::Request("POST", "/api/v1/read", kReadHeaders, std::string(3000, 'x')), 413, ""},
      {"federate: a selector", Get(testing::FederatePath({"cpu"})), 200, "# TYPE cpu untyped"},
      {"federate: no match[]", Get("/federate"), 400, "no match[] parameter"},
      {"federate: not a selector", Get(testing::FederatePath({"cpu{"})), 400, ""},
      {"metrics", Get("/metrics"), 200, "# HELP"},
      {"healthy", Get("/-/healthy"), 200, "promewma is Healthy."},
      {"ready", Get("/-/ready"), 200, "promewma is Ready."},
      {"unknown path", Get("/nope"), 404, "no such endpoint: GET /nope"},
      {"unknown method for a path", R::Request("DELETE", "/metrics", {}, ""), 404, ""},
      {"not HTTP", "HELLO\r\n\r\n", 400, "malformed HTTP request"},
      {"headers over 64 KiB",
       R::Request("GET", "/-/healthy", {{"X-Filler", std::string(70000, 'x')}}, ""),
       431, "request line and headers over 65536 bytes"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const testing::RawHttpResponse r = Exchange(s.server().port(), c.request);
    INFO(r.error << " " << r.status << " " << r.body);
    REQUIRE(r.error.empty());
    REQUIRE(r.status == c.want);
    REQUIRE(r.body.rfind(c.body_prefix, 0) == 0);
    if (r.status >= 400) {
      // One line that says what was wrong.
      REQUIRE(!r.body.empty());
      REQUIRE(r.body.find('\n') == r.body.size() - 1);
    }
  }
}

TEST_CASE("503 with Retry-After: a write before recovery, and a connection over max_connections") {
  SECTION("not recovered: writes are refused, readiness is 503") {
    testing::TempDir dir;
    db::DatabaseOptions db_options;
    db_options.dir = dir.path() + "/data";
    Result<std::unique_ptr<db::Database>> db =
        db::Database::Open(db_options, head::HeadOptions{});
    REQUIRE(db.ok());
    // Recover() is never called: the log has not been replayed.
    RunningServer s({}, db->get());
    const testing::RawHttpResponse write =
        Exchange(s.server().port(),
                 testing::RawHttpConnection::Request(
                     "POST", "/api/v1/write", kWriteHeaders, WriteBody("a")));
    INFO(write.error << " " << write.body);
    REQUIRE(write.status == 503);
    REQUIRE(write.header("retry-after") == "1");
    REQUIRE(write.body.find('\n') == write.body.size() - 1);
    REQUIRE(Exchange(s.server().port(), Get("/-/ready")).status == 503);
  }
  SECTION("over max_connections: answered, then closed") {
    ServerOptions options;
    options.max_connections = 2;
    RunningServer s(options);
    // Two connections, each served (so both are counted).
    std::vector<testing::RawHttpConnection> served =
        testing::ConnectAll(s.server().port(), 2);
    for (auto& conn : served) {
      REQUIRE(conn.Send(Get("/-/healthy")) == "");
      REQUIRE(conn.Receive().status == 200);
    }
    testing::RawHttpConnection third(s.server().port());
    REQUIRE(third.Wait(std::chrono::seconds(60)) == "");
    REQUIRE(third.Send(testing::RawHttpConnection::Request(
                "POST", "/api/v1/write", kWriteHeaders, WriteBody("a"))) == "");
    const testing::RawHttpResponse r = third.Receive();
    INFO(r.error << " " << r.body);
    REQUIRE(r.status == 503);
    REQUIRE(r.header("retry-after") == "1");
    REQUIRE(r.header("connection") == "close");
    REQUIRE(r.body.rfind("too many connections", 0) == 0);
    REQUIRE(r.body.find('\n') == r.body.size() - 1);
    // Closed after the answer, not reset.
    REQUIRE(third.Receive().error == "closed by the server without an answer");
    // The two served connections are still kept alive.
    for (auto& conn : served) {
      REQUIRE(conn.Send(Get("/-/healthy")) == "");
      REQUIRE(conn.Receive().status == 200);
    }
    REQUIRE(s.engine().active_series() == 0);
  }
}


TEST_CASE("a connection idle or stalled past its timeout is closed, and a busy one is kept") {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  options.transfer_timeout = std::chrono::seconds(1);
  RunningServer s(options);
  const int port = s.server().port();
  // Within the timeout, the one-second sweep, and slack for a loaded
  // machine; the closes below come after about 1-2 s.
  const auto bound = std::chrono::seconds(30);

  SECTION("idle after its answer: closed") {
    testing::RawHttpConnection conn(port);
    REQUIRE(conn.Wait(bound) == "");
    REQUIRE(conn.Send(Get("/-/healthy")) == "");
    REQUIRE(conn.Receive(bound).status == 200);
    REQUIRE(conn.Receive(bound).error == "closed by the server without an answer");
  }
  SECTION("a body that stops coming: closed without an answer, nothing applied") {
    testing::RawHttpConnection conn(port);
    REQUIRE(conn.Wait(bound) == "");
    std::string request = testing::RawHttpConnection::Request(
        "POST", "/api/v1/write", kWriteHeaders, WriteBody("a"));
    request.resize(request.size() - 3);  // the last bytes never come
    REQUIRE(conn.Send(request) == "");
    REQUIRE(conn.Receive(bound).error == "closed by the server without an answer");
    REQUIRE(s.engine().active_series() == 0);
  }
  SECTION("requests more often than the idle timeout: kept open") {
    testing::RawHttpConnection conn(port);
    REQUIRE(conn.Wait(bound) == "");
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    int answered = 0;
    while (std::chrono::steady_clock::now() < until) {
      REQUIRE(conn.Send(Get("/-/healthy")) == "");
      const testing::RawHttpResponse r = conn.Receive(bound);
      INFO(r.error);
      REQUIRE(r.status == 200);
      ++answered;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    REQUIRE(answered >= 5);
  }
}

TEST_CASE("a remote read in progress holds up no write, /federate or "
          "/metrics, even with one event loop") {
  testing::TempDir dir;
  testing::SlowStore store_reads(testing::SlowStore::kReads, "chunks");
  db::DatabaseOptions db_options;
  db_options.dir = dir.path();
  db_options.faults = &store_reads;
  auto opened = db::Database::Open(db_options, head::HeadOptions{});
  REQUIRE(opened.ok());
  std::unique_ptr<db::Database> db = std::move(opened).value();
  db::RecoveryStats recovery;
  REQUIRE(db->Recover(&recovery).ok());
  ServerOptions options;
  options.threads = 1;  // a read on the loop would stop every connection
  options.read_limits.max_concurrent_reads = 1;
  RunningServer s(options, db.get());
  s.server().SetReady(true);
  // A sealed chunk in the store (120 samples a chunk) and an open head.
  std::vector<std::pair<int64_t, double>> samples;
  for (int t = 0; t < 130; ++t) samples.push_back({1700000000000 + t * 15000, t});
  auto w = PostWrite(s.client(),
                     testing::SerializeWriteRequest(
                         {{{{"__name__", "cpu"}, {"host", "a"}}, samples}}));
  REQUIRE(w);
  REQUIRE(w->status == 204);

  store_reads.Arm();
  const std::string read_body = codec::CompressSnappyBlock(
      testing::SerializeReadRequest({{"__name__", "cpu"}}, 1700000000000,
                                    1700000000000 + 200 * 15000));
  auto post_read = [&] {
    httplib::Client c("127.0.0.1", s.server().port());
    c.set_read_timeout(20, 0);
    auto r = c.Post("/api/v1/read", {{"Content-Encoding", "snappy"}},
                    read_body, "application/x-protobuf");
    return r ? std::make_pair(r->status, r->body) : std::make_pair(-1, std::string());
  };
  auto held = std::async(std::launch::async, post_read);
  REQUIRE(store_reads.WaitUntilHeld());
  // On a query pool thread, which a write's thread waking preempts.
  CHECK(store_reads.held_thread_name() == "http-query");
  CHECK(store_reads.held_thread_policy() == SCHED_IDLE);

  httplib::Client other("127.0.0.1", s.server().port());
  other.set_read_timeout(5, 0);
  auto late = PostWrite(other, testing::SerializeWriteRequest(
                                   {{{{"__name__", "cpu"}, {"host", "b"}},
                                     {{1700000000000, 1.0}}}}));
  auto federate = other.Get("/federate?match[]=cpu");
  auto metrics = other.Get("/metrics");
  // The cap of one read is taken: a second read is refused at once.
  const auto second = post_read();
  store_reads.Release();
  const auto first = held.get();

  REQUIRE(late);
  CHECK(late->status == 204);
  REQUIRE(federate);
  CHECK(federate->status == 200);
  CHECK(federate->body.find("host=\"b\"") != std::string::npos);
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(second.first == 503);
  CHECK(second.second ==
        "1 remote reads in progress already (limits.max_concurrent_reads); "
        "retry shortly\n");
  REQUIRE(first.first == 200);
  CHECK(!first.second.empty());
  // And the writes made meanwhile changed none of what was stored.
  const auto read = testing::RemoteReadSeries(
      s.server().port(), {{"__name__", "cpu"}, {"host", "a"}}, 1700000000000,
      1700000000000 + 200 * 15000);
  CHECK(read.size() == 130);
}

// A sweep that is due when Stop() cancels its timer still runs (a timer's
// cancel cannot recall a completion already queued); it must not re-arm.
// With a zero interval a sweep is due at almost every moment, so a stop
// would hang nearly every time if it did.
TEST_CASE("the server stops while its timeout sweep is due") {
  ServerOptions options;
  options.sweep_interval = std::chrono::milliseconds(0);
  for (int i = 0; i < 20; ++i) {
    head::HeadOptions head_options;
    db::Database db(head_options);
    prometheus::Registry registry;
    options.port = 0;
    Server server(options, &db, &registry);
    REQUIRE(server.Bind().ok());
    std::promise<void> returned;
    std::future<void> run_done = returned.get_future();
    std::thread runner([&] {
      server.Run();
      returned.set_value();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    server.Stop();
    const bool stopped = run_done.wait_for(std::chrono::seconds(30)) ==
                         std::future_status::ready;
    INFO("stop " << i);
    REQUIRE(stopped);  // else the runner cannot be joined: the test aborts
    runner.join();
  }
}

}  // namespace
}  // namespace promewma::http
