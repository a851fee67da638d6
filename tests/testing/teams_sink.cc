#include "testing/teams_sink.h"

#include <fcntl.h>
#include <httplib.h>

#include <catch2/catch.hpp>

#include "testing/server_thread.h"

namespace promewma::testing {

TeamsSink::TeamsSink() : server_(std::make_unique<httplib::Server>()) {
  // A peer the test starts later (fork + exec) must not inherit the
  // listening socket: the peer fixture finds a peer's port as its one
  // listening socket.
  server_->set_socket_options([](socket_t sock) {
    httplib::default_socket_options(sock);
    ::fcntl(sock, F_SETFD, FD_CLOEXEC);
  });
  server_->Post(
      ".*", [this](const httplib::Request& req, httplib::Response& res) {
        std::unique_lock<std::mutex> lock(mu_);
        received_.push_back(
            {req.path, req.get_header_value("Content-Type"), req.body});
        cv_.notify_all();
        if (held_) {
          cv_.wait_for(lock, max_hold_, [this] { return !held_; });
        }
        res.status = status_;
        if (status_ >= 300) {
          res.set_content("{\"error\":{\"code\":\"TestRefusal\"}}",
                          "application/json");
        }
      });
  running_ = std::make_unique<ServerThread>(server_.get());
}

TeamsSink::~TeamsSink() {
  Release();
  running_.reset();
}

std::string TeamsSink::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(running_->port()) + path +
         "?api-version=2016-06-01&sig=TESTSIGNATURE";
}

void TeamsSink::SetStatus(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  status_ = status;
}

void TeamsSink::Hold(std::chrono::milliseconds max_hold) {
  std::lock_guard<std::mutex> lock(mu_);
  held_ = true;
  max_hold_ = max_hold;
}

void TeamsSink::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
  }
  cv_.notify_all();
}

std::vector<TeamsSink::Received> TeamsSink::received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

size_t TeamsSink::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_.size();
}

void TeamsSink::WaitForCount(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return received_.size() >= n; })) {
    FAIL("the Teams sink received " << received_.size() << " requests, not "
                                    << n << ", within " << timeout.count()
                                    << " ms");
  }
}

std::string TeamsSink::WaitFor(
    const std::function<bool(const Received&)>& match,
    std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  std::string found;
  const bool ok = cv_.wait_for(lock, timeout, [&] {
    for (const Received& r : received_) {
      if (match(r)) {
        found = r.body;
        return true;
      }
    }
    return false;
  });
  if (!ok) {
    std::string seen;
    for (const Received& r : received_) {
      seen += r.path + ": " + r.body.substr(0, 300) + "\n";
    }
    FAIL("no matching request reached the Teams sink within "
         << timeout.count() << " ms; it received " << received_.size() << ":\n"
         << seen);
  }
  return found;
}

}  // namespace promewma::testing
