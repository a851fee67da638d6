// The web config file: what parses, what is refused and with which
// message, and the TLS files LoadWebConfigFile loads the way the server
// will.

#include "web/web_config.h"

#include <openssl/ssl.h>

#include <catch2/catch.hpp>
#include <string>

#include "testing/bcrypt.h"
#include "testing/pki.h"
#include "testing/subprocess.h"
#include "web/tls_context.h"

namespace promewma::web {
namespace {

std::string Problem(const std::string& yaml) {
  Result<WebConfig> c = ParseWebConfig(yaml, "/etc/promewma/web.yml");
  REQUIRE_FALSE(c.ok());
  return c.status().message();
}

TEST_CASE("web config: an empty file is plain HTTP without auth") {
  for (const char* yaml : {"", "# nothing\n", "tls_server_config:\n"}) {
    Result<WebConfig> c = ParseWebConfig(yaml, "web.yml");
    REQUIRE(c.ok());
    CHECK_FALSE(c->tls_server_config.enabled());
    CHECK(c->basic_auth_users.empty());
  }
}

TEST_CASE("web config: every supported key, relative files against the file's directory") {
  const std::string hash = testing::BcryptHash("secret");
  Result<WebConfig> c = ParseWebConfig(
      "tls_server_config:\n"
      "  cert_file: server.crt\n"
      "  key_file: /abs/server.key\n"
      "  client_ca_file: ca/ca.crt\n"
      "  client_auth_type: RequireAndVerifyClientCert\n"
      "  min_version: TLS13\n"
      "  max_version: TLS13\n"
      "basic_auth_users:\n"
      "  prometheus: " + hash + "\n"
      "  alertmanager: '" + testing::BcryptHash("x", 4, "$2b$") + "'\n",
      "/etc/promewma/web.yml");
  INFO(c.status().message());
  REQUIRE(c.ok());
  const TlsServerConfig& tls = c->tls_server_config;
  CHECK(tls.enabled());
  CHECK(tls.cert_file == "/etc/promewma/server.crt");
  CHECK(tls.key_file == "/abs/server.key");
  CHECK(tls.client_ca_file == "/etc/promewma/ca/ca.crt");
  CHECK(tls.client_auth_type == ClientAuthType::kRequireAndVerifyClientCert);
  CHECK(tls.min_version == TLS1_3_VERSION);
  CHECK(tls.max_version == TLS1_3_VERSION);
  REQUIRE(c->basic_auth_users.size() == 2);
  CHECK(c->basic_auth_users.at("prometheus") == hash);
}

TEST_CASE("web config: the defaults are TLS 1.2 to 1.3 and NoClientCert") {
  Result<WebConfig> c = ParseWebConfig(
      "tls_server_config: {cert_file: a.crt, key_file: a.key}\n", "web.yml");
  REQUIRE(c.ok());
  CHECK(c->tls_server_config.min_version == TLS1_2_VERSION);
  CHECK(c->tls_server_config.max_version == TLS1_3_VERSION);
  CHECK(c->tls_server_config.client_auth_type == ClientAuthType::kNoClientCert);
  CHECK(c->tls_server_config.cert_file == "a.crt");
}

TEST_CASE("web config: each client_auth_type name, and exporter-toolkit's old RequireClientCert") {
  const std::pair<const char*, ClientAuthType> cases[] = {
      {"NoClientCert", ClientAuthType::kNoClientCert},
      {"RequestClientCert", ClientAuthType::kRequestClientCert},
      {"RequireAnyClientCert", ClientAuthType::kRequireAnyClientCert},
      {"RequireClientCert", ClientAuthType::kRequireAnyClientCert},
      {"VerifyClientCertIfGiven", ClientAuthType::kVerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert",
       ClientAuthType::kRequireAndVerifyClientCert},
  };
  for (const auto& [name, type] : cases) {
    Result<WebConfig> c = ParseWebConfig(
        std::string("tls_server_config: {cert_file: a, key_file: b, "
                    "client_auth_type: ") +
            name + "}\n",
        "web.yml");
    INFO(name);
    REQUIRE(c.ok());
    CHECK(c->tls_server_config.client_auth_type == type);
  }
}

TEST_CASE("web config: bad files are refused with the file, the key and the reason") {
  const std::pair<std::string, std::string> cases[] = {
      {"tls_server_config:\n  key_file: a.key\n",
       "/etc/promewma/web.yml: tls_server_config: missing cert_file"},
      {"tls_server_config:\n  cert_file: a.crt\n",
       "/etc/promewma/web.yml: tls_server_config: missing key_file"},
      {"tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n",
       "/etc/promewma/web.yml: tls_server_config: missing cert_file"},
      {"tls_server_config: {cert_file: a, key_file: b, client_ca_file: c}\n",
       "/etc/promewma/web.yml: tls_server_config: client_ca_file is set but "
       "client_auth_type is NoClientCert"},
      {"tls_server_config: {cert_file: a, key_file: b, client_auth_type: "
       "Sometimes}\n",
       "/etc/promewma/web.yml: tls_server_config.client_auth_type: invalid "
       "client auth type \"Sometimes\""},
      {"tls_server_config: {cert_file: a, key_file: b, min_version: TLS14}\n",
       "/etc/promewma/web.yml: tls_server_config.min_version: unknown TLS "
       "version \"TLS14\""},
      {"tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, "
       "max_version: TLS12}\n",
       "/etc/promewma/web.yml: tls_server_config: min_version is above "
       "max_version"},
      {"tls_server_config: {cert_file: a, key_file: b, cipher_suites: []}\n",
       "/etc/promewma/web.yml: tls_server_config.cipher_suites: not supported "
       "by promewma"},
      {"tls_server_config: {cert_fiel: a}\n",
       "/etc/promewma/web.yml: tls_server_config.cert_fiel: unknown key"},
      {"http_server_config: {http2: false}\n",
       "/etc/promewma/web.yml: http_server_config: not supported by promewma"},
      {"basic_auth_user: {a: b}\n",
       "/etc/promewma/web.yml: basic_auth_user: unknown key"},
      {"basic_auth_users:\n  alice: secret\n",
       "/etc/promewma/web.yml: basic_auth_users.alice: not a bcrypt hash"},
      {"basic_auth_users:\n  alice: $2y$10$tooshort\n",
       "/etc/promewma/web.yml: basic_auth_users.alice: a bcrypt hash is 60 "
       "characters, this one 15"},
      {"basic_auth_users:\n  alice: $2y$99$" + std::string(53, 'a') + "\n",
       "/etc/promewma/web.yml: basic_auth_users.alice: bcrypt cost must be 04 "
       "to 31"},
      {"basic_auth_users:\n  'a:b': " + testing::BcryptHash("x") + "\n",
       "/etc/promewma/web.yml: basic_auth_users.a:b: a user name cannot "
       "contain ':'"},
      {"basic_auth_users:\n  alice: [x]\n",
       "/etc/promewma/web.yml: basic_auth_users.alice: expected a string, got "
       "a list"},
      {"basic_auth_users: {a: x, a: y}\n",
       "/etc/promewma/web.yml: basic_auth_users.a: duplicate key"},
      {"tls_server_config: [\n", "/etc/promewma/web.yml: line "},
  };
  for (const auto& [yaml, expected] : cases) {
    INFO(yaml);
    const std::string problem = Problem(yaml);
    INFO(problem);
    CHECK(problem.rfind(expected, 0) == 0);
    CHECK(problem.find('\n') == std::string::npos);
  }
}

TEST_CASE("web config file: its TLS files are loaded, and a missing or mismatched one is refused") {
  const testing::TestPki& pki = testing::GetTestPki();
  testing::TempDir dir;
  SECTION("a good file loads, and a context is made from it") {
    const std::string path = dir.WriteFile(
        "web.yml", "tls_server_config:\n  cert_file: " + pki.server_cert +
                       "\n  key_file: " + pki.server_key +
                       "\n  client_ca_file: " + pki.ca +
                       "\n  client_auth_type: RequireAndVerifyClientCert\n");
    Result<WebConfig> c = LoadWebConfigFile(path);
    INFO(c.status().message());
    REQUIRE(c.ok());
    CHECK(MakeServerTlsContext(c->tls_server_config).ok());
  }
  SECTION("a missing cert_file names the key and the file") {
    const std::string path = dir.WriteFile(
        "web.yml", "tls_server_config:\n  cert_file: nope.crt\n  key_file: " +
                       pki.server_key + "\n");
    Result<WebConfig> c = LoadWebConfigFile(path);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().rfind(
              path + ": tls_server_config.cert_file: " + dir.path() +
                  "/nope.crt: cannot load a PEM certificate",
              0) == 0);
  }
  SECTION("a key that is not the certificate's is refused") {
    const std::string path = dir.WriteFile(
        "web.yml", "tls_server_config:\n  cert_file: " + pki.server_cert +
                       "\n  key_file: " + pki.client_key + "\n");
    Result<WebConfig> c = LoadWebConfigFile(path);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().find(
              "tls_server_config.key_file: " + pki.client_key +
              ": does not match the certificate of cert_file") !=
          std::string::npos);
  }
  SECTION("a client_ca_file that is not PEM is refused") {
    const std::string bogus = dir.WriteFile("ca.crt", "not a certificate\n");
    const std::string path = dir.WriteFile(
        "web.yml", "tls_server_config:\n  cert_file: " + pki.server_cert +
                       "\n  key_file: " + pki.server_key +
                       "\n  client_ca_file: ca.crt\n"
                       "  client_auth_type: RequireAndVerifyClientCert\n");
    Result<WebConfig> c = LoadWebConfigFile(path);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().find("tls_server_config.client_ca_file: " +
                                    bogus) != std::string::npos);
  }
  SECTION("a missing web config file is NotFound and says so") {
    Result<WebConfig> c = LoadWebConfigFile(dir.path() + "/absent.yml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == StatusCode::kNotFound);
    CHECK(c.status().message().find("absent.yml: cannot read the web config "
                                    "file") != std::string::npos);
  }
}

}  // namespace
}  // namespace promewma::web
