#include "remote/client_config.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>
#include <tuple>

#include "common/key_path.h"
#include "common/one_line.h"
#include "common/openssl_error.h"
#include "remote/url.h"

namespace promewma::remote {
namespace {


bool IsToken(std::string_view s) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

bool HasLineBreak(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) !=
         std::string_view::npos;
}

// Prometheus' reservedHeaders (config/config.go) without its SigV4 ones:
// the protocol, the connection and the client own these. Authorization is
// refused separately, pointing at the auth options.
bool IsReservedHeader(std::string_view lower_name) {
  static constexpr std::string_view kReserved[] = {
      "host",
      "content-encoding",
      "content-length",
      "content-type",
      "user-agent",
      "connection",
      "keep-alive",
      "proxy-authenticate",
      "proxy-authorization",
      "www-authenticate",
      "accept-encoding",
      "x-prometheus-remote-write-version",
      "x-prometheus-remote-read-version",
  };
  return std::find(std::begin(kReserved), std::end(kReserved), lower_name) !=
         std::end(kReserved);
}

// A DNS name or IPv4 address: what httplib's URL parser takes as a host,
// which a server_name becomes (see RemoteWriteClient's constructor).
bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '.' || c == '_';
  });
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

Status CannotRead(const std::string& path, int err) {
  return Status::InvalidArgument("cannot read " + path + ": " +
                                 std::generic_category().message(err));
}

// Whether `path` opens and reads; the message names the OS error. A
// directory opens, and fails at the first read (EISDIR).
Status CheckReadable(const std::string& path) {
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file != nullptr) {
    std::fgetc(file.get());
    if (!std::ferror(file.get())) return Status::Ok();
  }
  return CannotRead(path, errno);
}

Status ValidateHeaders(const ClientConfig& config, std::string_view path) {
  std::vector<std::string> seen;
  for (const auto& [name, value] : config.headers) {
    const std::string key = JoinKeyPath(JoinKeyPath(path, "headers"), name);
    if (!IsToken(name)) {
      return ProblemAt(
          JoinKeyPath(path, "headers"),
          "header name " + QuotedOneLine(name) + " is not a valid HTTP token");
    }
    const std::string lower = AsciiLower(name);
    if (lower == "authorization") {
      return ProblemAt(key, "set it with basic_auth or authorization");
    }
    if (IsReservedHeader(lower)) {
      return ProblemAt(key, "is reserved: promewma sets it");
    }
    if (std::find(seen.begin(), seen.end(), lower) != seen.end()) {
      return ProblemAt(key, "is set twice (names are case-insensitive)");
    }
    seen.push_back(lower);
    if (HasLineBreak(value)) {
      return ProblemAt(key, "value contains a line break");
    }
  }
  return Status::Ok();
}

// A secret and its file: at most one, and the file must be readable.
Status ValidateSecret(const std::string& secret, const std::string& file,
                      std::string_view path, std::string_view secret_key,
                      std::string_view file_key) {
  if (!secret.empty() && !file.empty()) {
    return ProblemAt(path, std::string(secret_key) + " and " +
                               std::string(file_key) + " are exclusive");
  }
  if (HasLineBreak(secret)) {
    return ProblemAt(JoinKeyPath(path, secret_key), "contains a line break");
  }
  if (!file.empty()) {
    Result<std::string> content = ReadSecretFile(file);
    if (!content.ok()) {
      return ProblemAt(JoinKeyPath(path, file_key), content.status().message());
    }
    if (HasLineBreak(*content)) {
      return ProblemAt(JoinKeyPath(path, file_key),
                       file + " holds more than one line");
    }
  }
  return Status::Ok();
}

