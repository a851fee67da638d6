// RemoteWriteClient against a real httplib::SSLServer on a loopback port:
// certificates made for this run with the openssl program (a CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate), then each
// tls option (ca_file, the system CAs by default, insecure_skip_verify,
// client certificates, server_name, min_version) and the TLS file checks of
// ValidateClientConfig. The certificates come from testing/pki.h.

#include <httplib.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "testing/pki.h"
#include "testing/server_thread.h"
#include "testing/subprocess.h"
#include "remote/remote_write_client.h"

namespace promewma::remote {
namespace {

using std::chrono::milliseconds;

using Pki = testing::TestPki;

// The certificates of this run (testing/pki.h).
const Pki* GetPki() { return &testing::GetTestPki(); }

// An https write endpoint that records the last request and the SNI name
// of the last handshake.
class TlsTarget {
 public:
  TlsTarget(const Pki& pki, bool require_client_cert)
      : server_(pki.server_cert.c_str(), pki.server_key.c_str(),
                require_client_cert ? pki.ca.c_str() : nullptr) {
    REQUIRE(server_.is_valid());
    SSL_CTX_set_tlsext_servername_callback(server_.ssl_context(),
                                           &TlsTarget::OnServerName);
    SSL_CTX_set_tlsext_servername_arg(server_.ssl_context(), this);
    server_.Post("/api/v1/write",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   std::lock_guard<std::mutex> lock(mu_);
                   last_ = req;
                   res.status = 204;
                 });
    running_ = std::make_unique<testing::ServerThread>(&server_);
  }

  void MaxVersionTls12() {
    SSL_CTX_set_max_proto_version(server_.ssl_context(), TLS1_2_VERSION);
  }
  httplib::Request last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }
  std::string sni() {
    std::lock_guard<std::mutex> lock(mu_);
    return sni_;
  }
  int port() const { return running_->port(); }
  std::string url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(running_->port()) + "/api/v1/write";
  }

 private:
  static int OnServerName(SSL* ssl, int* /*alert*/, void* arg) {
    auto* self = static_cast<TlsTarget*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->sni_ = name != nullptr ? name : "";
    return SSL_TLSEXT_ERR_OK;
  }

  httplib::SSLServer server_;
  std::mutex mu_;
  httplib::Request last_;
  std::string sni_;
  // Last: stops the server before the members its handlers use go.
  std::unique_ptr<testing::ServerThread> running_;
};

// An https target with an empty tls_config, which each test fills in.
ClientConfig Options(const std::string& url) {
  ClientConfig o;
  o.url = url;
  o.remote_timeout = milliseconds(5000);
  o.tls_config.emplace();
  return o;
}

// Sends one body; checks the options are valid first, as the app does.
SendResult SendOnce(const ClientConfig& o, const std::string& body = "x") {
  const Status valid = ValidateClientConfig(o);
  INFO(valid.message());
  REQUIRE(valid.ok());
  RemoteWriteClient client(o);
  return client.Send(body);
}

TEST_CASE("tls: ca_file verifies the server and the body arrives") {
  const Pki* pki = GetPki();
  TlsTarget target(*pki, false);
  ClientConfig o = Options(target.url());
  o.tls_config->ca_file = pki->ca;
  const std::string body("\x00\x01snappy\xff", 9);
  const SendResult r = SendOnce(o, body);
  INFO(r.reason);
  CHECK(r.outcome == SendResult::kSent);
  CHECK(r.http_status == 204);
  CHECK(target.last().body == body);
  CHECK(target.last().get_header_value("Content-Encoding") == "snappy");
}

TEST_CASE("tls: without ca_file the server is verified with the system CAs") {
  const Pki* pki = GetPki();
  TlsTarget target(*pki, false);
  SECTION("which do not have the test CA") {
    const SendResult r = SendOnce(Options(target.url()));
    // A network error, so retried (as Prometheus does) until
    // max_retry_duration; the reason says why.
    CHECK(r.outcome == SendResult::kRetry);
    CHECK(r.http_status == 0);
    CHECK(r.reason ==
          "TLS server certificate verification failed: unable to get local "
          "issuer certificate");
    CHECK(target.last().body.empty());
  }
  SECTION("which are OpenSSL's default paths (SSL_CERT_FILE moves them)") {
    // Shows that the default really loads the system store: pointed at the
    // test CA, the same client trusts the server.
    ::setenv("SSL_CERT_FILE", pki->ca.c_str(), 1);
    const SendResult r = SendOnce(Options(target.url()), "body");
    ::unsetenv("SSL_CERT_FILE");
    INFO(r.reason);
    CHECK(r.outcome == SendResult::kSent);
    CHECK(target.last().body == "body");
  }
}

TEST_CASE("tls: insecure_skip_verify sends without checking the server") {
  const Pki* pki = GetPki();
  TlsTarget target(*pki, false);
  ClientConfig o = Options(target.url());
  o.tls_config->insecure_skip_verify = true;
  const SendResult r = SendOnce(o, "body");
  INFO(r.reason);
  CHECK(r.outcome == SendResult::kSent);
  CHECK(target.last().body == "body");
}

