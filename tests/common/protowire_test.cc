#include "common/protowire.h"

#include <catch2/catch.hpp>
#include <limits>

namespace promewma::protowire {
namespace {

TEST_CASE("varints round-trip at every length") {
  auto value = GENERATE(values<uint64_t>(
      {0, 1, 127, 128, 300, 16383, 16384, (1ull << 35) + 7, (1ull << 63) - 1,
       std::numeric_limits<uint64_t>::max()}));
  std::string buf;
  AppendVarint(&buf, value);
  REQUIRE(static_cast<int>(buf.size()) == VarintSize(value));
  const char* pos = buf.data();
  uint64_t got = 0;
  REQUIRE(ReadVarint(&pos, buf.data() + buf.size(), &got));
  REQUIRE(got == value);
  REQUIRE(pos == buf.data() + buf.size());
}

TEST_CASE("truncated and over-long varints are refused") {
  const std::string truncated("\x80\x80", 2);
  const std::string eleven_bytes("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                                 11);
  for (const std::string& bad : {truncated, eleven_bytes, std::string()}) {
    const char* pos = bad.data();
    uint64_t v;
    REQUIRE_FALSE(ReadVarint(&pos, bad.data() + bad.size(), &v));
    REQUIRE(pos == bad.data());  // the cursor does not move on failure
  }
}

TEST_CASE("a 10-byte varint keeps its low 64 bits, as libprotobuf does") {
  const std::string ten("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10);
  const char* pos = ten.data();
  uint64_t v;
  REQUIRE(ReadVarint(&pos, ten.data() + ten.size(), &v));
  REQUIRE(v == std::numeric_limits<uint64_t>::max());
}

TEST_CASE("tags and fixed64") {
  REQUIRE(MakeTag(1, kLengthDelimited) == 0x0a);
  REQUIRE(MakeTag(2, kVarint) == 0x10);
  const char bytes[8] = {0x01, 0, 0, 0, 0, 0, 0, 0x40};
  REQUIRE(LoadFixed64(bytes) == 0x4000000000000001ull);
}

}  // namespace
}  // namespace promewma::protowire
