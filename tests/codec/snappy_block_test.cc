#include "codec/snappy_block.h"

#include <catch2/catch.hpp>
#include <random>

namespace promewma::codec {
namespace {

TEST_CASE("snappy block round trip") {
  std::mt19937_64 rng(1);
  for (size_t size : {0, 1, 100, 65536, 1 << 20}) {
    std::string raw(size, '\0');
    for (char& c : raw) c = static_cast<char>("abcd"[rng() % 4]);
    std::string out = "stale";
    REQUIRE(DecompressSnappyBlock(CompressSnappyBlock(raw), size, &out).ok());
    REQUIRE(out == raw);
  }
}

TEST_CASE("declared size over the limit is refused before decompressing") {
  std::string body = CompressSnappyBlock(std::string(1000, 'x'));
  std::string out;
  Status s = DecompressSnappyBlock(body, 999, &out);
  REQUIRE(s.code() == StatusCode::kTooLarge);
  REQUIRE(s.message() ==
          "decoded body would be 1000 bytes, over the limit of 999");
  REQUIRE(out.empty());  // nothing was allocated for it

  // A 5-byte body that claims 4 GiB.
  std::string bomb("\xff\xff\xff\xff\x0f", 5);
  s = DecompressSnappyBlock(bomb, 64 << 20, &out);
  REQUIRE(s.code() == StatusCode::kTooLarge);
}

TEST_CASE("corrupt and framed snappy are refused") {
  std::string out;
  std::string body = CompressSnappyBlock(std::string(5000, 'y') + "tail");
  body.resize(body.size() - 3);
  Status s = DecompressSnappyBlock(body, 1 << 20, &out);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message() == "corrupt snappy body");

  s = DecompressSnappyBlock(std::string("\xff\xff\xff\xff\xff\xff", 6), 1 << 20,
                            &out);
  REQUIRE(s.message() ==
          "corrupt snappy body: cannot read the uncompressed length");

  std::string framed("\xff\x06\x00\x00sNaPpY\x01\x05\x00\x00", 14);
  s = DecompressSnappyBlock(framed, 1 << 20, &out);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message().find("framed") != std::string::npos);
}

}  // namespace
}  // namespace promewma::codec
