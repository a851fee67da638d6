// WriterPreferringMutex: a waiting writer is not starved by readers that
// keep the lock busy, and it excludes as a reader-writer lock must.

#include "common/writer_preferring_mutex.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <catch2/catch.hpp>

namespace promewma {
namespace {

using std::chrono::milliseconds;

// Two readers that hold the lock in overlapping turns (each holds it 2 ms,
// lets go and takes it again at once, a millisecond apart), so that it is
// never free of readers, like a remote read taking the database's lock once
// per series. Returns whether a writer got in while they kept going, rather
// than only once they gave up after `patience`.
template <typename Mutex>
bool WriterGetsInAmongBusyReaders(milliseconds patience) {
  Mutex mu;
  std::atomic<bool> writer_done{false};
  std::atomic<bool> readers_gave_up{false};
  const auto give_up_at = std::chrono::steady_clock::now() + patience;
  auto reader = [&](milliseconds offset) {
    std::this_thread::sleep_for(offset);
    while (!writer_done.load()) {
      if (std::chrono::steady_clock::now() > give_up_at) {
        readers_gave_up = true;
        return;
      }
      std::shared_lock<Mutex> lock(mu);
      std::this_thread::sleep_for(milliseconds(2));
    }
  };
  std::thread a(reader, milliseconds(0));
  std::thread b(reader, milliseconds(1));
  std::this_thread::sleep_for(milliseconds(20));  // the readers are going
  {
    std::unique_lock<Mutex> lock(mu);
    writer_done = !readers_gave_up.load();
  }
  writer_done = true;  // stop the readers either way
  a.join();
  b.join();
  return !readers_gave_up.load();
}

TEST_CASE("a writer gets the lock while readers keep taking it in turns") {
  // Generous: the writer needs one reader's 2 ms turn on an idle machine.
  CHECK(WriterGetsInAmongBusyReaders<WriterPreferringMutex>(milliseconds(5000)));
}

TEST_CASE("WriterPreferringMutex excludes writers from each other and from "
          "readers") {
  WriterPreferringMutex mu;
  int shared_counter = 0;  // unsynchronised but for the mutex
  std::atomic<int> readers_in{0};
  std::atomic<bool> overlap{false};
  auto writer = [&] {
    for (int i = 0; i < 20000; ++i) {
      std::unique_lock<WriterPreferringMutex> lock(mu);
      if (readers_in.load() != 0) overlap = true;
      ++shared_counter;
    }
  };
  auto reader = [&] {
    for (int i = 0; i < 20000; ++i) {
      std::shared_lock<WriterPreferringMutex> lock(mu);
      ++readers_in;
      (void)shared_counter;
      --readers_in;
    }
  };
  std::thread w1(writer), w2(writer), r1(reader), r2(reader);
  w1.join();
  w2.join();
  r1.join();
  r2.join();
  CHECK(shared_counter == 40000);
  CHECK_FALSE(overlap.load());
}

}  // namespace
}  // namespace promewma
