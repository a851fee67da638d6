// WorkerPool: the fixed set of threads that run request handlers, and the
// bound on how many requests the server holds at once.
//
// The server's I/O threads only read and write sockets; a handler's work
// (decoding, the request log, waiting for write-back room, a remote-read
// query) runs here, where it may block without stalling other connections.
//
// Admission. A request takes a slot before its body is read and gives it
// back when its handler has run, so at most `max_admitted` request bodies
// are in memory or waiting for a worker. A request that finds no free slot
// waits, its body unread: TCP flow control holds the sender back, and the
// request is admitted, first come first served, when a slot frees. It is
// never refused for want of a slot.
//
//   if (pool.Admit([=] { /* on another thread: now admitted */ })) { ... }
//   ... read the body ...
//   pool.Submit([=] { /* the handler */ });  // gives the slot back after
//
// Thread-safety: every method may be called from any thread.

#ifndef PROMEWMA_HTTP_WORKER_POOL_H_
#define PROMEWMA_HTTP_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace promewma::http {

class WorkerPool {
 public:
  // Starts `threads` workers. REQUIRES: threads >= 1, max_admitted >= 1.
  WorkerPool(int threads, size_t max_admitted);
  // Stop()s.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Takes a slot and returns true; or, when all are taken, keeps
  // `on_admitted` and returns false: it is called once a slot is handed to
  // this request, on the thread that gave the slot back, outside the lock.
  // Waiting requests are admitted in the order they asked.
  bool Admit(std::function<void()> on_admitted);
  // Runs `task` on a worker, then gives its slot back.
  // REQUIRES: the caller holds a slot (Admit returned true or called back).
  void Submit(std::function<void()> task);
  // Gives a slot back without running anything (the request's body could
  // not be read). REQUIRES: the caller holds a slot.
  void Release();

  // Runs what was submitted, then joins the workers. Requests still
  // waiting for a slot are dropped (their callbacks destroyed, not called).
  void Stop();

  int threads() const { return static_cast<int>(threads_.size()); }
  size_t max_admitted() const { return max_admitted_; }
  // Requests holding a slot: reading their body, queued or running.
  size_t admitted() const;
  // Requests waiting for a slot.
  size_t waiting() const;

 private:
  void Work();

  const size_t max_admitted_;
  std::vector<std::thread> threads_;

  mutable std::mutex mu_;
  std::condition_variable has_task_;
  // Guarded by mu_:
  size_t admitted_ = 0;                              // slots taken
  std::deque<std::function<void()>> tasks_;          // submitted, not started
  std::deque<std::function<void()>> waiting_;        // Admit callbacks
  bool stopping_ = false;
};

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_WORKER_POOL_H_
