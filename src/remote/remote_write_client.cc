#include "remote/remote_write_client.h"

#include <httplib.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <system_error>

#include "common/one_line.h"
#include "promewma/version.h"
#include "remote/backoff.h"

namespace promewma::remote {

namespace {

constexpr char kUserAgent[] = "promewma/" PROMEWMA_VERSION;

struct ParsedUrl {
  std::string origin;  // scheme://host:port, what httplib::Client takes
  std::string target;  // path and query, "/" when the URL has none
  bool https = false;
  std::string host;  // as written; an IPv6 address keeps its brackets
  int port = 0;
};

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A deliberately strict parser: a write-back URL comes from configuration,
// and a typo there should fail at startup, not become a request to a host
// named "htp:/prom". (httplib's own parser treats anything it cannot match
// as a bare host name.)
Result<ParsedUrl> ParseUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("write-back url \"" +
                                   EscapeToOneLine(url) + "\": " +
                                   std::string(why));
  };
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return bad("contains a space or control byte");
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return bad("must start with http:// or https://");
  }
  const std::string scheme = ToLower(url.substr(0, sep));
  if (scheme != "http" && scheme != "https") {
    return bad("scheme must be http or https");
  }
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (scheme == "https") {
    return bad(
        "https is not available: cpp-httplib was built without OpenSSL");
  }
#endif
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));  // a fragment is never sent
  const size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target = authority_end == std::string_view::npos
                                ? std::string_view()
                                : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return bad("user info in the url is not supported; use basic_auth");
  }
  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in host");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ']' in host");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
    if (host.size() <= 2) return bad("empty host");
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
    if (host.empty()) return bad("empty host");
  }
  int port_number = scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    if (port.size() > 5) return bad("port out of range");
    port_number = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return bad("port must be a number");
      }
      port_number = port_number * 10 + (c - '0');
    }
    if (port_number < 1 || port_number > 65535) {
      return bad("port out of range");
    }
  }
  ParsedUrl parsed;
  parsed.origin = scheme + "://" + std::string(host) + ":" +
                  std::to_string(port_number);
  parsed.target = target.empty() ? "/" : std::string(target);
  if (parsed.target.front() == '?') parsed.target.insert(0, "/");
  parsed.https = scheme == "https";
  parsed.host = std::string(host);
  parsed.port = port_number;
  return parsed;
}

bool IsToken(std::string_view s) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

// Headers the protocol or the auth options own. Prometheus refuses the same
// set in remote_write.headers.
bool IsReservedHeader(std::string_view name) {
  static const char* const kReserved[] = {
      "content-type", "content-encoding", "content-length",
      "user-agent",   "x-prometheus-remote-write-version",
      "authorization", "host", "connection"};
  const std::string lower = ToLower(name);
  for (const char* r : kReserved) {
    if (lower == r) return true;
  }
  return false;
}

std::string FirstLine(std::string_view body) {
  std::string_view line = body.substr(0, body.find_first_of("\r\n"));
  bool truncated = false;
  if (line.size() > kMaxReasonBytes) {
    line = line.substr(0, kMaxReasonBytes);
    truncated = true;
  }
  if (line.empty()) return "(empty response body)";
  std::string out = EscapeToOneLine(line);
  if (truncated) out += "...";
  return out;
}

// A DNS name or IPv4 address: what httplib's URL parser takes as a host,
// which a server_name becomes (see the constructor).
bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '.' || c == '_';
  });
}

// The reason of the oldest queued OpenSSL error; clears the queue.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();  // NOLINT(runtime/int)
  ERR_clear_error();
  if (ERR_SYSTEM_ERROR(code)) {  // e.g. fopen's; OpenSSL has no text for it
    return std::generic_category().message(ERR_GET_REASON(code));
  }
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

// Loads the TLS files the way the client will, so that a wrong path, a file
// that is not PEM or a key of another certificate is reported at startup.
Status CheckTlsFiles(const TlsOptions& tls) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(
      SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (ctx == nullptr) {
    return Status::Internal("write-back tls: " + OpenSslError());
  }
  auto bad = [](const std::string& key, const std::string& path,
                std::string_view what) {
    return Status::InvalidArgument("write-back tls " + key + " " + path +
                                   ": " + std::string(what) + " (" +
                                   OpenSslError() + ")");
  };
  if (!tls.ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(),
                                    nullptr) != 1) {
    return bad("ca_file", tls.ca_file, "no PEM CA certificate loaded");
  }
  if (!tls.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(),
                                           tls.cert_file.c_str()) != 1) {
      return bad("cert_file", tls.cert_file, "no PEM certificate loaded");
    }
    // This also checks that the key is the certificate's.
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(),
                                    SSL_FILETYPE_PEM) != 1) {
      const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) ==
                            X509_R_KEY_VALUES_MISMATCH;
      return bad("key_file", tls.key_file,
                 mismatch ? "does not match cert_file " + tls.cert_file
                          : "no unencrypted PEM private key loaded");
    }
  }
  return Status::Ok();
}

