// CRC-32C against published vectors (RFC 3720 B.4, the "123456789" check
// value) and the hardware path against the software one.

#include "codec/crc32c.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

namespace promewma::codec {
namespace {

using crc32c_internal::Hardware;
using crc32c_internal::HardwareAvailable;
using crc32c_internal::Software;

std::string Bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

std::string Ascending(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(i));
  return s;
}

std::string Descending(int n) {
  std::string s;
  for (int i = n - 1; i >= 0; --i) s.push_back(static_cast<char>(i));
  return s;
}

TEST_CASE("crc32c known vectors") {
  struct Case {
    const char* name;
    std::string data;
    uint32_t crc;
  };
  auto c = GENERATE(values<Case>({
      {"empty", "", 0x00000000},
      {"check value", "123456789", 0xE3069283},
      {"a", "a", 0xC1D04330},
      // RFC 3720 appendix B.4
      {"32 zero bytes", std::string(32, '\0'), 0x8A9136AA},
      {"32 0xff bytes", std::string(32, '\xff'), 0x62A8AB43},
      {"32 ascending bytes", Ascending(32), 0x46DD794E},
      {"32 descending bytes", Descending(32), 0x113FDB5C},
      {"iSCSI read command PDU",
       Bytes({0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
              0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
              0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
              0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),
       0xD9963A56},
  }));
  INFO(c.name);
  CHECK(Crc32c(c.data) == c.crc);
  CHECK(Software(c.data, 0) == c.crc);
  if (HardwareAvailable()) CHECK(Hardware(c.data, 0) == c.crc);
}

TEST_CASE("crc32c extends across any split point") {
  const std::string data =
      "The quick brown fox jumps over the lazy dog, and then some more bytes "
      "so that the word loop runs a few times.";
  const uint32_t whole = Crc32c(data);
  for (size_t split = 0; split <= data.size(); ++split) {
    const std::string_view a = std::string_view(data).substr(0, split);
    const std::string_view b = std::string_view(data).substr(split);
    INFO("split at " << split);
    REQUIRE(Crc32c(b, Crc32c(a)) == whole);
    REQUIRE(Software(b, Software(a, 0)) == whole);
  }
}

TEST_CASE("crc32c hardware and software agree on random buffers") {
  if (!HardwareAvailable()) {
    WARN("no SSE4.2 on this CPU: only the software path is tested");
    return;
  }
  std::mt19937_64 rng(20240611);
  std::string buffer(70000, '\0');
  for (char& ch : buffer) ch = static_cast<char>(rng());
  for (int iter = 0; iter < 2000; ++iter) {
    // Random offsets exercise the unaligned head and tail loops.
    const size_t offset = rng() % 64;
    const size_t length =
        iter < 100 ? static_cast<size_t>(iter) : rng() % (buffer.size() - 64);
    const std::string_view data(buffer.data() + offset, length);
    const uint32_t seed = iter % 2 == 0 ? 0 : static_cast<uint32_t>(rng());
    INFO("iteration " << iter << " offset " << offset << " length " << length);
    REQUIRE(Hardware(data, seed) == Software(data, seed));
  }
}

}  // namespace
}  // namespace promewma::codec
