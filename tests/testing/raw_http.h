// RawHttpConnection: one loopback TCP connection that writes request bytes
// exactly as the test gives them and reads back one HTTP/1.1 response at a
// time. For what an HTTP client library hides or will not do: many
// connections opened in one burst and kept open, a chunked request body, a
// request whose body never comes, how a connection ends (a close or a reset
// instead of an answer).
//
//   std::vector<RawHttpConnection> conns = ConnectAll(port, 300);
//   conns[0].Send(RawHttpConnection::Post("/api/v1/write", headers, body));
//   RawHttpResponse r = conns[0].Receive();
//   REQUIRE(r.error.empty()); REQUIRE(r.status == 204);
//
// Thread-safety: a connection is used by one thread at a time.

#ifndef PROMEWMA_TESTS_TESTING_RAW_HTTP_H_
#define PROMEWMA_TESTS_TESTING_RAW_HTTP_H_

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace promewma::testing {

struct RawHttpResponse {
  // Empty when a whole response was read; else what happened instead
  // ("closed by the server without an answer", "reset by the server", ...).
  std::string error;
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // de-chunked

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class RawHttpConnection {
 public:
  // A connection in progress (non-blocking connect); Wait() finishes it.
  explicit RawHttpConnection(int port);
  ~RawHttpConnection();
  RawHttpConnection(RawHttpConnection&& other) noexcept;
  RawHttpConnection& operator=(RawHttpConnection&&) = delete;
  RawHttpConnection(const RawHttpConnection&) = delete;

  // Waits until the connection is established or has failed; "" or why.
  std::string Wait(std::chrono::milliseconds timeout);
  // Writes all of `bytes`; "" or why not.
  std::string Send(const std::string& bytes);
  // Reads one response. `timeout` only stops a hang: a response that does
  // not come within it is an error.
  RawHttpResponse Receive(
      std::chrono::milliseconds timeout = std::chrono::seconds(120));

  // The bytes of a request with a Content-Length body.
  static std::string Request(
      const std::string& method, const std::string& target,
      const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body);

 private:
  int fd_ = -1;
  std::string buffered_;  // read and not yet consumed
};

// Opens `n` connections to 127.0.0.1:port at once (every SYN before any
// handshake is awaited) and waits for them all; fails the running test when
// one cannot be established.
std::vector<RawHttpConnection> ConnectAll(int port, int n);

}  // namespace promewma::testing

#endif  // PROMEWMA_TESTS_TESTING_RAW_HTTP_H_
