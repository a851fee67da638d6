// The server with a web config (web/web_config.h) over real sockets: TLS,
// client certificates for each client_auth_type, a plain HTTP client on the
// TLS port, and basic auth on every endpoint but /-/healthy. Certificates
// come from testing/pki.h, bcrypt hashes from testing/bcrypt.h.

#include <httplib.h>
#include <prometheus/registry.h>

#include <atomic>
#include <csignal>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>

#include "codec/snappy_block.h"
#include "http/server.h"
#include "testing/bcrypt.h"
#include "testing/peers.h"
#include "testing/pki.h"
#include "testing/raw_http.h"
#include "testing/remote_write.h"

namespace promewma::http {
namespace {

class SecureServer {
 public:
  explicit SecureServer(web::WebConfig web) {
    ServerOptions options;
    options.port = 0;
    options.web = std::move(web);
    server_ = std::make_unique<Server>(options, &db_, &registry_);
    server_->AddBlockingPostRoute(
        "/api/v1/notify/msteams", "notify_msteams", 1 << 20,
        [this](const BlockingRequest&) {
          ++relayed_;
          HttpResponse r;
          r.status = 200;
          return r;
        });
    const Status s = server_->Bind();
    INFO(s.message());
    REQUIRE(s.ok());
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~SecureServer() {
    server_->Stop();
    thread_.join();
  }

  int port() const { return server_->port(); }
  const head::Head& head() { return *db_.head(); }
  int relayed() const { return relayed_.load(); }
  std::string Metrics() {
    std::string text;
    for (const auto& family : registry_.Collect()) {
      for (const auto& m : family.metric) {
        std::string labels;
        for (const auto& l : m.label) {
          labels += (labels.empty() ? "" : ",") + l.name + "=\"" + l.value + "\"";
        }
        const double v = family.type == prometheus::MetricType::Counter
                             ? m.counter.value
                             : m.gauge.value;
        text += family.name + "{" + labels + "} " + std::to_string(v) + "\n";
      }
    }
    return text;
  }

 private:
  db::Database db_{head::HeadOptions{}};
  prometheus::Registry registry_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::atomic<int> relayed_{0};
};

web::WebConfig TlsConfig(web::ClientAuthType auth = web::ClientAuthType::kNoClientCert) {
  const testing::TestPki& pki = testing::GetTestPki();
  web::WebConfig web;
  web.tls_server_config.cert_file = pki.server_cert;
  web.tls_server_config.key_file = pki.server_key;
  if (auth != web::ClientAuthType::kNoClientCert) {
    web.tls_server_config.client_ca_file = pki.ca;
    web.tls_server_config.client_auth_type = auth;
    web.tls_server_config.client_auth_type_set = true;
  }
  return web;
}

// A TLS client that verifies the server against the test CA, with a
// client certificate when `cert` is given.
std::unique_ptr<httplib::SSLClient> TlsClient(int port,
                                              const std::string& cert = "",
                                              const std::string& key = "") {
  const testing::TestPki& pki = testing::GetTestPki();
  // With TLS 1.3 a client learns that its certificate was refused after
  // its handshake, when it writes the request: OpenSSL's write to the
  // closed socket would raise SIGPIPE and end the test process.
  std::signal(SIGPIPE, SIG_IGN);
  auto c = cert.empty()
               ? std::make_unique<httplib::SSLClient>("127.0.0.1", port)
               : std::make_unique<httplib::SSLClient>("127.0.0.1", port, cert,
                                                      key);
  c->set_ca_cert_path(pki.ca.c_str());
  c->enable_server_certificate_verification(true);
  c->set_read_timeout(10, 0);
  c->set_connection_timeout(10, 0);
  return c;
}

std::string WriteBody(const std::string& host) {
  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 0; i < 3; ++i) samples.push_back({1700000000000 + i * 15000, 1.0 * i});
  return codec::CompressSnappyBlock(testing::SerializeWriteRequest(
      {{{{"__name__", "cpu"}, {"host", host}}, samples}}));
}

const httplib::Headers kWriteHeaders = {
    {"Content-Encoding", "snappy"},
    {"X-Prometheus-Remote-Write-Version", "0.1.0"}};

TEST_CASE("tls: remote write and /federate over TLS, the server verified by its CA") {
  SecureServer s(TlsConfig());
  auto c = TlsClient(s.port());
  auto r = c->Post("/api/v1/write", kWriteHeaders, WriteBody("a"),
                   "application/x-protobuf");
  REQUIRE(r);
  CHECK(r->status == 204);
  CHECK(s.head().active_series() == 1);
  // Keep-alive: the second request reuses the TLS session's connection.
  r = c->Get(testing::FederatePath({"{__name__=\"cpu\"}"}));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.find("cpu{host=\"a\"} 2") != std::string::npos);
  // A client that does not trust the CA refuses the server.
  httplib::SSLClient untrusting("127.0.0.1", s.port());
  untrusting.enable_server_certificate_verification(true);
  untrusting.set_ca_cert_path(testing::GetTestPki().stranger_cert.c_str());
  CHECK_FALSE(untrusting.Get("/-/healthy"));
}

TEST_CASE("tls: plain HTTP to the TLS port gets a 400 that says so, and nothing is applied") {
  SecureServer s(TlsConfig());
  testing::RawHttpConnection conn(s.port());
  REQUIRE(conn.Wait(std::chrono::seconds(5)).empty());
  const std::string body = WriteBody("plain");
  REQUIRE(conn.Send(testing::RawHttpConnection::Request(
                        "POST", "/api/v1/write",
                        {{"Content-Encoding", "snappy"},
                         {"Content-Type", "application/x-protobuf"}},
                        body))
              .empty());
  const testing::RawHttpResponse r = conn.Receive(std::chrono::seconds(10));
  INFO(r.error);
  REQUIRE(r.error.empty());
  CHECK(r.status == 400);
  CHECK(r.body == "client sent an HTTP request to an HTTPS server: this port "
                  "needs https\n");
  CHECK(r.header("connection") == "close");
  // The connection is closed after the answer.
  const testing::RawHttpResponse next = conn.Receive(std::chrono::seconds(10));
  CHECK_FALSE(next.error.empty());
  CHECK(s.head().active_series() == 0);
  CHECK(s.Metrics().find("promewma_http_tls_handshake_failures_total{} 1.0") !=
        std::string::npos);
}

TEST_CASE("mutual tls: each client_auth_type admits and refuses the clients it should") {
  using web::ClientAuthType;
  const testing::TestPki& pki = testing::GetTestPki();
  struct Case {
    ClientAuthType type;
    bool none, stranger, signed_by_ca;  // whether each client gets through
  };
  const Case cases[] = {
      {ClientAuthType::kRequestClientCert, true, true, true},
      {ClientAuthType::kRequireAnyClientCert, false, true, true},
      {ClientAuthType::kVerifyClientCertIfGiven, true, false, true},
      {ClientAuthType::kRequireAndVerifyClientCert, false, false, true},
  };
  for (const Case& c : cases) {
    INFO(web::ClientAuthTypeName(c.type));
    SecureServer s(TlsConfig(c.type));
    auto none = TlsClient(s.port());
    auto stranger = TlsClient(s.port(), pki.stranger_cert, pki.stranger_key);
    auto known = TlsClient(s.port(), pki.client_cert, pki.client_key);
    auto write = [](httplib::SSLClient& client, const std::string& host) {
      auto r = client.Post("/api/v1/write", kWriteHeaders, WriteBody(host),
                           "application/x-protobuf");
      return r && r->status == 204;
    };
    CHECK(write(*none, "none") == c.none);
    CHECK(write(*stranger, "stranger") == c.stranger);
    CHECK(write(*known, "known") == c.signed_by_ca);
    // A refused client's samples are not applied.
    CHECK(s.head().active_series() ==
          static_cast<size_t>(c.none + c.stranger + c.signed_by_ca));
  }
}

TEST_CASE("basic auth: right credentials pass, wrong or missing get 401 and touch nothing, /-/healthy needs none") {
  web::WebConfig web;
  web.basic_auth_users = {{"prometheus", testing::BcryptHash("pw")}};
  SecureServer s(web);
  httplib::Client c("127.0.0.1", s.port());
  c.set_read_timeout(10, 0);

  SECTION("missing and wrong credentials") {
    for (const char* password : {"", "wrong", "pw"}) {
      const bool missing = password[0] == '\0';
      const bool right = std::string(password) == "pw";
      INFO(password);
      httplib::Client client("127.0.0.1", s.port());
      if (!missing) client.set_basic_auth("prometheus", password);
      auto r = client.Post("/api/v1/write", kWriteHeaders,
                           WriteBody(password), "application/x-protobuf");
      REQUIRE(r);
      if (right) {
        CHECK(r->status == 204);
        continue;
      }
      CHECK(r->status == 401);
      CHECK(r->get_header_value("WWW-Authenticate") == "Basic");
      CHECK(r->body.find("unauthorized") == 0);
      CHECK(s.head().active_series() == 0);
    }
    CHECK(s.head().active_series() == 1);
    const std::string metrics = s.Metrics();
    CHECK(metrics.find("promewma_http_requests_total{code=\"401\",handler="
                       "\"write\"} 2.0") != std::string::npos);
  }
  SECTION("every endpoint but /-/healthy, the relay included") {
    auto r = c.Get("/-/healthy");
    REQUIRE(r);
    CHECK(r->status == 200);
    for (const char* path : {"/metrics", "/-/ready", "/federate?match[]=up",
                             "/no/such/path"}) {
      INFO(path);
      r = c.Get(path);
      REQUIRE(r);
      CHECK(r->status == 401);
    }
    r = c.Post("/api/v1/read", "x", "application/x-protobuf");
    REQUIRE(r);
    CHECK(r->status == 401);
    r = c.Post("/api/v1/notify/msteams", "{}", "application/json");
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(s.relayed() == 0);
    c.set_basic_auth("prometheus", "pw");
    r = c.Post("/api/v1/notify/msteams", "{}", "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(s.relayed() == 1);
    r = c.Get("/metrics");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
}

TEST_CASE("basic auth over mutual TLS: both are required") {
  const testing::TestPki& pki = testing::GetTestPki();
  web::WebConfig web = TlsConfig(web::ClientAuthType::kRequireAndVerifyClientCert);
  web.basic_auth_users = {{"prometheus", testing::BcryptHash("pw")}};
  SecureServer s(web);
  auto c = TlsClient(s.port(), pki.client_cert, pki.client_key);
  auto r = c->Get("/metrics");
  REQUIRE(r);
  CHECK(r->status == 401);
  c->set_basic_auth("prometheus", "pw");
  r = c->Get("/metrics");
  REQUIRE(r);
  CHECK(r->status == 200);
  auto no_cert = TlsClient(s.port());
  no_cert->set_basic_auth("prometheus", "pw");
  CHECK_FALSE(no_cert->Get("/metrics"));
}

}  // namespace
}  // namespace promewma::http
