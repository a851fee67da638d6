#include "web/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <optional>

namespace promewma::web {
namespace {

// Pairs whose outcome is kept. A deployment has a few users and one
// password each; more pairs than this are guesses, whose outcome is not
// worth the memory.
constexpr size_t kCacheEntries = 1024;

// bcrypt's alphabet: ./A-Za-z0-9.
bool BcryptChar(char c) {
  return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with padding, strictly (Go's base64.StdEncoding, which
// net/http's BasicAuth uses).
std::optional<std::string> DecodeBase64(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = Base64Value(c);
      if (v[j] < 0) return std::nullopt;
    }
    const unsigned n = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) |
                       (unsigned(v[2]) << 6) | unsigned(v[3]);
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

// "user:password" from an Authorization header, or nullopt when it is not
// Basic credentials ("Basic" is matched without regard to case, as Go does).
std::optional<std::string> Credentials(std::string_view authorization) {
  constexpr std::string_view kPrefix = "Basic ";
  if (authorization.size() < kPrefix.size()) return std::nullopt;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    const char a = authorization[i], b = kPrefix[i];
    if ((a | 0x20) != (b | 0x20)) return std::nullopt;
  }
  std::optional<std::string> decoded =
      DecodeBase64(authorization.substr(kPrefix.size()));
  if (!decoded || decoded->find(':') == std::string::npos) return std::nullopt;
  return decoded;
}

int BcryptCost(std::string_view hash) {
  return (hash[4] - '0') * 10 + (hash[5] - '0');
}

// A hash of a password nobody sends, at `cost`: what an unknown user's
// password is compared with.
std::string MakeDecoyHash(int cost) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0,
                       setting, sizeof(setting)) == nullptr) {
    return "";
  }
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* hash = crypt_r("promewma decoy password", setting, data.get());
  return hash != nullptr && hash[0] == '$' ? hash : "";
}

}  // namespace

Status CheckBcryptHash(std::string_view hash) {
  const bool prefix = hash.size() >= 7 && hash[0] == '$' && hash[1] == '2' &&
                      (hash[2] == 'a' || hash[2] == 'b' || hash[2] == 'y') &&
                      hash[3] == '$' && hash[6] == '$';
  if (!prefix) {
    return Status::InvalidArgument(
        "not a bcrypt hash: expected $2y$, $2b$ or $2a$, the cost and '$' "
        "(make one with htpasswd -nBC 10 \"\" | tr -d ':\\n')");
  }
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9' ||
      BcryptCost(hash) < 4 || BcryptCost(hash) > 31) {
    return Status::InvalidArgument("bcrypt cost must be 04 to 31");
  }
  if (hash.size() != 60) {
    return Status::InvalidArgument(
        "a bcrypt hash is 60 characters, this one " +
        std::to_string(hash.size()));
  }
  for (size_t i = 7; i < hash.size(); ++i) {
    if (!BcryptChar(hash[i])) {
      return Status::InvalidArgument(
          "bcrypt hash has a character outside ./A-Za-z0-9 at position " +
          std::to_string(i + 1));
    }
  }
  return Status::Ok();
}

bool BcryptMatches(std::string_view password, const std::string& hash) {
  if (password.find('\0') != std::string_view::npos) return false;
  if (!CheckBcryptHash(hash).ok()) return false;
  auto data = std::make_unique<crypt_data>();  // 32 KiB: not on the stack
  std::memset(data.get(), 0, sizeof(crypt_data));
  const std::string phrase(password);
  const char* out = crypt_r(phrase.c_str(), hash.c_str(), data.get());
  // crypt_r reports failure with a string starting with '*'.
  if (out == nullptr || std::strlen(out) != hash.size()) return false;
  return CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
}

size_t BasicAuthenticator::KeyHash::operator()(const Key& k) const {
  size_t h;
  std::memcpy(&h, k.data(), sizeof(h));  // a SHA-256 is uniform already
  return h;
}

BasicAuthenticator::BasicAuthenticator(std::map<std::string, std::string> users)
    : users_(std::move(users)),
      decoy_hash_(MakeDecoyHash(BcryptCost(users_.begin()->second))) {}

namespace {

std::array<unsigned char, 32> Sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(),
             nullptr);
  return digest;
}

}  // namespace

BasicAuthenticator::Verdict BasicAuthenticator::Lookup(
    std::string_view authorization) const {
  const std::optional<std::string> credentials = Credentials(authorization);
  if (!credentials) return Verdict::kDenied;
  const Key key = Sha256(*credentials);
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return Verdict::kUnknown;
  return it->second ? Verdict::kAllowed : Verdict::kDenied;
}

bool BasicAuthenticator::Verify(std::string_view authorization) {
  const std::optional<std::string> credentials = Credentials(authorization);
  if (!credentials) return false;
  const size_t colon = credentials->find(':');
  const std::string user = credentials->substr(0, colon);
  const std::string_view password =
      std::string_view(*credentials).substr(colon + 1);
  const auto it = users_.find(user);
  bool ok = false;
  {
    std::lock_guard<std::mutex> lock(verify_mu_);
    ok = BcryptMatches(password, it != users_.end() ? it->second : decoy_hash_);
  }
  ok = ok && it != users_.end();
  const Key key = Sha256(*credentials);
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_.size() >= kCacheEntries) cache_.erase(cache_.begin());
  cache_[key] = ok;
  return ok;
}

}  // namespace promewma::web
