// TeamsSink: a local stand-in for a Power Automate workflow ("When a Teams
// webhook request is received"). An httplib server on a free loopback port
// that answers every POST with the status the test sets (202, as Power
// Automate does, by default) and keeps each request: path, Content-Type
// and body. A test can hold requests (to play a slow workflow) and wait
// for a request that matches.
//
//   testing::TeamsSink sink;
//   ... config: webhook_url: sink.url("/workflows/default") ...
//   std::string card = sink.WaitFor([](const TeamsSink::Received& r) {
//     return r.body.find("web-1:9100") != std::string::npos;
//   });
//
// Thread-safety: every method may be called from any thread.

#ifndef PROMEWMA_TESTS_TESTING_TEAMS_SINK_H_
#define PROMEWMA_TESTS_TESTING_TEAMS_SINK_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace httplib {
class Server;
}  // namespace httplib

namespace promewma::testing {

class ServerThread;

class TeamsSink {
 public:
  struct Received {
    std::string path;
    std::string content_type;
    std::string body;
  };

  TeamsSink();
  ~TeamsSink();
  TeamsSink(const TeamsSink&) = delete;
  TeamsSink& operator=(const TeamsSink&) = delete;

  // http://127.0.0.1:PORT + path (with a query that plays the signature).
  std::string url(const std::string& path) const;

  // The status later requests are answered with.
  void SetStatus(int status);
  // While held, requests are kept (and counted) but not answered until
  // Release() or `max_hold` has passed.
  void Hold(std::chrono::milliseconds max_hold);
  void Release();

  std::vector<Received> received() const;
  size_t count() const;
  // Waits until `n` requests have come; fails the running test after
  // `timeout`.
  void WaitForCount(size_t n, std::chrono::milliseconds timeout);
  // The body of the first request `match` accepts, waiting up to `timeout`
  // for it; fails the running test (listing what came) when none does.
  std::string WaitFor(const std::function<bool(const Received&)>& match,
                      std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;         // guarded by mu_
  int status_ = 202;                       // guarded by mu_
  bool held_ = false;                      // guarded by mu_
  std::chrono::milliseconds max_hold_{0};  // guarded by mu_
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<ServerThread> running_;
};

}  // namespace promewma::testing

#endif  // PROMEWMA_TESTS_TESTING_TEAMS_SINK_H_
