#include "common/duration.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

namespace promewma {
namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

TEST_CASE("ParseDurationMs accepts Prometheus durations", "[duration]") {
  auto [text, want] = GENERATE(table<std::string, int64_t>({
      {"0", 0},
      {"0s", 0},
      {"0ms", 0},
      {"500ms", 500},
      {"15s", 15 * kSecond},
      {"5m", 5 * kMinute},
      {"1h", kHour},
      {"1h30m", kHour + 30 * kMinute},
      {"1m30s", kMinute + 30 * kSecond},
      {"1s500ms", 1500},
      {"15d", 15 * kDay},
      {"2w", 14 * kDay},
      {"1y", 365 * kDay},
      {"1y2w3d4h5m6s7ms", 365 * kDay + 14 * kDay + 3 * kDay + 4 * kHour +
                              5 * kMinute + 6 * kSecond + 7},
      {"90m", 90 * kMinute},
      {"0010s", 10 * kSecond},
      // Largest representable: INT64_MAX milliseconds.
      {"9223372036854775807ms", INT64_MAX},
      {"292471208y35w", INT64_C(9223372036656000000)},
  }));
  Result<int64_t> ms = ParseDurationMs(text);
  INFO(text << ": " << ms.status().message());
  REQUIRE(ms.ok());
  CHECK(*ms == want);
}

TEST_CASE("ParseDurationMs refuses malformed durations", "[duration]") {
  auto [text, want] = GENERATE(table<std::string, std::string>({
      {"", "invalid duration \"\": empty duration"},
      {"10", "invalid duration \"10\": missing unit after 10"},
      {"1h30", "missing unit after 30"},
      {"1.5h", "fractions are not supported"},
      {"-1h", "expected a number followed by a unit"},
      {"h", "expected a number followed by a unit"},
      {" 1h", "expected a number followed by a unit"},
      {"1h ", "expected a number followed by a unit"},
      {"1x", "invalid duration \"1x\": unknown unit \"x\""},
      {"1H", "unknown unit \"H\""},
      {"1us", "unknown unit \"us\""},
      {"30m1h", "units must appear in the order y w d h m s ms"},
      {"1m1m", "each at most once"},
      {"1s1m", "units must appear in the order"},
      {"9223372036854775808ms", "out of range"},
      {"106751991168d", "out of range"},
      {"292471209y", "out of range"},
      {"99999999999999999999999ms", "out of range"},
      {"292471208y36w", "out of range"},  // overflows in the sum
  }));
  Result<int64_t> ms = ParseDurationMs(text);
  INFO(text);
  REQUIRE_FALSE(ms.ok());
  CHECK(ms.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(ms.status().message(), Catch::Contains(want));
}

TEST_CASE("ParseByteSize accepts bytes and base-2 units", "[duration]") {
  auto [text, want] = GENERATE(table<std::string, uint64_t>({
      {"0", 0},
      {"1", 1},
      {"16777216", 16777216},
      {"512B", 512},
      {"1KB", 1024},
      {"1KiB", 1024},
      {"16MB", 16ull << 20},
      {"16MiB", 16ull << 20},
      {"2GB", 2ull << 30},
      {"2GiB", 2ull << 30},
      {"18446744073709551615", UINT64_MAX},
      {"17179869183GiB", 17179869183ull << 30},
  }));
  Result<uint64_t> bytes = ParseByteSize(text);
  INFO(text << ": " << bytes.status().message());
  REQUIRE(bytes.ok());
  CHECK(*bytes == want);
}

TEST_CASE("ParseByteSize refuses malformed sizes", "[duration]") {
  auto [text, want] = GENERATE(table<std::string, std::string>({
      {"", "invalid size \"\": expected an integer number of bytes"},
      {"MB", "expected an integer number of bytes"},
      {"-1", "expected an integer number of bytes"},
      {"1.5MB", "invalid size \"1.5MB\""},
      {"16 MB", "optionally followed by B, KB, MB, GB, KiB, MiB or GiB"},
      {"16mb", "invalid size \"16mb\""},
      {"1TB", "invalid size \"1TB\""},
      {"18446744073709551616", "out of range"},
      {"17179869184GiB", "out of range"},
  }));
  Result<uint64_t> bytes = ParseByteSize(text);
  INFO(text);
  REQUIRE_FALSE(bytes.ok());
  CHECK(bytes.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(bytes.status().message(), Catch::Contains(want));
}

}  // namespace
}  // namespace promewma