TEST_CASE("tls: a server that requires a client certificate") {
  const Pki* pki = GetPki();
  TlsTarget target(*pki, true);
  ClientConfig o = Options(target.url());
  o.tls_config->ca_file = pki->ca;
  SECTION("accepts cert_file and key_file") {
    o.tls_config->cert_file = pki->client_cert;
    o.tls_config->key_file = pki->client_key;
    const SendResult r = SendOnce(o, "body");
    INFO(r.reason);
    CHECK(r.outcome == SendResult::kSent);
    CHECK(target.last().body == "body");
  }
  SECTION("refuses a client without one") {
    const SendResult r = SendOnce(o, "body");
    CHECK(r.outcome == SendResult::kRetry);
    CHECK(r.http_status == 0);
    // TLS 1.3 refuses after the handshake: reading the response then gets
    // the server's alert ("...: tlsv13 alert certificate required"), or
    // writing the request already fails on the closed connection.
    CHECK_THAT(r.reason, Catch::StartsWith("no complete response") ||
                             Catch::StartsWith("sending the request failed"));
    CHECK(target.last().body.empty());
  }
}

TEST_CASE("tls: server_name is the SNI and verified name, not the Host") {
  const Pki* pki = GetPki();
  TlsTarget target(*pki, false);
  ClientConfig o = Options(target.url());
  o.tls_config->ca_file = pki->ca;
  SECTION("a name the certificate has") {
    o.tls_config->server_name = "localhost";
    const SendResult r = SendOnce(o);
    INFO(r.reason);
    CHECK(r.outcome == SendResult::kSent);
    CHECK(target.sni() == "localhost");
    CHECK(target.last().get_header_value("Host") ==
          "127.0.0.1:" + std::to_string(target.port()));
  }
  SECTION("a name it does not have") {
    o.tls_config->server_name = "wrong.example";
    const SendResult r = SendOnce(o);
    CHECK(r.outcome == SendResult::kRetry);
    CHECK(r.reason ==
          "TLS server certificate verification failed: the certificate is "
          "not valid for \"wrong.example\"");
  }
  SECTION("the URL's host is a name, resolved by the client") {
    o.url = target.url("localhost");
    o.tls_config->server_name = "localhost";
    RemoteWriteClient client(o);
    // localhost may resolve to ::1 first, where nothing listens: each
    // network error moves the client to the next address.
    SendResult r;
    for (int attempt = 0; attempt < 3; ++attempt) {
      r = client.Send("x");
      if (r.outcome == SendResult::kSent) break;
    }
    INFO(r.reason);
    CHECK(r.outcome == SendResult::kSent);
    CHECK(target.last().get_header_value("Host") ==
          "localhost:" + std::to_string(target.port()));
  }
}

TEST_CASE("tls: min_version TLS13 refuses a TLS 1.2 server") {
  const Pki* pki = GetPki();
  TlsTarget target(*pki, false);
  target.MaxVersionTls12();
  ClientConfig o = Options(target.url());
  o.tls_config->ca_file = pki->ca;
  CHECK(SendOnce(o).outcome == SendResult::kSent);
  o.tls_config->min_version = TlsConfig::Version::kTls13;
  const SendResult r = SendOnce(o);
  CHECK(r.outcome == SendResult::kRetry);
  CHECK(r.reason == "TLS handshake failed: tlsv1 alert protocol version");
}

TEST_CASE("tls: ValidateClientConfig loads the TLS files") {
  const Pki* pki = GetPki();
  ClientConfig o = Options("https://127.0.0.1:1/api/v1/write");
  o.tls_config->ca_file = pki->ca;
  o.tls_config->cert_file = pki->client_cert;
  o.tls_config->key_file = pki->client_key;
  CHECK(ValidateClientConfig(o).ok());

  const std::string not_pem = pki->dir.WriteFile("not.pem", "not a PEM\n");
  struct Case {
    std::string ca, cert, key;
    std::string want;
  };
  const Case c = GENERATE_COPY(
      Case{not_pem, "", "",
           "write_back[1].tls_config.ca_file: " + not_pem +
               ": no PEM CA certificate loaded ("},
      Case{pki->dir.path() + "/absent.pem", "", "",
           "write_back[1].tls_config.ca_file: cannot read " +
               pki->dir.path() + "/absent.pem: No such file or directory"},
      Case{"", not_pem, pki->client_key,
           "write_back[1].tls_config.cert_file: " + not_pem +
               ": no PEM certificate loaded ("},
      Case{"", pki->client_cert, pki->dir.path() + "/absent.key",
           "write_back[1].tls_config.key_file: cannot read " +
               pki->dir.path() + "/absent.key: No such file or directory"},
      Case{"", pki->client_cert, not_pem,
           "write_back[1].tls_config.key_file: " + not_pem +
               ": no unencrypted PEM private key loaded ("},
      Case{"", pki->client_cert, pki->server_key,
           "write_back[1].tls_config.key_file: " + pki->server_key +
               ": does not match cert_file " + pki->client_cert + " ("});
  o.tls_config->ca_file = c.ca;
  o.tls_config->cert_file = c.cert;
  o.tls_config->key_file = c.key;
  const Status s = ValidateClientConfig(o, "write_back[1]");
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::StartsWith(c.want));
  CHECK(s.message().find('\n') == std::string::npos);
}

}  // namespace
}  // namespace promewma::remote
