#include "remote/remote_write_client.h"

#include <httplib.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <utility>

#include "common/key_path.h"
#include "common/one_line.h"
#include "promewma/version.h"
#include "remote/backoff.h"
#include "common/openssl_error.h"
#include "remote/url.h"

namespace promewma::remote {

namespace {

constexpr char kUserAgent[] = "promewma/" PROMEWMA_VERSION;

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

RemoteWriteClient::RemoteWriteClient(ClientConfig config)
    : config_(std::move(config)) {
  auto parsed = ParseUrl(config_.url);
  // The REQUIRES says the URL was validated; a bad one still must not crash,
  // so it gets a client for a target that refuses every send.
  ParsedUrl url =
      parsed.ok() ? std::move(parsed.value())
                  : ParsedUrl{"http://invalid.invalid:1", "/", false,
                              "invalid.invalid", 1};
  path_ = url.target;
  const TlsConfig tls = config_.tls_config.value_or(TlsConfig{});
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
    const bool tls13 = tls.min_version == TlsConfig::Version::kTls13;
    SSL_CTX_set_min_proto_version(ctx, tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    // Set here rather than through httplib's constructor, which loads only
    // the first certificate of the file: a client certificate signed by an
    // intermediate CA needs the chain. ValidateClientConfig loaded the same
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
  const auto ms = config_.remote_timeout.count();
  const time_t sec = static_cast<time_t>(ms / 1000);
  const time_t usec = static_cast<time_t>((ms % 1000) * 1000);
  client_->set_connection_timeout(sec, usec);
  client_->set_read_timeout(sec, usec);
  client_->set_write_timeout(sec, usec);
  // A failure is reported by Send, which reads the files again.
  static_cast<void>(LoadSecrets());
}

RemoteWriteClient::~RemoteWriteClient() = default;

Status RemoteWriteClient::LoadSecrets() {
  if (config_.basic_auth) {
    const BasicAuth& basic = *config_.basic_auth;
    std::string password = basic.password;
    if (!basic.password_file.empty()) {
      Result<std::string> read = ReadSecretFile(basic.password_file);
      if (!read.ok()) {
        return ProblemAt("basic_auth.password_file", read.status().message());
      }
      password = std::move(read).value();
    }
    client_->set_basic_auth(basic.username, password);
  }
  if (config_.authorization) {
    const Authorization& auth = *config_.authorization;
    std::string credentials = auth.credentials;
    if (!auth.credentials_file.empty()) {
      Result<std::string> read = ReadSecretFile(auth.credentials_file);
      if (!read.ok()) {
        return ProblemAt("authorization.credentials_file",
                         read.status().message());
      }
      credentials = std::move(read).value();
    }
    // No credentials, no header, as Prometheus.
    if (!credentials.empty()) authorization_ = auth.type + " " + credentials;
  }
  secrets_loaded_ = true;
  return Status::Ok();
}

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
      {{config_.tls_config->server_name, addresses_[next_address_]}});
  return true;
}

SendResult RemoteWriteClient::Send(std::string_view snappy_body) {
  httplib::Headers headers = {
      {"Content-Encoding", "snappy"},
      {"X-Prometheus-Remote-Write-Version", "0.1.0"},
      {"User-Agent", kUserAgent},
  };
  SendResult result;
  if (!secrets_loaded_) {
    if (Status s = LoadSecrets(); !s.ok()) {
      result.outcome = SendResult::kRetry;
      result.reason = s.message();
      return result;
    }
  }
  for (const auto& h : config_.headers) headers.emplace(h.first, h.second);
  if (!authorization_.empty()) headers.emplace("Authorization", authorization_);

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
  if (status / 100 == 5 || (status == 429 && config_.retry_on_http_429)) {
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
