#include "common/redacted_url.h"

#include <catch2/catch.hpp>
#include <string>

namespace promewma {
namespace {

TEST_CASE("RedactedUrl keeps scheme and host and drops path, query and user info",
          "[redacted_url]") {
  auto [url, shown] = GENERATE(table<std::string, std::string>({
      {"https://prod-1.westeurope.logic.azure.com:443/workflows/abc/triggers/"
       "manual/paths/invoke?api-version=2016-06-01&sig=SECRET",
       "https://prod-1.westeurope.logic.azure.com:443/…"},
      {"http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/…"},
      {"https://host?sig=SECRET", "https://host/…"},
      {"https://user:SECRET@host/p", "https://host/…"},
      {"https://host#SECRET", "https://host/…"},
      {"SECRET-without-scheme", "(not a URL)"},
      {"", "(not a URL)"},
  }));
  const std::string got = RedactedUrl(url);
  CHECK(got == shown);
  CHECK(got.find("SECRET") == std::string::npos);
}

}  // namespace
}  // namespace promewma
