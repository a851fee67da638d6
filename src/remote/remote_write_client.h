// RemoteWriteClient: POSTs one remote-write 1.0 body to one target and says
// what to do with the batch next.
//
// Outcome rules (DESIGN.md section 5, the same as Prometheus'
// storage/remote/client.go): 2xx -> sent; 5xx -> retry; 429 -> retry when
// retry_on_http_429, else drop; network error or timeout -> retry; any other
// status (4xx, and the odd 1xx/3xx a misconfigured proxy answers with) ->
// drop, because resending the same bytes cannot succeed.
//
// Each request carries what a Prometheus sender sends: Content-Encoding:
// snappy, Content-Type: application/x-protobuf,
// X-Prometheus-Remote-Write-Version: 0.1.0, and User-Agent:
// promewma/<version>; plus the configured headers and auth.
//
// https targets are verified like Prometheus' tls_config does it: against
// the system CA store unless a ca_file is given, for the URL's host unless
// a server_name is given, at TLS 1.2 or newer. A failed verification is a
// network error (retried until max_retry_duration, as Prometheus does) whose
// reason names OpenSSL's verdict.
//
// Thread-safety: Sender::Send is not thread-safe (one client per shard; the
// client keeps one keep-alive connection). Sender::Cancel may be called from
// any thread.

#ifndef PROMEWMA_WRITEBACK_REMOTE_WRITE_CLIENT_H_
#define PROMEWMA_WRITEBACK_REMOTE_WRITE_CLIENT_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promewma/status.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace promewma::remote {

// Prometheus' remote_write tls_config, for an https target.
struct TlsOptions {
  std::string ca_file;    // PEM CAs to verify the server; empty: the system's
  std::string cert_file;  // PEM client certificate (mutual TLS), with key_file
  std::string key_file;   // PEM private key of cert_file, unencrypted
  // Sent as SNI and checked against the server certificate instead of the
  // URL's host; the connection still goes to the URL's host.
  std::string server_name;
  bool insecure_skip_verify = false;  // no certificate checks at all
  enum class Version { kTls12, kTls13 };
  Version min_version = Version::kTls12;  // Prometheus' default
};

struct ClientOptions {
  std::string url;  // http://host[:port]/path or https://...
  // Bounds connecting, writing the request and each wait for response
  // bytes (httplib has no single whole-request deadline).
  std::chrono::milliseconds remote_timeout{30000};  // Prometheus' default
  // Extra request headers. Must not name a header the protocol owns (see
  // ValidateClientOptions).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string basic_auth_username, basic_auth_password;  // empty: none
  std::string bearer_token;                              // empty: none
  bool retry_on_http_429 = true;
  TlsOptions tls;  // used for https URLs only
};

struct SendResult {
  enum Outcome { kSent, kRetry, kDrop };
  Outcome outcome = kSent;
  int http_status = 0;  // 0 for network errors and timeouts
  // One line for logs: the response body's first line (at most
  // kMaxReasonBytes, control bytes escaped), or the network error. Empty
  // for a 2xx.
  std::string reason;
  // The server's Retry-After, when it sent a usable one with a retryable
  // status.
  std::optional<std::chrono::milliseconds> retry_after;
};

inline constexpr size_t kMaxReasonBytes = 256;

// What a write-back shard sends through. The seam tests replace with a fake.
class Sender {
 public:
  virtual ~Sender() = default;
  // Sends one snappy-compressed WriteRequest.
  virtual SendResult Send(std::string_view snappy_body) = 0;
  // Aborts a Send in progress on another thread (it then returns kRetry
  // promptly); may be called when no Send runs. Default: nothing to abort.
  virtual void Cancel() {}
};

// Checks that `url` is http://HOST[:PORT][/PATH] or https://... with a
// non-empty host and a port in 1..65535. https is refused with a message
// saying so when cpp-httplib was built without OpenSSL.
Status ValidateUrl(std::string_view url);

// ValidateUrl, plus: a timeout > 0, header names that are tokens and do not
// override protocol headers (Content-Type, Content-Encoding, Content-Length,
// User-Agent, X-Prometheus-Remote-Write-Version, Authorization, Host,
// Connection), header values without CR/LF, and at most one of basic auth
// and bearer token. TLS options need an https URL; their files are loaded
// (CAs, certificate, key, and that the key matches the certificate) so a bad
// file fails at startup rather than at every send.
Status ValidateClientOptions(const ClientOptions& options);

class RemoteWriteClient : public Sender {
 public:
  // REQUIRES: ValidateClientOptions(options).ok()
  explicit RemoteWriteClient(ClientOptions options);
  ~RemoteWriteClient() override;

  RemoteWriteClient(const RemoteWriteClient&) = delete;
  RemoteWriteClient& operator=(const RemoteWriteClient&) = delete;

  SendResult Send(std::string_view snappy_body) override;
  void Cancel() override;

 private:
  // With a server_name, points the client's connection (made for
  // server_name) at an address of the URL's host; false, with *result set,
  // when the host does not resolve.
  bool MapServerName(SendResult* result);

  ClientOptions options_;
  std::string path_;         // request target: path and query of the URL
  std::string verify_name_;  // the name the server certificate must match
  std::unique_ptr<httplib::Client> client_;
  // Only with a server_name: the Host header (the URL's host and port), the
  // host to resolve, its addresses and the one in use. After a network
  // error the next address is tried; after the last, the host is resolved
  // again.
  std::string host_header_;
  std::string connect_host_;
  std::vector<std::string> addresses_;
  size_t next_address_ = 0;
};

}  // namespace promewma::remote

#endif  // PROMEWMA_WRITEBACK_REMOTE_WRITE_CLIENT_H_