Status ValidateAuth(const ClientConfig& config, std::string_view path) {
  if (config.basic_auth && config.authorization) {
    return ProblemAt(path, "basic_auth and authorization are exclusive");
  }
  if (config.basic_auth) {
    const BasicAuth& basic = *config.basic_auth;
    const std::string at = JoinKeyPath(path, "basic_auth");
    if (basic.username.find(':') != std::string::npos ||
        HasLineBreak(basic.username)) {
      return ProblemAt(JoinKeyPath(at, "username"),
                       "must not contain ':' or a line break");
    }
    Status s = ValidateSecret(basic.password, basic.password_file, at,
                              "password", "password_file");
    if (!s.ok()) return s;
  }
  if (config.authorization) {
    const Authorization& auth = *config.authorization;
    const std::string at = JoinKeyPath(path, "authorization");
    if (!IsToken(auth.type)) {
      return ProblemAt(
          JoinKeyPath(at, "type"),
          "must be one word like Bearer, got " + QuotedOneLine(auth.type));
    }
    if (AsciiLower(auth.type) == "basic") {
      return ProblemAt(JoinKeyPath(at, "type"),
                       "Basic is not allowed here; use basic_auth");
    }
    Status s = ValidateSecret(auth.credentials, auth.credentials_file, at,
                              "credentials", "credentials_file");
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// Loads the TLS files the way the client will, so that a wrong path, a
// file that is not PEM or a key of another certificate is reported by the
// validator, not at every send.
Status CheckTlsFiles(const TlsConfig& tls, std::string_view path) {
  const std::pair<const char*, const std::string*> files[] = {
      {"ca_file", &tls.ca_file},
      {"cert_file", &tls.cert_file},
      {"key_file", &tls.key_file}};
  for (const auto& [key, file] : files) {
    if (file->empty()) continue;
    if (Status s = CheckReadable(*file); !s.ok()) {
      return ProblemAt(JoinKeyPath(path, key), s.message());
    }
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(
      SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (ctx == nullptr) return Status::Internal("tls: " + OpenSslError());
  auto bad = [&](const char* key, const std::string& file,
                 const std::string& what) {
    return ProblemAt(JoinKeyPath(path, key),
                     file + ": " + what + " (" + OpenSslError() + ")");
  };
  if (!tls.ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr) !=
          1) {
    return bad("ca_file", tls.ca_file, "no PEM CA certificate loaded");
  }
  if (!tls.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) !=
        1) {
      return bad("cert_file", tls.cert_file, "no PEM certificate loaded");
    }
    // This also checks that the key is the certificate's.
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(),
                                    SSL_FILETYPE_PEM) != 1) {
      const bool mismatch =
          ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
      return bad("key_file", tls.key_file,
                 mismatch ? "does not match cert_file " + tls.cert_file
                          : "no unencrypted PEM private key loaded");
    }
  }
  return Status::Ok();
}

Status ValidateTls(const ClientConfig& config, const ParsedUrl& url,
                   std::string_view path) {
  if (!config.tls_config) return Status::Ok();
  const TlsConfig& tls = *config.tls_config;
  const std::string at = JoinKeyPath(path, "tls_config");
  // A tls_config the scheme ignores would be a silent plaintext target.
  if (!url.https) {
    return ProblemAt(at, "needs an https:// url, got " + QuotedOneLine(config.url));
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return ProblemAt(at, "cert_file and key_file must be set together");
  }
  if (!tls.server_name.empty() && !IsHostName(tls.server_name)) {
    return ProblemAt(JoinKeyPath(at, "server_name"),
                     "must be a DNS name or an IPv4 address, got " +
                         QuotedOneLine(tls.server_name));
  }
  return CheckTlsFiles(tls, at);
}

}  // namespace

Status ValidateClientConfig(const ClientConfig& config, std::string_view path) {
  Result<ParsedUrl> url = ParseUrl(config.url);
  if (!url.ok()) {
    return ProblemAt(JoinKeyPath(path, "url"), url.status().message());
  }
  if (config.remote_timeout.count() <= 0) {
    return ProblemAt(JoinKeyPath(path, "remote_timeout"), "must be > 0");
  }
  if (Status s = ValidateHeaders(config, path); !s.ok()) return s;
  if (Status s = ValidateAuth(config, path); !s.ok()) return s;
  return ValidateTls(config, *url, path);
}

Result<std::string> ReadSecretFile(const std::string& path) {
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return CannotRead(path, errno);
  std::string content;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    content.append(buffer, n);
  }
  if (std::ferror(file.get())) return CannotRead(path, errno);
  const auto blank = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
  };
  const auto begin = std::find_if_not(content.begin(), content.end(), blank);
  const auto end =
      std::find_if_not(content.rbegin(), content.rend(), blank).base();
  return begin < end ? std::string(begin, end) : std::string();
}

bool SameClientConfig(const ClientConfig& a, const ClientConfig& b) {
  auto basic = [](const BasicAuth& x) {
    return std::tie(x.username, x.password, x.password_file);
  };
  auto auth = [](const Authorization& x) {
    return std::tie(x.type, x.credentials, x.credentials_file);
  };
  auto tls = [](const TlsConfig& x) {
    return std::tie(x.ca_file, x.cert_file, x.key_file, x.server_name,
                    x.insecure_skip_verify, x.min_version);
  };
  if (a.basic_auth.has_value() != b.basic_auth.has_value() ||
      (a.basic_auth && basic(*a.basic_auth) != basic(*b.basic_auth))) {
    return false;
  }
  if (a.authorization.has_value() != b.authorization.has_value() ||
      (a.authorization && auth(*a.authorization) != auth(*b.authorization))) {
    return false;
  }
  if (a.tls_config.has_value() != b.tls_config.has_value() ||
      (a.tls_config && tls(*a.tls_config) != tls(*b.tls_config))) {
    return false;
  }
  return std::tie(a.url, a.remote_timeout, a.headers, a.retry_on_http_429) ==
         std::tie(b.url, b.remote_timeout, b.headers, b.retry_on_http_429);
}

}  // namespace promewma::remote
