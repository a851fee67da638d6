// BasicAuthenticator: checks an HTTP Authorization header against the
// web config's basic_auth_users (user -> bcrypt hash), as exporter-toolkit
// does.
//
// bcrypt is slow on purpose (cost 10 takes 57 ms of CPU on a 2-core VM;
// each step of the cost doubles it), far too slow to pay on every
// remote-write request. So the
// outcome of each (user, password) pair is cached, keyed by their SHA-256
// (no password is kept in memory), and the check has two halves:
//   Lookup()  parses the header and looks the pair up: microseconds, fine
//             on an event loop. kAllowed and kDenied are final.
//   Verify()  runs bcrypt for a pair Lookup() did not know (kUnknown),
//             caches the outcome and returns it. Runs one at a time
//             (a flood of guesses costs one core, not all of them); the
//             server calls it on a thread of its own, never on a loop.
// A missing or malformed header is kDenied at once. An unknown user is
// compared with a hash of the same cost as the configured ones, so that
// the time taken does not tell which users exist. Both outcomes are
// cached, so a sender retrying with a wrong password costs one bcrypt. The
// cache holds at most kCacheEntries (basic_auth.cc) pairs; when full, an
// arbitrary entry goes.
//
// Thread-safety: Lookup() and Verify() may be called from any thread.

#ifndef PROMEWMA_WEB_BASIC_AUTH_H_
#define PROMEWMA_WEB_BASIC_AUTH_H_

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "promewma/status.h"

namespace promewma::web {

// Whether `hash` is a bcrypt hash crypt_r can check: $2a$, $2b$ or $2y$,
// a cost from 04 to 31, and 53 characters of salt and digest. The message
// says what is wrong, without the hash.
Status CheckBcryptHash(std::string_view hash);

// Whether `password` hashes to `hash` (bcrypt through libxcrypt's
// crypt_r). False for a password with a NUL byte or a malformed hash.
bool BcryptMatches(std::string_view password, const std::string& hash);

class BasicAuthenticator {
 public:
  enum class Verdict { kAllowed, kDenied, kUnknown };

  // REQUIRES: every hash passed CheckBcryptHash; `users` is not empty.
  explicit BasicAuthenticator(std::map<std::string, std::string> users);

  // `authorization`: the Authorization header's value ("" when absent).
  Verdict Lookup(std::string_view authorization) const;
  // bcrypt for the pair in `authorization`; caches the result.
  bool Verify(std::string_view authorization);

 private:
  using Key = std::array<unsigned char, 32>;  // SHA-256(user ':' password)
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };

  const std::map<std::string, std::string> users_;
  // Compared with when the user is unknown; the cost of the first user's.
  const std::string decoy_hash_;
  std::mutex verify_mu_;  // one bcrypt at a time
  mutable std::mutex cache_mu_;
  std::unordered_map<Key, bool, KeyHash> cache_;  // guarded by cache_mu_
};

}  // namespace promewma::web

#endif  // PROMEWMA_WEB_BASIC_AUTH_H_
