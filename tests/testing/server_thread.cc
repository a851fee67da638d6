#include "testing/server_thread.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>

namespace promewma::testing {

ServerThread::ServerThread(httplib::Server* server) : server_(server) {
  port_ = server_->bind_to_any_port("127.0.0.1");
  REQUIRE(port_ > 0);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

ServerThread::~ServerThread() {
  server_->stop();
  thread_.join();
}

}  // namespace promewma::testing
