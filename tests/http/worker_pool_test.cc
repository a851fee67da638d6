// WorkerPool: posted work runs on the pool's own named threads, in its
// role's class; join waits for all of it, including work posted by work.

#include "http/worker_pool.h"

#include <sched.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace promewma::http {
namespace {

TEST_CASE("a worker pool runs work on its named threads in its class") {
  WorkerPool pool(3, "http-query", ThreadRole::kIdle);
  std::mutex mu;
  std::set<std::thread::id> threads;  // guarded by mu
  std::set<std::string> names;        // guarded by mu
  std::set<int> policies;             // guarded by mu
  for (int i = 0; i < 60; ++i) {
    boost::asio::post(pool.executor(), [&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
      names.insert(ThisThreadName());
      policies.insert(ThisThreadPolicy());
    });
  }
  pool.join();
  CHECK(threads.size() <= 3);
  CHECK(threads.count(std::this_thread::get_id()) == 0);
  CHECK(names == std::set<std::string>{"http-query"});
  CHECK(policies == std::set<int>{SCHED_IDLE});
}

TEST_CASE("joining a worker pool waits for work posted by its work") {
  std::atomic<int> done{0};
  WorkerPool pool(2, "http-blocking", ThreadRole::kRequest);
  auto executor = pool.executor();
  boost::asio::post(executor, [&done, executor] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    boost::asio::post(executor, [&done] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ++done;
    });
    ++done;
  });
  pool.join();
  CHECK(done.load() == 2);
}

}  // namespace
}  // namespace promewma::http
