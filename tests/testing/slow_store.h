// SlowStore: a FaultInjector that, once armed, makes the store's writes
// (or reads, or the steps of work done in steps) named `what` wait until
// released, as a slow disk would, so a test can see what the caller holds
// meanwhile.

#ifndef PROMEWMA_TESTS_TESTING_SLOW_STORE_H_
#define PROMEWMA_TESTS_TESTING_SLOW_STORE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>

#include "common/fault_injector.h"
#include "common/thread_role.h"

namespace promewma::testing {

class SlowStore : public FaultInjector {
 public:
  enum Operation { kWrites, kReads, kSteps };
  SlowStore(Operation slow, std::string what)
      : slow_(slow), what_(std::move(what)) {}
  Status BeforeWrite(std::string_view what) override {
    if (slow_ == kWrites) Wait(what);
    return Status::Ok();
  }
  void BeforeRead(std::string_view what) override {
    if (slow_ == kReads) Wait(what);
  }
  void BetweenSteps(std::string_view what) override {
    if (slow_ == kSteps) Wait(what);
  }

  // From now on, the operation after the first `pass` ones waits.
  void Arm(int pass = 0) {
    pass_ = pass;
    armed_ = true;
  }
  // Whether an operation is waiting, within 10 s.
  bool WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [this] { return held_; });
  }
  // The name and scheduling policy of the thread the held operation
  // runs on (after WaitUntilHeld).
  std::string held_thread_name() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_thread_name_;
  }
  int held_thread_policy() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_thread_policy_;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  void Wait(std::string_view what) {
    if (!armed_.load() || what != what_) return;
    std::unique_lock<std::mutex> lock(mu_);
    if (pass_ > 0) {
      --pass_;
      return;
    }
    held_ = true;
    held_thread_name_ = ThisThreadName();
    held_thread_policy_ = ThisThreadPolicy();
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_; });
  }

  const Operation slow_;
  const std::string what_;
  std::atomic<bool> armed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int pass_ = 0;           // guarded by mu_
  bool held_ = false;      // guarded by mu_
  bool released_ = false;  // guarded by mu_
  std::string held_thread_name_;  // guarded by mu_
  int held_thread_policy_ = -1;   // guarded by mu_
};

}  // namespace promewma::testing

#endif  // PROMEWMA_TESTS_TESTING_SLOW_STORE_H_
