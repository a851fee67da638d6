// ClientOptionsFor: a configured write-back target's tls_config reaches the
// client options, and a TLS file that is not what it should be stops the
// target from starting. (The TLS handshakes themselves are tested in
// tests/writeback/remote_write_client_tls_test.cc.)

#include "app/write_back.h"

#include <catch2/catch.hpp>
#include <string>

#include "testing/subprocess.h"

namespace promewma::app {
namespace {

TEST_CASE("ClientOptionsFor passes tls_config on") {
  config::WriteBackTarget target;
  target.url = "https://127.0.0.1:9/api/v1/write";
  target.tls.server_name = "prom.internal";
  target.tls.insecure_skip_verify = true;
  target.tls.min_version = "TLS13";
  remote::ClientOptions client;
  writeback::QueueConfig queue;
  const Status s = ClientOptionsFor(target, &client, &queue);
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(client.tls.server_name == "prom.internal");
  CHECK(client.tls.insecure_skip_verify);
  CHECK(client.tls.min_version == remote::TlsOptions::Version::kTls13);
  CHECK(client.tls.ca_file.empty());

  target.tls.min_version = "TLS12";
  REQUIRE(ClientOptionsFor(target, &client, &queue).ok());
  CHECK(client.tls.min_version == remote::TlsOptions::Version::kTls12);
}

TEST_CASE("ClientOptionsFor refuses TLS files that do not load") {
  testing::TempDir dir;
  const std::string not_pem = dir.WriteFile("not.pem", "not a PEM\n");
  config::WriteBackTarget target;
  target.url = "https://127.0.0.1:9/api/v1/write";
  SECTION("ca_file") {
    target.tls.ca_file = not_pem;
    remote::ClientOptions client;
    writeback::QueueConfig queue;
    const Status s = ClientOptionsFor(target, &client, &queue);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::StartsWith("write-back tls ca_file " +
                                              not_pem + ": no PEM CA"));
    CHECK(client.tls.ca_file == not_pem);
  }
  SECTION("cert_file and key_file") {
    target.tls.cert_file = not_pem;
    target.tls.key_file = not_pem;
    remote::ClientOptions client;
    writeback::QueueConfig queue;
    const Status s = ClientOptionsFor(target, &client, &queue);
    CHECK_THAT(s.message(),
               Catch::StartsWith("write-back tls cert_file " + not_pem +
                                 ": no PEM certificate"));
  }
}

}  // namespace
}  // namespace promewma::app