Status ValidateTls(const ParsedUrl& url, const TlsOptions& tls) {
  const bool any = !tls.ca_file.empty() || !tls.cert_file.empty() ||
                   !tls.key_file.empty() || !tls.server_name.empty() ||
                   tls.insecure_skip_verify ||
                   tls.min_version != TlsOptions::Version::kTls12;
  if (!url.https) {
    return any ? Status::InvalidArgument(
                     "write-back tls options need an https:// url")
               : Status::Ok();
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return Status::InvalidArgument(
        "write-back tls: cert_file and key_file must be set together");
  }
  if (!tls.server_name.empty() && !IsHostName(tls.server_name)) {
    return Status::InvalidArgument(
        "write-back tls server_name \"" + EscapeToOneLine(tls.server_name) +
        "\" must be a DNS name or an IPv4 address");
  }
  return CheckTlsFiles(tls);
}

std::string DescribeNetworkError(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection failed";
    case httplib::Error::ConnectionTimeout:
      return "connect timed out";
    case httplib::Error::Read:
      return "no complete response (read failed or timed out)";
    case httplib::Error::Write:
      return "sending the request failed or timed out";
    case httplib::Error::Canceled:
      return "canceled";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "TLS server certificate verification failed";
    case httplib::Error::SSLLoadingCerts:
      return "loading the TLS CA certificates failed";
    default:
      return "network error (" + httplib::to_string(error) + ")";
  }
}

}  // namespace

Status ValidateUrl(std::string_view url) {
  auto parsed = ParseUrl(url);
  return parsed.ok() ? Status::Ok() : parsed.status();
}

Status ValidateClientOptions(const ClientOptions& options) {
  auto url = ParseUrl(options.url);
  if (!url.ok()) return url.status();
  if (options.remote_timeout.count() <= 0) {
    return Status::InvalidArgument("write-back remote_timeout must be > 0");
  }
  for (const auto& [name, value] : options.headers) {
    if (!IsToken(name)) {
      return Status::InvalidArgument("write-back header name \"" +
                                     EscapeToOneLine(name) +
                                     "\" is not a valid HTTP token");
    }
    if (IsReservedHeader(name)) {
      return Status::InvalidArgument("write-back header \"" + name +
                                     "\" is set by promewma and cannot be "
                                     "overridden");
    }
    if (value.find_first_of("\r\n") != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return Status::InvalidArgument("write-back header \"" + name +
                                     "\": value contains a line break");
    }
  }
  const bool basic = !options.basic_auth_username.empty() ||
                     !options.basic_auth_password.empty();
  if (basic && !options.bearer_token.empty()) {
    return Status::InvalidArgument(
        "write-back: at most one of basic_auth and authorization may be set");
  }
  return ValidateTls(*url, options.tls);
}

RemoteWriteClient::RemoteWriteClient(ClientOptions options)
    : options_(std::move(options)) {
  auto parsed = ParseUrl(options_.url);
  // The REQUIRES says the URL was validated; a bad one still must not crash,
  // so it gets a client for a target that refuses every send.
  ParsedUrl url =
      parsed.ok() ? std::move(parsed.value())
                  : ParsedUrl{"http://invalid.invalid:1", "/", false,
                              "invalid.invalid", 1};
  path_ = url.target;
  const TlsOptions& tls = options_.tls;
  verify_name_ = tls.server_name.empty() ? url.host : tls.server_name;
  if (url.https && !tls.server_name.empty()) {
    // httplib sends as SNI, and verifies the certificate for, the host it
    // was made for, and has no separate setting for either. So the client
    // is made for server_name, its connections are pointed at the URL's
    // host (MapServerName), and the Host header names the URL's host.
    client_ = std::make_unique<httplib::Client>(
        "https://" + tls.server_name + ":" + std::to_string(url.port));
    host_header_ = url.host;
    if (url.port != 443) host_header_ += ":" + std::to_string(url.port);
    connect_host_ = url.host;
    if (connect_host_.front() == '[') {
      connect_host_ = connect_host_.substr(1, connect_host_.size() - 2);
    }
  } else {
    client_ = std::make_unique<httplib::Client>(url.origin);
  }
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (url.https) {
    // Without a ca_file httplib loads OpenSSL's default verify paths: the
    // system CA store.
    if (!tls.ca_file.empty()) client_->set_ca_cert_path(tls.ca_file);
    client_->enable_server_certificate_verification(!tls.insecure_skip_verify);
    SSL_CTX* ctx = client_->ssl_context();
    const bool tls13 = tls.min_version == TlsOptions::Version::kTls13;
    SSL_CTX_set_min_proto_version(ctx, tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    // Set here rather than through httplib's constructor, which loads only
    // the first certificate of the file: a client certificate signed by an
    // intermediate CA needs the chain. ValidateClientOptions loaded the same
    // files; should they have changed since, the server refuses the
    // handshake and the sends fail with that reason.
    if (!tls.cert_file.empty() &&
        (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(),
                                     SSL_FILETYPE_PEM) != 1)) {
      ERR_clear_error();
    }
  }
#endif
  // Batches are sent back to back; one connection per shard, reused.
  client_->set_keep_alive(true);
  // A request is one write of headers and one of the body: without
  // TCP_NODELAY the body can wait ~40 ms for the delayed ACK of the headers.
  client_->set_tcp_nodelay(true);
  const auto ms = options_.remote_timeout.count();
  const time_t sec = static_cast<time_t>(ms / 1000);
  const time_t usec = static_cast<time_t>((ms % 1000) * 1000);
  client_->set_connection_timeout(sec, usec);
  client_->set_read_timeout(sec, usec);
  client_->set_write_timeout(sec, usec);
  if (!options_.basic_auth_username.empty() ||
      !options_.basic_auth_password.empty()) {
    client_->set_basic_auth(options_.basic_auth_username,
                            options_.basic_auth_password);
  }
  if (!options_.bearer_token.empty()) {
    client_->set_bearer_token_auth(options_.bearer_token);
  }
}

