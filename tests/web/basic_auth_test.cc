// BasicAuthenticator: header parsing, bcrypt through libxcrypt for each
// hash prefix htpasswd and Go write, and the cache that spares a sender
// bcrypt on every request.

#include "web/basic_auth.h"

#include <catch2/catch.hpp>
#include <string>

#include "testing/bcrypt.h"

namespace promewma::web {
namespace {

using Verdict = BasicAuthenticator::Verdict;

std::string Basic(const std::string& user_password) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "Basic ";
  size_t i = 0;
  for (; i + 3 <= user_password.size(); i += 3) {
    const unsigned n = (unsigned char)user_password[i] << 16 |
                       (unsigned char)user_password[i + 1] << 8 |
                       (unsigned char)user_password[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
  }
  const size_t rest = user_password.size() - i;
  if (rest > 0) {
    unsigned n = (unsigned char)user_password[i] << 16;
    if (rest == 2) n |= (unsigned char)user_password[i + 1] << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

TEST_CASE("bcrypt: $2y$, $2b$ and $2a$ hashes match their password and no other") {
  for (const char* prefix : {"$2y$", "$2b$", "$2a$"}) {
    const std::string hash = testing::BcryptHash("s3cret", 4, prefix);
    INFO(hash);
    CHECK(CheckBcryptHash(hash).ok());
    CHECK(BcryptMatches("s3cret", hash));
    CHECK_FALSE(BcryptMatches("s3cret ", hash));
    CHECK_FALSE(BcryptMatches("", hash));
    CHECK_FALSE(BcryptMatches(std::string("s3cret\0x", 8), hash));
  }
}

TEST_CASE("bcrypt: the published OpenBSD test vectors match") {
  // From the bcrypt test vectors every implementation checks against
  // (jBCrypt, Go's x/crypto/bcrypt): made elsewhere, so they check
  // libxcrypt and our call of it, not our own hashing.
  const std::pair<const char*, const char*> vectors[] = {
      {"", "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."},
      {"a", "$2a$06$m0CrhHm10qJ3lXRY.5zDGO3rS2KdeeWLuGmsfGlMfOxih58VYVfxe"},
      {"abc", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"},
      {"abcdefghijklmnopqrstuvwxyz",
       "$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC"},
  };
  for (const auto& [password, hash] : vectors) {
    INFO(password);
    REQUIRE(CheckBcryptHash(hash).ok());
    CHECK(BcryptMatches(password, hash));
    CHECK_FALSE(BcryptMatches(std::string(password) + "x", hash));
  }
}

TEST_CASE("basic auth: the right pair is allowed, after one bcrypt, then from the cache") {
  BasicAuthenticator auth({{"prometheus", testing::BcryptHash("pw")},
                           {"alertmanager", testing::BcryptHash("am")}});
  const std::string good = Basic("prometheus:pw");
  CHECK(auth.Lookup(good) == Verdict::kUnknown);
  CHECK(auth.Verify(good));
  CHECK(auth.Lookup(good) == Verdict::kAllowed);
  // "basic" in any case, as Go reads it.
  CHECK(auth.Lookup("bAsIc " + good.substr(6)) == Verdict::kAllowed);
  // Another user's password is not this user's.
  const std::string crossed = Basic("prometheus:am");
  CHECK(auth.Lookup(crossed) == Verdict::kUnknown);
  CHECK_FALSE(auth.Verify(crossed));
  CHECK(auth.Lookup(crossed) == Verdict::kDenied);
  CHECK(auth.Verify(Basic("alertmanager:am")));
}

TEST_CASE("basic auth: a wrong password, an unknown user and a malformed header are denied") {
  BasicAuthenticator auth({{"prometheus", testing::BcryptHash("pw")}});
  for (const std::string& header :
       {Basic("prometheus:wrong"), Basic("nobody:pw"), Basic("prometheus:"),
        Basic("prometheus:pw ")}) {
    INFO(header);
    CHECK(auth.Lookup(header) == Verdict::kUnknown);
    CHECK_FALSE(auth.Verify(header));
    CHECK(auth.Lookup(header) == Verdict::kDenied);
  }
  for (const std::string& header :
       {std::string(), std::string("Bearer abc"), std::string("Basic"),
        std::string("Basic !!!!"), std::string("Basic cHJvbWV0aGV1cw=="),
        Basic("prometheus:pw").substr(0, 10)}) {
    INFO(header);
    CHECK(auth.Lookup(header) == Verdict::kDenied);
    CHECK_FALSE(auth.Verify(header));
  }
}

TEST_CASE("basic auth: a password with a colon is split at the first one, as Go does") {
  BasicAuthenticator auth({{"u", testing::BcryptHash("a:b")}});
  CHECK(auth.Verify(Basic("u:a:b")));
  CHECK_FALSE(auth.Verify(Basic("u:a")));
}

}  // namespace
}  // namespace promewma::web
