// Prometheus 2.42 reaches a promewma protected by a web config (TLS with
// client certificates required and verified, and basic auth) with its own
// remote_write and remote_read basic_auth and tls_config, as
// deploy/secure/prometheus.yml shows: node_exporter's CPU counters arrive
// through remote write, and Prometheus reads promewma's derived series
// back through remote read.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/bcrypt.h"
#include "testing/peers.h"
#include "testing/pki.h"

namespace promewma {
namespace {

using namespace std::chrono_literals;

TEST_CASE("Prometheus 2.42 remote_writes and remote_reads through TLS, client certificates and basic auth") {
  const testing::TestPki& pki = testing::GetTestPki();
  testing::PromewmaOptions options;
  options.web_config = "tls_server_config:\n"
                       "  cert_file: " + pki.server_cert + "\n"
                       "  key_file: " + pki.server_key + "\n"
                       "  client_ca_file: " + pki.ca + "\n"
                       "  client_auth_type: RequireAndVerifyClientCert\n"
                       "basic_auth_users:\n"
                       "  prometheus: " + testing::BcryptHash("pw-prometheus") + "\n";
  options.access.ca_file = pki.ca;
  options.access.client_cert = pki.client_cert;
  options.access.client_key = pki.client_key;
  options.access.user = "prometheus";
  options.access.password = "pw-prometheus";
  auto promewma = testing::StartPromewma(options);
  REQUIRE(promewma->url().rfind("https://", 0) == 0);

  auto node = testing::StartNodeExporter(
      {"--collector.disable-defaults", "--collector.cpu"});
  const std::string client_access =
      "    basic_auth:\n"
      "      username: prometheus\n"
      "      password_file: prometheus.password\n"
      "    tls_config:\n"
      "      ca_file: " + pki.ca + "\n"
      "      cert_file: " + pki.client_cert + "\n"
      "      key_file: " + pki.client_key + "\n";
  auto prometheus = testing::StartPrometheus(
      "global:\n"
      "  scrape_interval: 1s\n"
      "scrape_configs:\n"
      "  - job_name: node\n"
      "    static_configs: [{targets: ['" + node->address() + "']}]\n"
      "remote_write:\n"
      "  - url: " + promewma->url() + "/api/v1/write\n"
      "    queue_config: {batch_send_deadline: 1s}\n"
      "    write_relabel_configs:\n"
      "      - source_labels: [__name__]\n"
      "        regex: node_cpu_seconds_total\n"
      "        action: keep\n" +
          client_access +
          "remote_read:\n"
          "  - url: " + promewma->url() + "/api/v1/read\n"
          "    read_recent: true\n" +
          client_access,
      {}, {{"prometheus.password", "pw-prometheus\n"}});

  // Samples arrive through TLS and basic auth...
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  double applied = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    applied = promewma->MetricValue("promewma_write_samples_applied_total");
    if (applied > 0 && promewma->MetricValue("promewma_series_active") > 0) break;
    std::this_thread::sleep_for(200ms);
  }
  INFO(prometheus->StderrTail());
  INFO(promewma->StderrTail());
  REQUIRE(applied > 0);
  // ... and nothing was refused on the way.
  for (const auto& s : testing::SamplesNamed(promewma->Scrape(),
                                             "promewma_http_requests_total")) {
    INFO(s.labels.at("handler") << " " << s.labels.at("code"));
    CHECK(s.labels.at("code") != "401");
  }
  CHECK(promewma->MetricValue("promewma_http_tls_handshake_failures_total") == 0);

  // Prometheus reads the derived series back through remote read.
  httplib::Client prom("127.0.0.1", prometheus->port());
  prom.set_read_timeout(20, 0);
  nlohmann::json result;
  while (std::chrono::steady_clock::now() < deadline) {
    auto q = prom.Get(
        "/api/v1/query?query=count(node_cpu_seconds_total%3Aewma%7Bmode%3D%22idle%22%7D)");
    REQUIRE(q);
    REQUIRE(q->status == 200);
    result = nlohmann::json::parse(q->body)["data"]["result"];
    if (!result.empty()) break;
    std::this_thread::sleep_for(500ms);
  }
  INFO(result.dump());
  REQUIRE(result.size() == 1);
  CHECK(std::stod(result[0]["value"][1].get<std::string>()) >= 1);

  // A client without the credentials gets nothing: 401 over TLS.
  httplib::Client anonymous(promewma->url(), pki.client_cert, pki.client_key);
  anonymous.set_ca_cert_path(pki.ca);
  anonymous.enable_server_certificate_verification(true);
  auto r = anonymous.Get("/metrics");
  REQUIRE(r);
  CHECK(r->status == 401);
  // Nor does one without a client certificate, whatever its password.
  // (It learns so when it writes: no SIGPIPE for that write, please.)
  std::signal(SIGPIPE, SIG_IGN);
  httplib::Client no_cert(promewma->url());
  no_cert.set_ca_cert_path(pki.ca);
  no_cert.enable_server_certificate_verification(true);
  no_cert.set_basic_auth("prometheus", "pw-prometheus");
  CHECK_FALSE(no_cert.Get("/metrics"));

  REQUIRE(promewma->Stop() == 0);
}

}  // namespace
}  // namespace promewma