RemoteWriteClient::~RemoteWriteClient() = default;

bool RemoteWriteClient::MapServerName(SendResult* result) {
  if (addresses_.empty()) {
    next_address_ = 0;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const int rc = getaddrinfo(connect_host_.c_str(), nullptr, &hints, &list);
    if (rc == 0) {
      for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        char numeric[NI_MAXHOST];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, numeric, sizeof(numeric),
                        nullptr, 0, NI_NUMERICHOST) == 0) {
          addresses_.emplace_back(numeric);
        }
      }
      freeaddrinfo(list);
    }
    if (addresses_.empty()) {
      result->outcome = SendResult::kRetry;
      result->reason = "resolving " + connect_host_ + " failed: " +
                       (rc != 0 ? gai_strerror(rc) : "no address");
      return false;
    }
  }
  // httplib connects to a mapped host's address without resolving it
  // again, which is why this is an address and not the host's name.
  client_->set_hostname_addr_map(
      {{options_.tls.server_name, addresses_[next_address_]}});
  return true;
}

SendResult RemoteWriteClient::Send(std::string_view snappy_body) {
  httplib::Headers headers = {
      {"Content-Encoding", "snappy"},
      {"X-Prometheus-Remote-Write-Version", "0.1.0"},
      {"User-Agent", kUserAgent},
  };
  for (const auto& h : options_.headers) headers.emplace(h.first, h.second);

  SendResult result;
  if (!host_header_.empty()) {
    if (!MapServerName(&result)) return result;
    headers.emplace("Host", host_header_);
  }
  // OpenSSL queues its errors per thread; what is queued after the Post is
  // this request's (e.g. the server's alert refusing our certificate).
  ERR_clear_error();
  auto res = client_->Post(path_, headers, snappy_body.data(),
                           snappy_body.size(), "application/x-protobuf");
  if (!res) {
    result.outcome = SendResult::kRetry;
    result.http_status = 0;
    result.reason = DescribeNetworkError(res.error());
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (res.error() != httplib::Error::SSLServerVerification) {
      if (ERR_peek_error() != 0) result.reason += ": " + OpenSslError();
    } else {
      // httplib checks the chain with OpenSSL, then the name itself.
      const long verdict = client_->get_openssl_verify_result();  // NOLINT
      result.reason +=
          verdict != X509_V_OK
              ? std::string(": ") + X509_verify_cert_error_string(verdict)
              : ": the certificate is not valid for \"" + verify_name_ +
                    "\"";
    }
#endif
    // The next attempt goes to the host's next address, or resolves again.
    if (!host_header_.empty() && ++next_address_ >= addresses_.size()) {
      addresses_.clear();
    }
    return result;
  }
  const int status = res->status;
  result.http_status = status;
  if (status / 100 == 2) {
    result.outcome = SendResult::kSent;
    return result;
  }
  result.reason = FirstLine(res->body);
  if (status / 100 == 5 || (status == 429 && options_.retry_on_http_429)) {
    result.outcome = SendResult::kRetry;
    if (res->has_header("Retry-After")) {
      result.retry_after = ParseRetryAfter(res->get_header_value("Retry-After"),
                                           std::chrono::system_clock::now());
    }
  } else {
    result.outcome = SendResult::kDrop;
  }
  return result;
}

void RemoteWriteClient::Cancel() { client_->stop(); }

}  // namespace promewma::remote
