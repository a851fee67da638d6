#include "http/worker_pool.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <future>

namespace promewma::http {
namespace {

TEST_CASE("requests beyond the slots wait and are admitted in order as slots free") {
  WorkerPool pool(1, 2);
  REQUIRE(pool.Admit([] { FAIL("admitted at once, not called back"); }));
  REQUIRE(pool.Admit([] { FAIL("admitted at once, not called back"); }));
  std::promise<void> c_admitted, d_admitted;
  REQUIRE_FALSE(pool.Admit([&] { c_admitted.set_value(); }));
  REQUIRE_FALSE(pool.Admit([&] { d_admitted.set_value(); }));
  REQUIRE(pool.admitted() == 2);
  REQUIRE(pool.waiting() == 2);
  auto c = c_admitted.get_future();
  auto d = d_admitted.get_future();

  // The second request's body could not be read: its slot goes to the
  // first that waits, on this thread.
  pool.Release();
  REQUIRE(c.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  REQUIRE(d.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  REQUIRE(pool.admitted() == 2);
  REQUIRE(pool.waiting() == 1);

  // The first request's handler runs on the worker and then hands its
  // slot to the next waiting request.
  std::promise<void> release_handler;
  std::atomic<bool> ran{false};
  pool.Submit([&] {
    release_handler.get_future().wait();
    ran = true;
  });
  release_handler.set_value();
  d.wait();
  REQUIRE(ran);
  REQUIRE(pool.waiting() == 0);
  REQUIRE(pool.admitted() == 2);
  pool.Release();
  pool.Release();
  REQUIRE(pool.admitted() == 0);
  // Free slots again: admitted at once.
  REQUIRE(pool.Admit([] { FAIL("admitted at once, not called back"); }));
  pool.Release();
}

TEST_CASE("Stop runs every submitted handler, then joins the workers") {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(3, 100);
    for (int i = 0; i < 100; ++i) {
      REQUIRE(pool.Admit([] {}));
      pool.Submit([&] { ++ran; });
    }
    pool.Stop();
    REQUIRE(ran == 100);
    REQUIRE(pool.admitted() == 0);
  }
  REQUIRE(ran == 100);
}

TEST_CASE("a waiting request is dropped, not admitted, when the pool stops") {
  bool called = false;
  WorkerPool pool(1, 1);
  REQUIRE(pool.Admit([] {}));
  REQUIRE_FALSE(pool.Admit([&] { called = true; }));
  pool.Stop();
  REQUIRE(pool.waiting() == 0);
  REQUIRE_FALSE(called);
}

}  // namespace
}  // namespace promewma::http
