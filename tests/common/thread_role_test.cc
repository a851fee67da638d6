// Thread roles: a background thread runs SCHED_BATCH, so that waking it
// never preempts a request's thread; an idle thread runs SCHED_IDLE, so
// that a request's thread waking always preempts it; a request thread keeps
// the default class; all carry their name, cut to the kernel's 15
// characters.

#include "common/thread_role.h"

#include <sched.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace promewma {
namespace {

struct Seen {
  int policy = -2;
  std::string name;
};

Seen RunAs(const std::string& name, ThreadRole role) {
  Seen seen;
  std::thread t([&] {
    SetThisThreadRole(name, role);
    seen.policy = ThisThreadPolicy();
    seen.name = ThisThreadName();
  });
  t.join();
  return seen;
}

TEST_CASE("a background thread runs in the batch class under its name") {
  const Seen seen = RunAs("writeback-3", ThreadRole::kBackground);
  CHECK(seen.policy == SCHED_BATCH);
  CHECK(seen.name == "writeback-3");
}

TEST_CASE("an idle thread runs in the idle class under its name") {
  const Seen seen = RunAs("http-query", ThreadRole::kIdle);
  CHECK(seen.policy == SCHED_IDLE);
  CHECK(seen.name == "http-query");
}

TEST_CASE("a request thread keeps the default class") {
  const Seen seen = RunAs("http-loop-1", ThreadRole::kRequest);
  CHECK(seen.policy == SCHED_OTHER);
  CHECK(seen.name == "http-loop-1");
}

TEST_CASE("a thread name longer than the kernel keeps is cut, not dropped") {
  const Seen seen = RunAs("a-very-long-thread-name", ThreadRole::kRequest);
  CHECK(seen.name == "a-very-long-thr");
}

TEST_CASE("setting a role leaves the calling thread's siblings alone") {
  RunAs("background", ThreadRole::kBackground);
  RunAs("query", ThreadRole::kIdle);
  CHECK(ThisThreadPolicy() == SCHED_OTHER);
}

// Yields counted while a thread in `role` calls YieldIfDue `calls` times.
uint64_t YieldsOf(ThreadRole role, int calls) {
  const uint64_t before = BackgroundYields();
  std::thread t([&] {
    SetThisThreadRole("yielding", role);
    for (int i = 0; i < calls; ++i) YieldIfDue();
  });
  t.join();
  return BackgroundYields() - before;
}

TEST_CASE(
    "a lower-class thread yields its core at most once per interval, a "
    "request thread never") {
  SECTION("an interval longer than the test: only the first call yields") {
    SetYieldInterval(std::chrono::hours(1));
    CHECK(YieldsOf(ThreadRole::kBackground, 100) == 1);
    CHECK(YieldsOf(ThreadRole::kIdle, 100) == 1);
    CHECK(YieldsOf(ThreadRole::kRequest, 100) == 0);
  }
  SECTION("no interval: every call yields") {
    SetYieldInterval(std::chrono::microseconds(0));
    CHECK(YieldsOf(ThreadRole::kBackground, 100) == 100);
    CHECK(YieldsOf(ThreadRole::kIdle, 100) == 100);
    CHECK(YieldsOf(ThreadRole::kRequest, 100) == 0);
  }
  SetYieldInterval(kYieldInterval);
}

}  // namespace
}  // namespace promewma
