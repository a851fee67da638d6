// Backoff schedule and Retry-After parsing: pure functions, no clocks.

#include "remote/backoff.h"

#include <catch2/catch.hpp>

namespace promewma::remote {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("backoff doubles from min_backoff and caps at max_backoff") {
  Backoff b(BackoffConfig{milliseconds(30), milliseconds(500)});
  const int64_t expected[] = {30, 60, 120, 240, 480, 500, 500};
  for (int64_t e : expected) CHECK(b.NextDelay().count() == e);
  b.Reset();
  CHECK(b.NextDelay().count() == 30);
}

TEST_CASE("backoff honours Retry-After as given and doubles from it") {
  Backoff b(BackoffConfig{milliseconds(30), milliseconds(5000)});
  CHECK(b.NextDelay().count() == 30);
  // Above max_backoff: honoured, not capped.
  CHECK(b.NextDelay(milliseconds(20000)).count() == 20000);
  // The next unhinted wait is capped again.
  CHECK(b.NextDelay().count() == 5000);
  b.Reset();
  CHECK(b.NextDelay(milliseconds(1000)).count() == 1000);
  CHECK(b.NextDelay().count() == 2000);
  // A zero or negative hint is ignored.
  CHECK(b.NextDelay(milliseconds(0)).count() == 4000);
  CHECK(b.NextDelay(milliseconds(-5)).count() == 5000);
}

TEST_CASE("backoff with min == max stays constant") {
  Backoff b(BackoffConfig{milliseconds(7), milliseconds(7)});
  for (int i = 0; i < 5; ++i) CHECK(b.NextDelay().count() == 7);
}

TEST_CASE("Retry-After in seconds") {
  const auto now = std::chrono::system_clock::time_point(seconds(1000000));
  CHECK(ParseRetryAfter("120", now) == milliseconds(120000));
  CHECK(ParseRetryAfter(" 5 ", now) == milliseconds(5000));
  CHECK(ParseRetryAfter("0", now) == std::nullopt);
  CHECK(ParseRetryAfter("", now) == std::nullopt);
  CHECK(ParseRetryAfter("-3", now) == std::nullopt);
  CHECK(ParseRetryAfter("1.5", now) == std::nullopt);
  CHECK(ParseRetryAfter("12abc", now) == std::nullopt);
  CHECK(ParseRetryAfter("soon", now) == std::nullopt);
  // Absurd values saturate at a day instead of overflowing.
  CHECK(ParseRetryAfter("99999999999999999999999", now) ==
        milliseconds(86400000));
}

TEST_CASE("Retry-After as an HTTP date, relative to now") {
  // Sun, 06 Nov 1994 08:49:37 GMT == 784111777 s since the epoch.
  const auto at = std::chrono::system_clock::time_point(seconds(784111777));
  const auto now = at - seconds(90);
  CHECK(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now) ==
        milliseconds(90000));
  CHECK(ParseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now) ==
        milliseconds(90000));
  CHECK(ParseRetryAfter("Sun Nov  6 08:49:37 1994", now) ==
        milliseconds(90000));
  // In the past or now: no hint.
  CHECK(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", at) == std::nullopt);
  CHECK(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", at + seconds(1)) ==
        std::nullopt);
  // Malformed.
  CHECK(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT junk", now) ==
        std::nullopt);
  CHECK(ParseRetryAfter("Sun, 32 Nov 1994 08:49:37 GMT", now) == std::nullopt);
}

}  // namespace
}  // namespace promewma::remote
