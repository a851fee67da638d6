#include "http/worker_pool.h"

#include <utility>

namespace promewma::http {

WorkerPool::WorkerPool(int threads, size_t max_admitted)
    : max_admitted_(max_admitted) {
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

WorkerPool::~WorkerPool() { Stop(); }

bool WorkerPool::Admit(std::function<void()> on_admitted) {
  std::lock_guard<std::mutex> lock(mu_);
  if (admitted_ < max_admitted_ && waiting_.empty()) {
    ++admitted_;
    return true;
  }
  waiting_.push_back(std::move(on_admitted));
  return false;
}

void WorkerPool::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  has_task_.notify_one();
}

void WorkerPool::Release() {
  std::function<void()> next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (waiting_.empty()) {
      --admitted_;
      return;
    }
    // The slot passes to the longest waiting request as it is.
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  next();
}

void WorkerPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  has_task_.notify_all();
  for (std::thread& t : threads_) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  waiting_.clear();
}

size_t WorkerPool::admitted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return admitted_;
}

size_t WorkerPool::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_.size();
}

void WorkerPool::Work() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      has_task_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
    task = nullptr;  // what it captured goes before the slot does
    Release();
  }
}

}  // namespace promewma::http
