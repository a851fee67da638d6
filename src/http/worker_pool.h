// WorkerPool: a fixed number of named threads that run the handlers posted
// to its executor, in a scheduling class of the server's choosing
// (common/thread_role.h). asio's thread_pool starts threads that cannot be
// named or set up before they run work; this one runs an io_context on
// threads it makes itself.
//
// Thread-safety: executor() and posting to it are thread-safe; join() is
// called once, by the thread that owns the pool.

#ifndef PROMEWMA_HTTP_WORKER_POOL_H_
#define PROMEWMA_HTTP_WORKER_POOL_H_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_role.h"

namespace promewma::http {

class WorkerPool {
 public:
  using Executor = boost::asio::io_context::executor_type;

  // Starts `threads` threads named `name` in `role`'s class.
  WorkerPool(size_t threads, const std::string& name, ThreadRole role)
      : work_(boost::asio::make_work_guard(context_)) {
    for (size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this, name, role] {
        SetThisThreadRole(name, role);
        context_.run();
      });
    }
  }
  // Joins, if join() was not called.
  ~WorkerPool() { join(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  Executor executor() { return context_.get_executor(); }

  // Waits until the work posted so far, and the work it posts here in
  // turn, has run; then the threads exit. Nothing may be posted after.
  void join() {
    work_.reset();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  boost::asio::io_context context_;
  boost::asio::executor_work_guard<Executor> work_;
  std::vector<std::thread> threads_;
};

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_WORKER_POOL_H_
