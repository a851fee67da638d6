// ServerThread: runs a test's fake HTTP(S) receiver, an httplib::Server (or
// SSLServer) whose handlers the test has set up, on a free loopback port in
// a thread of its own, and stops it when it goes out of scope.

#ifndef PROMEWMA_TESTS_TESTING_SERVER_THREAD_H_
#define PROMEWMA_TESTS_TESTING_SERVER_THREAD_H_

#include <thread>

namespace httplib {
class Server;
}  // namespace httplib

namespace promewma::testing {

class ServerThread {
 public:
  // Binds `server` to 127.0.0.1 on a free port and returns once it serves.
  // REQUIRES: `server` outlives this object.
  explicit ServerThread(httplib::Server* server);
  ~ServerThread();
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  int port() const { return port_; }

 private:
  httplib::Server* server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace promewma::testing

#endif  // PROMEWMA_TESTS_TESTING_SERVER_THREAD_H_
