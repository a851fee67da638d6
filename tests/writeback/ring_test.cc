// Ring: FIFO order across wrap-around and growth, and no growth while the
// ring refills to the same size.

#include "writeback/ring.h"

#include <catch2/catch.hpp>
#include <deque>
#include <random>
#include <string>

namespace promewma::writeback {
namespace {

TEST_CASE("ring keeps FIFO order across wrap-around and growth") {
  Ring<std::string> ring;
  std::deque<std::string> model;
  std::mt19937 rng(7);
  int next = 0;
  for (int step = 0; step < 20000; ++step) {
    // Mostly pushes early on, mostly pops later, so the ring grows while
    // its front is in the middle of the buffer.
    const bool push = model.empty() || rng() % 100 < (step < 10000 ? 60 : 40);
    if (push) {
      ring.push_back(std::to_string(next));
      model.push_back(std::to_string(next));
      ++next;
    } else {
      REQUIRE(ring.front() == model.front());
      ring.pop_front();
      model.pop_front();
    }
    REQUIRE(ring.size() == model.size());
  }
  REQUIRE(ring.capacity() > 64);  // it grew
  while (!model.empty()) {
    REQUIRE(ring.front() == model.front());
    ring.pop_front();
    model.pop_front();
  }
  REQUIRE(ring.empty());
}

TEST_CASE("ring refilled to the same size does not grow") {
  Ring<int> ring;
  for (int i = 0; i < 100; ++i) ring.push_back(i);
  const size_t capacity = ring.capacity();
  REQUIRE(capacity == 128);
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 100; ++i) {
      REQUIRE(ring.front() == round * 100 + i);
      ring.pop_front();
    }
    for (int i = 0; i < 100; ++i) ring.push_back((round + 1) * 100 + i);
  }
  REQUIRE(ring.capacity() == capacity);
  ring.clear();
  REQUIRE(ring.empty());
  ring.push_back(5);
  REQUIRE(ring.front() == 5);
}

}  // namespace
}  // namespace promewma::writeback
