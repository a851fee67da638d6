// HeapTrimmer: trims once the noted bytes reach the threshold, after its
// delay, once for any number of notes meanwhile; never below it.

#include "common/heap_trimmer.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

namespace promewma {
namespace {

using namespace std::chrono_literals;

std::atomic<int> trim_calls{0};
void CountTrim() { ++trim_calls; }

// Waits up to 5 s for `trimmer` to have trimmed `n` times.
bool WaitForTrims(const HeapTrimmer& trimmer, uint64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (trimmer.trims() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST_CASE("the heap is trimmed once after the noted bytes reach the threshold") {
  trim_calls = 0;
  HeapTrimmer trimmer(1000, 50ms, &CountTrim);
  trimmer.NoteReleased(600);
  std::this_thread::sleep_for(200ms);
  CHECK(trimmer.trims() == 0);  // below the threshold: never

  // Reaching it: one trim, for all the notes within its delay.
  for (int i = 0; i < 10; ++i) trimmer.NoteReleased(400);
  REQUIRE(WaitForTrims(trimmer, 1));
  std::this_thread::sleep_for(200ms);
  CHECK(trimmer.trims() == 1);
  CHECK(trim_calls == 1);

  // The count starts again from the trim.
  trimmer.NoteReleased(999);
  std::this_thread::sleep_for(200ms);
  CHECK(trimmer.trims() == 1);
  trimmer.NoteReleased(1);
  REQUIRE(WaitForTrims(trimmer, 2));
  CHECK(trim_calls == 2);
}

TEST_CASE("a trimmer destroyed while waiting to trim does not trim") {
  trim_calls = 0;
  {
    HeapTrimmer trimmer(1, 10s, &CountTrim);
    trimmer.NoteReleased(1);
  }
  CHECK(trim_calls == 0);
}

}  // namespace
}  // namespace promewma

namespace promewma {
namespace {

std::atomic<uint64_t> untrimmed_bytes{0};
uint64_t Untrimmed() { return untrimmed_bytes.load(); }
void TrimUntrimmed() {
  ++trim_calls;
  untrimmed_bytes = 0;
}

TEST_CASE(
    "with a probe, free heap nobody noted is trimmed once it reaches the "
    "threshold") {
  trim_calls = 0;
  untrimmed_bytes = 999;
  HeapTrimmer trimmer(1000, 20ms, &TrimUntrimmed, &Untrimmed);
  std::this_thread::sleep_for(200ms);
  CHECK(trimmer.trims() == 0);  // below the threshold: never

  untrimmed_bytes = 1000;
  REQUIRE(WaitForTrims(trimmer, 1));
  std::this_thread::sleep_for(200ms);
  CHECK(trimmer.trims() == 1);  // the trim gave it back: no more
  CHECK(trim_calls == 1);
}

}  // namespace
}  // namespace promewma
