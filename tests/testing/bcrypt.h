// BcryptHash: a bcrypt hash of a password for a test's basic_auth_users,
// made with libxcrypt. Cost 4 (bcrypt's lowest) keeps tests fast; cost 10
// is htpasswd's usual.

#ifndef PROMEWMA_TESTS_TESTING_BCRYPT_H_
#define PROMEWMA_TESTS_TESTING_BCRYPT_H_

#include <string>

namespace promewma::testing {

// "$2y$..." (the prefix htpasswd writes) unless `prefix` says otherwise.
std::string BcryptHash(const std::string& password, int cost = 4,
                       const std::string& prefix = "$2y$");

}  // namespace promewma::testing

#endif  // PROMEWMA_TESTS_TESTING_BCRYPT_H_
