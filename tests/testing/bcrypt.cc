#include "testing/bcrypt.h"

#include <crypt.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <memory>

namespace promewma::testing {

std::string BcryptHash(const std::string& password, int cost,
                       const std::string& prefix) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // libxcrypt makes $2b$ settings; $2y$ and $2a$ hash the same for
  // passwords without 8-bit characters, so the prefix is swapped after.
  REQUIRE(crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr,
                           0, setting, sizeof(setting)) != nullptr);
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* hash = crypt_r(password.c_str(), setting, data.get());
  REQUIRE(hash != nullptr);
  REQUIRE(hash[0] == '$');
  std::string out(hash);
  out.replace(0, 4, prefix);
  return out;
}

}  // namespace promewma::testing
