#include "testing/remote_write_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "codec/snappy_block.h"
#include "remote.pb.h"

namespace promewma::testing {
namespace {

// How often blocked reads and the hang look at whether to stop: short, so
// the destructor returns promptly.
constexpr int kPollMs = 50;

// Waits for `fd` to be readable; false once `stopping` is set.
bool WaitReadable(int fd, const std::atomic<bool>& stopping) {
  while (!stopping.load()) {
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, kPollMs);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
  return false;
}

void WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string Response(int status, const std::string& reason,
                     const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nContent-Type: text/plain\r\n\r\n" + body;
}

// The Content-Length of a request's header block (0 when absent).
size_t ContentLength(const std::string& head) {
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  const std::string key = "\r\ncontent-length:";
  const size_t at = lower.find(key);
  if (at == std::string::npos) return 0;
  return std::strtoull(lower.c_str() + at + key.size(), nullptr, 10);
}

}  // namespace

RemoteWriteSink::RemoteWriteSink(Mode mode) : mode_(mode) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
          0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) !=
          0) {
    throw std::runtime_error("RemoteWriteSink: cannot listen on loopback");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

RemoteWriteSink::~RemoteWriteSink() {
  stopping_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  // No new connection threads after the acceptor has stopped.
  for (std::thread& t : connections_) t.join();
}

std::string RemoteWriteSink::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void RemoteWriteSink::SetMode(Mode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  mode_ = mode;
}

std::vector<RemoteWriteSink::Sample> RemoteWriteSink::accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

std::vector<RemoteWriteSink::Sample> RemoteWriteSink::rejected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rejected_;
}

int RemoteWriteSink::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void RemoteWriteSink::AcceptLoop() {
  while (WaitReadable(listen_fd_, stopping_)) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void RemoteWriteSink::Serve(int fd) {
  std::string buffered;
  char chunk[65536];
  for (;;) {
    // One request: the header block, then Content-Length bytes of body.
    size_t head_end;
    while ((head_end = buffered.find("\r\n\r\n")) == std::string::npos ||
           buffered.size() < head_end + 4 + ContentLength(buffered.substr(
                                                0, head_end + 2))) {
      if (!WaitReadable(fd, stopping_)) {
        ::close(fd);
        return;
      }
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) {  // the client closed (or reset) the connection
        ::close(fd);
        return;
      }
      buffered.append(chunk, static_cast<size_t>(n));
    }
    const size_t length = ContentLength(buffered.substr(0, head_end + 2));
    const std::string body = buffered.substr(head_end + 4, length);
    buffered.erase(0, head_end + 4 + length);

    std::vector<Sample> samples;
    const bool decoded = Decode(body, &samples);
    Mode mode;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++requests_;
      mode = mode_;
      if (mode == Mode::kStatus400Once) {
        rejected_.insert(rejected_.end(), samples.begin(), samples.end());
        mode_ = Mode::kAccept;
      } else if (mode == Mode::kAccept && decoded) {
        accepted_.insert(accepted_.end(), samples.begin(), samples.end());
      }
    }
    switch (mode) {
      case Mode::kAccept:
        WriteAll(fd, decoded ? Response(204, "No Content", "")
                             : Response(400, "Bad Request", "undecodable\n"));
        break;
      case Mode::kStatus500:
        WriteAll(fd, Response(500, "Internal Server Error", "injected 500\n"));
        break;
      case Mode::kStatus400Once:
        WriteAll(fd, Response(400, "Bad Request", "injected 400\n"));
        break;
      case Mode::kReset: {
        // A zero linger time makes close() send RST instead of FIN.
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        ::close(fd);
        return;
      }
      case Mode::kHang:
        for (;;) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            if (mode_ != Mode::kHang) break;
          }
          if (stopping_) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
        }
        ::close(fd);
        return;
    }
  }
}

bool RemoteWriteSink::Decode(const std::string& body,
                             std::vector<Sample>* out) {
  std::string raw;
  if (!codec::DecompressSnappyBlock(body, 64 << 20, &raw).ok()) return false;
  prometheus::WriteRequest request;
  if (!request.ParseFromString(raw)) return false;
  for (const prometheus::TimeSeries& ts : request.timeseries()) {
    std::string name, labels;
    for (const prometheus::Label& l : ts.labels()) {
      if (l.name() == "__name__") {
        name = l.value();
      } else {
        labels += (labels.empty() ? "" : ",") + l.name() + "=\"" + l.value() +
                  "\"";
      }
    }
    const std::string series = name + "{" + labels + "}";
    for (const prometheus::Sample& s : ts.samples()) {
      out->push_back({series, s.timestamp(), s.value()});
    }
  }
  return true;
}

}  // namespace promewma::testing
