// The remote-read chunked frame format: writer/reader round trip, the
// exact bytes of a frame, and the reader's answers to corrupted, truncated
// and oversized input (leveldb log_test style: break bytes on purpose).

#include "codec/chunked_frame.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "codec/crc32c.h"

namespace promewma::codec {
namespace {

std::string RandomMessage(std::mt19937_64& rng) {
  size_t size;
  switch (rng() % 4) {
    case 0:
      size = rng() % 3;  // empty and tiny
      break;
    case 1:
      size = 120 + rng() % 20;  // around the 1/2-byte varint boundary
      break;
    case 2:
      size = 16370 + rng() % 30;  // around the 2/3-byte boundary
      break;
    default:
      size = rng() % 4000;
  }
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Reads every frame; returns the messages, or the first error.
Result<std::vector<std::string>> ReadAll(std::string_view data,
                                         size_t limit = kDefaultMaxFrameBytes) {
  ChunkedFrameReader reader(data, limit);
  std::vector<std::string> out;
  std::string_view message;
  while (true) {
    Result<bool> more = reader.Next(&message);
    if (!more.ok()) return more.status();
    if (!*more) return out;
    out.emplace_back(message);
  }
}

TEST_CASE("chunked frames round trip") {
  std::mt19937_64 rng(99);
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<std::string> messages(rng() % 6);
    std::string stream;
    for (auto& m : messages) {
      m = RandomMessage(rng);
      AppendChunkedFrame(&stream, m);
    }
    Result<std::vector<std::string>> got = ReadAll(stream);
    INFO("iteration " << iter << ": " << got.status().ToString());
    REQUIRE(got.ok());
    REQUIRE(*got == messages);
  }
}

TEST_CASE("chunked frame layout: uvarint length, big-endian CRC-32C, message") {
  std::string out = "prefix";
  AppendChunkedFrame(&out, "123456789");
  // CRC-32C("123456789") = 0xE3069283, written big-endian.
  REQUIRE(out == std::string("prefix\x09\xe3\x06\x92\x83"
                             "123456789",
                             6 + 1 + 4 + 9));

  std::string big(300, 'x');
  out.clear();
  AppendChunkedFrame(&out, big);
  REQUIRE(out.size() == 2 + 4 + 300);
  REQUIRE(static_cast<uint8_t>(out[0]) == 0xac);  // 300 = 0b10'0101100
  REQUIRE(static_cast<uint8_t>(out[1]) == 0x02);
  const uint32_t crc = Crc32c(big);
  REQUIRE(static_cast<uint8_t>(out[2]) == crc >> 24);
  REQUIRE(static_cast<uint8_t>(out[5]) == (crc & 0xff));

  out.clear();
  AppendChunkedFrame(&out, "");
  REQUIRE(out == std::string(5, '\0'));  // length 0, CRC of nothing is 0
  Result<std::vector<std::string>> got = ReadAll(out);
  REQUIRE(got.ok());
  REQUIRE(*got == std::vector<std::string>{""});
}

TEST_CASE("empty input is a clean end, and the end stays an end") {
  ChunkedFrameReader reader("");
  std::string_view message;
  for (int i = 0; i < 3; ++i) {
    Result<bool> r = reader.Next(&message);
    REQUIRE(r.ok());
    REQUIRE_FALSE(*r);
  }
}

TEST_CASE("a flipped byte is a checksum error naming the frame offset") {
  std::string stream;
  AppendChunkedFrame(&stream, "first message");        // bytes 0..17
  const size_t second = stream.size();                 // 18
  AppendChunkedFrame(&stream, std::string(200, 'm'));  // 2-byte length
  AppendChunkedFrame(&stream, "third");

  // Flip one bit inside the second frame's checksum or message.
  const size_t at = GENERATE(2, 3, 5, 6, 100, 205);
  std::string bad = stream;
  bad[second + at] ^= 0x10;

  ChunkedFrameReader reader(bad);
  std::string_view message;
  Result<bool> r = reader.Next(&message);
  REQUIRE(r.ok());
  REQUIRE(message == "first message");
  r = reader.Next(&message);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.status().code() == StatusCode::kCorruption);
  INFO(r.status().message());
  REQUIRE(r.status().message().rfind("chunked frame at byte " +
                                         std::to_string(second) +
                                         ": checksum mismatch (frame says 0x",
                                     0) == 0);
  REQUIRE(reader.offset() == second);
  // Sticky: the stream cannot be resynchronized, so nothing more is read.
  Result<bool> again = reader.Next(&message);
  REQUIRE(again.status().message() == r.status().message());
}

TEST_CASE("truncation anywhere is reported, never read past") {
  std::string stream;
  AppendChunkedFrame(&stream, "alpha");
  const size_t second = stream.size();
  AppendChunkedFrame(&stream, std::string(300, 'b'));  // 2-byte length
  // Cut inside the length, inside the checksum, inside the message.
  struct Case {
    size_t keep;
    std::string message;
  };
  auto c = GENERATE_COPY(values<Case>({
      {second + 1, "chunked frame at byte 10: truncated in the length varint"},
      {second + 2,
       "chunked frame at byte 10: truncated in the checksum (0 of 4 bytes)"},
      {second + 5,
       "chunked frame at byte 10: truncated in the checksum (3 of 4 bytes)"},
      {second + 6,
       "chunked frame at byte 10: truncated message: length says 300 bytes, "
       "0 remain"},
      {second + 305,
       "chunked frame at byte 10: truncated message: length says 300 bytes, "
       "299 remain"},
  }));
  REQUIRE(second == 10);
  // Copy into an exact-size buffer so that ASan would see a read past it.
  std::vector<char> exact(stream.begin(), stream.begin() + c.keep);
  Result<std::vector<std::string>> got =
      ReadAll(std::string_view(exact.data(), exact.size()));
  REQUIRE(got.status().code() == StatusCode::kCorruption);
  REQUIRE(got.status().message() == c.message);
}

TEST_CASE("every truncation point of a stream is an error or a clean end") {
  std::mt19937_64 rng(5);
  std::string stream;
  std::vector<size_t> boundaries = {0};
  for (int i = 0; i < 5; ++i) {
    AppendChunkedFrame(&stream, RandomMessage(rng));
    boundaries.push_back(stream.size());
  }
  for (size_t keep = 0; keep <= stream.size(); ++keep) {
    Result<std::vector<std::string>> got =
        ReadAll(std::string_view(stream.data(), keep));
    const bool at_boundary = std::find(boundaries.begin(), boundaries.end(),
                                       keep) != boundaries.end();
    INFO("keep " << keep);
    REQUIRE(got.ok() == at_boundary);
  }
}

TEST_CASE("a malformed length varint is refused") {
  const std::string eleven(11, '\xff');
  Result<std::vector<std::string>> got = ReadAll(eleven);
  REQUIRE(got.status().code() == StatusCode::kCorruption);
  REQUIRE(got.status().message() ==
          "chunked frame at byte 0: malformed length varint (over 10 bytes)");
}

TEST_CASE("a frame over the limit is refused before it is read") {
  std::string stream;
  AppendChunkedFrame(&stream, std::string(1000, 'z'));
  REQUIRE(ReadAll(stream, 1000).ok());  // the limit is inclusive
  Result<std::vector<std::string>> got = ReadAll(stream, 999);
  REQUIRE(got.status().code() == StatusCode::kTooLarge);
  REQUIRE(got.status().message() ==
          "chunked frame at byte 0: message of 1000 bytes is over the limit "
          "of 999");

  // A header claiming 1 GiB with nothing behind it: the size check comes
  // first, so this is TooLarge, not a truncation.
  std::string bomb;
  bomb += std::string("\x80\x80\x80\x80\x04", 5);  // 1 << 30
  bomb += std::string(4, '\0');
  got = ReadAll(bomb);
  REQUIRE(got.status().code() == StatusCode::kTooLarge);
  REQUIRE(got.status().message() ==
          "chunked frame at byte 0: message of 1073741824 bytes is over the "
          "limit of 50000000");
}

}  // namespace
}  // namespace promewma::codec
