#include "codec/snappy_block.h"

#include <snappy.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_role.h"

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

// Compressible input with long-range repeats: a 100 KiB pattern over and
// over, so that a run compressed apart would find matches in the runs
// before it if it reached across them (or across 64 KiB fragments).
std::string RepetitiveInput(size_t size, std::mt19937_64& rng) {
  std::string pattern(100 << 10, '\0');
  for (char& c : pattern) c = static_cast<char>("abcdefgh"[rng() % 8]);
  std::string raw(size, '\0');
  for (size_t i = 0; i < size; ++i) raw[i] = pattern[i % pattern.size()];
  return raw;
}

TEST_CASE(
    "a block written run by run decodes to the runs joined, whatever their "
    "lengths, and is one pass's bytes when the runs are whole fragments") {
  constexpr size_t kFragment = kSnappyFragmentBytes;
  std::mt19937_64 rng(11);
  const std::string raw = RepetitiveInput(5 * kFragment + 777, rng);
  auto written = [&](const std::vector<size_t>& runs) {
    std::string block, scratch;
    AppendSnappyPreamble(raw.size(), &block);
    size_t at = 0;
    for (size_t n : runs) {
      AppendSnappyElements(std::string_view(raw).substr(at, n), &block,
                           &scratch);
      at += n;
    }
    REQUIRE(at == raw.size());
    return block;
  };
  SECTION("runs of any length") {
    for (int i = 0; i < 20; ++i) {
      std::vector<size_t> runs;
      for (size_t left = raw.size(); left > 0;) {
        const size_t n = std::min<size_t>(left, 1 + rng() % (2 * kFragment));
        runs.push_back(n);
        left -= n;
      }
      const std::string block = written(runs);
      std::string decoded;
      REQUIRE(DecompressSnappyBlock(block, raw.size(), &decoded).ok());
      REQUIRE(decoded == raw);
    }
  }
  SECTION("whole fragments, the rest last") {
    REQUIRE(written({2 * kFragment, kFragment, 2 * kFragment + 777}) ==
            CompressSnappyBlock(raw));
  }
}

TEST_CASE(
    "a lower-class thread compressing a streamed block yields its core "
    "before each fragment, and the bytes are one pass's") {
  std::mt19937_64 rng(12);
  const std::string raw = RepetitiveInput(5 * kSnappyFragmentBytes + 777, rng);
  SetYieldInterval(std::chrono::microseconds(0));
  const uint64_t before = BackgroundYields();
  std::string block;
  std::thread t([&] {
    SetThisThreadRole("http-query", ThreadRole::kIdle);
    std::string scratch;
    AppendSnappyPreamble(raw.size(), &block);
    AppendSnappyElements(raw, &block, &scratch);
  });
  t.join();
  SetYieldInterval(kYieldInterval);
  CHECK(BackgroundYields() - before == 6);
  CHECK(block == CompressSnappyBlock(raw));
}

}  // namespace
}  // namespace promewma::codec
