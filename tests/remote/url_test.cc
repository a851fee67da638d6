// ParseUrl: what a remote-write URL may be, and one-line reasons for what
// it may not.

#include "remote/url.h"

#include <catch2/catch.hpp>
#include <string>

namespace promewma::remote {
namespace {

TEST_CASE("ParseUrl splits http(s) URLs into origin and request target") {
  struct Case {
    const char* url;
    const char* origin;
    const char* target;
    bool https;
    const char* host;
    int port;
  };
  const Case c = GENERATE(
      Case{"http://localhost:8428/api/v1/write", "http://localhost:8428",
           "/api/v1/write", false, "localhost", 8428},
      Case{"http://127.0.0.1/api/v1/write?x=1", "http://127.0.0.1:80",
           "/api/v1/write?x=1", false, "127.0.0.1", 80},
      Case{"HTTP://example.com", "http://example.com:80", "/", false,
           "example.com", 80},
      Case{"http://example.com?tenant=a#frag", "http://example.com:80",
           "/?tenant=a", false, "example.com", 80},
      Case{"http://[::1]:9090/write", "http://[::1]:9090", "/write", false,
           "[::1]", 9090},
      Case{"https://mimir.example.com/api/v1/push",
           "https://mimir.example.com:443", "/api/v1/push", true,
           "mimir.example.com", 443});
  CAPTURE(c.url);
  Result<ParsedUrl> url = ParseUrl(c.url);
  INFO(url.status().message());
  REQUIRE(url.ok());
  CHECK(url->origin == c.origin);
  CHECK(url->target == c.target);
  CHECK(url->https == c.https);
  CHECK(url->host == c.host);
  CHECK(url->port == c.port);
}

TEST_CASE("ParseUrl says what is wrong, without naming the key") {
  auto [url, want] = GENERATE(table<std::string, std::string>({
      {"", "must not be empty"},
      {"localhost:8428/api/v1/write",
       "must start with http:// or https://, got "
       "\"localhost:8428/api/v1/write\""},
      {"ftp://host/x", "scheme must be http or https, got \"ftp\""},
      {"htp://x", "scheme must be http or https, got \"htp\""},
      {"http://", "empty host"},
      {"http://:80/x", "empty host"},
      {"http://host:/x", "empty port"},
      {"http://host:0/x", "port 0 out of range"},
      {"http://host:65536/x", "port 65536 out of range"},
      {"http://127.0.0.1:99999/api/v1/write", "port 99999 out of range"},
      {"http://host:1234567/x", "port 1234567 out of range"},
      {"http://host:8a/x", "port must be a number, got \"8a\""},
      {"http://u:p@host/x",
       "user info in the url is not supported; use basic_auth"},
      {"http://host /x", "contains a space or control byte"},
      {"http://[::1/x", "unclosed '[' in host"},
      {"http://[::1]x/", "junk after ']' in host"},
      {"htp:/prom", "must start with http:// or https://, got \"htp:/prom\""},
  }));
  CAPTURE(url);
  Result<ParsedUrl> parsed = ParseUrl(url);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
  CHECK(parsed.status().message() == want);
}

}  // namespace
}  // namespace promewma::remote
