#include "testing/raw_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>

namespace promewma::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(left.count(), 0));
}

}  // namespace

RawHttpConnection::RawHttpConnection(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  int yes = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  REQUIRE((rc == 0 || errno == EINPROGRESS));
}

RawHttpConnection::~RawHttpConnection() {
  if (fd_ >= 0) close(fd_);
}

RawHttpConnection::RawHttpConnection(RawHttpConnection&& other) noexcept
    : fd_(other.fd_), buffered_(std::move(other.buffered_)) {
  other.fd_ = -1;
}

std::string RawHttpConnection::Wait(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLOUT, 0};
  const int n = poll(&p, 1, static_cast<int>(timeout.count()));
  if (n == 0) return "not connected within " + std::to_string(timeout.count()) + " ms";
  if (n < 0) return std::string("poll: ") + std::strerror(errno);
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return std::string("connect: ") + std::strerror(err);
  return "";
}

std::string RawHttpConnection::Send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      poll(&p, 1, 1000);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return std::string("send: ") + std::strerror(errno);
  }
  return "";
}

RawHttpResponse RawHttpConnection::Receive(std::chrono::milliseconds timeout) {
  RawHttpResponse r;
  const Clock::time_point deadline = Clock::now() + timeout;
  bool closed = false;
  // Reads more into buffered_; false (and r.error set) when nothing more
  // comes.
  auto fill = [&]() -> bool {
    if (closed) return false;
    char buf[65536];
    while (true) {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        buffered_.append(buf, static_cast<size_t>(n));
        return true;
      }
      if (n == 0) {
        closed = true;
        r.error = "closed by the server without an answer";
        return false;
      }
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) {
        r.error = "reset by the server";
        return false;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        r.error = std::string("recv: ") + std::strerror(errno);
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, RemainingMs(deadline)) == 0) {
        r.error = "no answer within " + std::to_string(timeout.count()) + " ms";
        return false;
      }
    }
  };

  size_t end = 0;
  while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return r;
  }
  const std::string head = buffered_.substr(0, end);
  buffered_.erase(0, end + 4);
  size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
    r.error = "not an HTTP/1.x status line: " + status_line;
    return r;
  }
  r.status = std::stoi(status_line.substr(9, 3));
  while (line_end != std::string::npos) {
    const size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line = head.substr(
        start, line_end == std::string::npos ? std::string::npos
                                             : line_end - start);
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    r.headers[Lower(Trim(line.substr(0, colon)))] =
        Trim(line.substr(colon + 1));
  }

  if (r.status == 204 || r.status == 304 || r.status / 100 == 1) return r;
  if (Lower(r.header("transfer-encoding")) == "chunked") {
    while (true) {
      size_t crlf;
      while ((crlf = buffered_.find("\r\n")) == std::string::npos) {
        if (!fill()) return r;
      }
      const size_t size = std::stoul(buffered_.substr(0, crlf), nullptr, 16);
      while (buffered_.size() < crlf + 2 + size + 2) {
        if (!fill()) return r;
      }
      r.body.append(buffered_, crlf + 2, size);
      buffered_.erase(0, crlf + 2 + size + 2);
      if (size == 0) return r;  // no trailers from the servers under test
    }
  }
  const std::string length = r.header("content-length");
  if (!length.empty()) {
    const size_t want = std::stoul(length);
    while (buffered_.size() < want) {
      if (!fill()) return r;
    }
    r.body = buffered_.substr(0, want);
    buffered_.erase(0, want);
    return r;
  }
  // Delimited by the close.
  while (fill()) {
  }
  if (closed) r.error.clear();
  r.body = std::move(buffered_);
  buffered_.clear();
  return r;
}

std::string RawHttpConnection::Request(
    const std::string& method, const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::string& body) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

std::vector<RawHttpConnection> ConnectAll(int port, int n) {
  std::vector<RawHttpConnection> conns;
  conns.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) conns.emplace_back(port);
  for (int i = 0; i < n; ++i) {
    // Generous: a SYN dropped by a full listen queue is sent again after
    // 1, 3, 7, ... s, which is slow, not failed.
    const std::string error = conns[static_cast<size_t>(i)].Wait(
        std::chrono::seconds(120));
    INFO("connection " << i);
    REQUIRE(error.empty());
  }
  return conns;
}

}  // namespace promewma::testing
