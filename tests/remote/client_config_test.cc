// ValidateClientConfig: every rule but the TLS file contents (those are in
// remote_write_client_tls_test.cc, which makes real certificates), with
// messages that name the key path; and ReadSecretFile.

#include "remote/client_config.h"

#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include "testing/subprocess.h"

namespace promewma::remote {
namespace {

using std::chrono::milliseconds;
using ConfigEdit = std::function<void(ClientConfig*)>;

ClientConfig Valid() {
  ClientConfig c;
  c.url = "http://127.0.0.1:9/api/v1/write";
  return c;
}

TEST_CASE("a URL alone is a valid client config") {
  CHECK(ValidateClientConfig(Valid()).ok());
  ClientConfig c = Valid();
  c.headers = {{"X-Scope-OrgID", "team-a"}, {"X-Other", ""}};
  c.basic_auth = BasicAuth{"user", "pass", ""};
  CHECK(ValidateClientConfig(c).ok());
  c.basic_auth.reset();
  c.authorization = Authorization{"Bearer", "token", ""};
  CHECK(ValidateClientConfig(c).ok());
  c.url = "https://127.0.0.1:9/api/v1/write";
  c.tls_config = TlsConfig{};
  c.tls_config->server_name = "prom.example.net";
  c.tls_config->insecure_skip_verify = true;
  CHECK(ValidateClientConfig(c).ok());
}

TEST_CASE("every header Prometheus reserves for remote write is refused") {
  const std::string name =
      GENERATE("Host", "Content-Encoding", "content-encoding", "Content-Length",
               "Content-Type", "User-Agent", "Connection", "Keep-Alive",
               "Proxy-Authenticate", "Proxy-Authorization", "Www-Authenticate",
               "Accept-Encoding", "X-Prometheus-Remote-Write-Version",
               "X-Prometheus-Remote-Read-Version");
  ClientConfig c = Valid();
  c.headers = {{name, "x"}};
  CHECK(ValidateClientConfig(c, "write_back[0]").message() ==
        "write_back[0].headers." + name + ": is reserved: promewma sets it");
}

TEST_CASE("ValidateClientConfig names the key and the problem") {
  auto [edit, want] = GENERATE(table<ConfigEdit, std::string>({
      {[](ClientConfig* c) { c->url = "http://127.0.0.1:99999/w"; },
       "t.url: port 99999 out of range"},
      {[](ClientConfig* c) { c->url.clear(); }, "t.url: must not be empty"},
      {[](ClientConfig* c) { c->remote_timeout = milliseconds(0); },
       "t.remote_timeout: must be > 0"},
      {[](ClientConfig* c) {
         c->headers = {{"Authorization", "Bearer x"}};
       },
       "t.headers.Authorization: set it with basic_auth or authorization"},
      {[](ClientConfig* c) {
         c->headers = {{"Bad Name", "v"}};
       },
       "t.headers: header name \"Bad Name\" is not a valid HTTP token"},
      {[](ClientConfig* c) {
         c->headers = {{"X-A", "a"}, {"x-a", "b"}};
       },
       "t.headers.x-a: is set twice (names are case-insensitive)"},
      {[](ClientConfig* c) {
         c->headers = {{"X-Ok", "line\r\nInjected: 1"}};
       },
       "t.headers.X-Ok: value contains a line break"},
      {[](ClientConfig* c) {
         c->basic_auth = BasicAuth{"u", "p", ""};
         c->authorization = Authorization{};
       },
       "t: basic_auth and authorization are exclusive"},
      {[](ClientConfig* c) {
         c->basic_auth = BasicAuth{"u", "p", "f"};
       },
       "t.basic_auth: password and password_file are exclusive"},
      {[](ClientConfig* c) {
         c->basic_auth = BasicAuth{"a:b", "p", ""};
       },
       "t.basic_auth.username: must not contain ':' or a line break"},
      {[](ClientConfig* c) {
         c->basic_auth = BasicAuth{"u", "", "/nonexistent/password"};
       },
       "t.basic_auth.password_file: cannot read /nonexistent/password: No "
       "such file or directory"},
      {[](ClientConfig* c) {
         c->authorization = Authorization{"Bearer", "c", "f"};
       },
       "t.authorization: credentials and credentials_file are exclusive"},
      {[](ClientConfig* c) {
         c->authorization = Authorization{"Bearer", "", "/nonexistent/token"};
       },
       "t.authorization.credentials_file: cannot read /nonexistent/token: No "
       "such file or directory"},
      {[](ClientConfig* c) {
         c->authorization = Authorization{"basic", "dTpw", ""};
       },
       "t.authorization.type: Basic is not allowed here; use basic_auth"},
      {[](ClientConfig* c) {
         c->authorization = Authorization{"Two Words", "x", ""};
       },
       "t.authorization.type: must be one word like Bearer, got \"Two "
       "Words\""},
      {[](ClientConfig* c) {
         c->authorization = Authorization{"Bearer", "a\nb", ""};
       },
       "t.authorization.credentials: contains a line break"},
      {[](ClientConfig* c) { c->tls_config = TlsConfig{}; },
       "t.tls_config: needs an https:// url, got "
       "\"http://127.0.0.1:9/api/v1/write\""},
      {[](ClientConfig* c) {
         c->url = "https://a.example/w";
         c->tls_config = TlsConfig{};
         c->tls_config->cert_file = "/etc/promewma/client.pem";
       },
       "t.tls_config: cert_file and key_file must be set together"},
      {[](ClientConfig* c) {
         c->url = "https://a.example/w";
         c->tls_config = TlsConfig{};
         c->tls_config->server_name = "prom.example.net:443";
       },
       "t.tls_config.server_name: must be a DNS name or an IPv4 address, "
       "got \"prom.example.net:443\""},
      {[](ClientConfig* c) {
         c->url = "https://a.example/w";
         c->tls_config = TlsConfig{};
         c->tls_config->ca_file = "/nonexistent/ca.pem";
       },
       "t.tls_config.ca_file: cannot read /nonexistent/ca.pem: No such file "
       "or directory"},
      {[](ClientConfig* c) {
         c->url = "https://a.example/w";
         c->tls_config = TlsConfig{};
         c->tls_config->ca_file = "/";
       },
       "t.tls_config.ca_file: cannot read /: Is a directory"},
  }));
  ClientConfig c = Valid();
  edit(&c);
  const Status s = ValidateClientConfig(c, "t");
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message() == want);
}

TEST_CASE("without a path the key alone leads the message") {
  ClientConfig c = Valid();
  c.remote_timeout = milliseconds(-1);
  CHECK(ValidateClientConfig(c).message() == "remote_timeout: must be > 0");
  c = Valid();
  c.basic_auth = BasicAuth{"u", "p", ""};
  c.authorization = Authorization{};
  CHECK(ValidateClientConfig(c).message() ==
        "basic_auth and authorization are exclusive");
}

TEST_CASE("secret files are read with surrounding whitespace trimmed") {
  testing::TempDir dir;
  CHECK(*ReadSecretFile(dir.WriteFile("a", "s3cret\n")) == "s3cret");
  CHECK(*ReadSecretFile(dir.WriteFile("b", "  s3cret \r\n\n")) == "s3cret");
  CHECK(*ReadSecretFile(dir.WriteFile("c", "")) == "");
  const Result<std::string> missing = ReadSecretFile(dir.path() + "/absent");
  CHECK(missing.status().message() ==
        "cannot read " + dir.path() + "/absent: No such file or directory");
  CHECK(ReadSecretFile(dir.path()).status().message() ==
        "cannot read " + dir.path() + ": Is a directory");

  // A secret file of two lines would be a header injection.
  ClientConfig c = Valid();
  c.authorization = Authorization{"Bearer", "", dir.WriteFile("d", "a\nb\n")};
  CHECK(ValidateClientConfig(c).message() ==
        "authorization.credentials_file: " + dir.path() +
            "/d holds more than one line");
  c.authorization->credentials_file = dir.WriteFile("e", "token\n");
  CHECK(ValidateClientConfig(c).ok());
}

}  // namespace
}  // namespace promewma::remote
