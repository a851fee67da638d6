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

namespace promewma::writeback {

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
// and bearer token.
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
  ClientOptions options_;
  std::string path_;  // request target: path and query of the URL
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace promewma::writeback

#endif  // PROMEWMA_WRITEBACK_REMOTE_WRITE_CLIENT_H_
