// RemoteWriteClient: POSTs one remote-write 1.0 body to one target and says
// what to do with the batch next.
//
// Outcome rules (the same as Prometheus'
// storage/remote/client.go): 2xx -> sent; 5xx -> retry; 429 -> retry when
// retry_on_http_429, else drop; network error or timeout -> retry; any other
// status (4xx, and the odd 1xx/3xx a misconfigured proxy answers with) ->
// drop, because resending the same bytes cannot succeed.
//
// Each request carries what a Prometheus sender sends: Content-Encoding:
// snappy, Content-Type: application/x-protobuf,
// X-Prometheus-Remote-Write-Version: 0.1.0, and User-Agent:
// promewma/<version>; plus the configured headers and auth. Secret files
// are read when the client is made; should that fail (a file removed
// since ValidateClientConfig read it), every send reads them again and is
// a retryable failure naming the file until one succeeds.
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
#include "remote/client_config.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace promewma::remote {

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

class RemoteWriteClient : public Sender {
 public:
  // REQUIRES: ValidateClientConfig(config).ok()
  explicit RemoteWriteClient(ClientConfig config);
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
  // Reads the secret files and sets the auth they are for; on failure the
  // message names the file.
  Status LoadSecrets();

  ClientConfig config_;
  bool secrets_loaded_ = false;
  std::string authorization_;  // the Authorization header's value, if any
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
