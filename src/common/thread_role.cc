#include "common/thread_role.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>

namespace promewma {
namespace {

// The role of the calling thread, for YieldIfDue: a thread that never set
// one answers requests.
thread_local ThreadRole this_role = ThreadRole::kRequest;
thread_local std::chrono::steady_clock::time_point next_yield;

std::atomic<int64_t> yield_interval_us{kYieldInterval.count()};
std::atomic<uint64_t> yields{0};

}  // namespace

void YieldIfDue() {
  if (this_role == ThreadRole::kRequest) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_yield) return;
  sched_yield();
  yields.fetch_add(1, std::memory_order_relaxed);
  next_yield = now + std::chrono::microseconds(
                         yield_interval_us.load(std::memory_order_relaxed));
}

void SetYieldInterval(std::chrono::microseconds interval) {
  yield_interval_us.store(interval.count(), std::memory_order_relaxed);
}

uint64_t BackgroundYields() { return yields.load(std::memory_order_relaxed); }

void SetThisThreadRole(const std::string& name, ThreadRole role) {
  // pthread_setname_np refuses names over 15 characters: cut them.
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  this_role = role;
  if (role == ThreadRole::kRequest) return;
  sched_param param{};
  param.sched_priority = 0;  // the only priority these classes have
  pthread_setschedparam(pthread_self(),
                        role == ThreadRole::kIdle ? SCHED_IDLE : SCHED_BATCH,
                        &param);
}

int ThisThreadPolicy() {
  int policy = -1;
  sched_param param{};
  if (pthread_getschedparam(pthread_self(), &policy, &param) != 0) return -1;
  return policy;
}

std::string ThisThreadName() {
  char name[16] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0) return "";
  return name;
}

}  // namespace promewma
