// XOR chunk encoder and iterator: hand-derived golden bytes, a naive
// bit-by-bit reference encoder modelled on Prometheus' bstream, round-trip
// and Resume properties on many series shapes, every dod bucket edge, and
// truncation / bit-flip / garbage inputs that must end in Corruption (or a
// consistent decode), never in a crash.

#include "codec/xor_chunk.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace promewma::codec {
namespace {

using Sample = std::pair<int64_t, double>;
using Samples = std::vector<Sample>;

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

double FromBits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof(v));
  return v;
}

std::string Hex(std::string_view s) {
  static const char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out += ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string FromHex(std::string_view hex) {
  std::string out;
  int nibble = -1;
  for (char c : hex) {
    if (c == ' ') continue;
    int d = c <= '9' ? c - '0' : c - 'A' + 10;
    if (nibble < 0) {
      nibble = d;
    } else {
      out += static_cast<char>(nibble << 4 | d);
      nibble = -1;
    }
  }
  return out;
}

std::string Encode(const Samples& samples) {
  XorChunkAppender app;
  for (const auto& [t, v] : samples) app.Append(t, v);
  return std::string(app.bytes());
}

// Exact equality, NaN payloads included.
bool SameBits(const Samples& a, const Samples& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first) return false;
    if (Bits(a[i].second) != Bits(b[i].second)) return false;
  }
  return true;
}

bool IsPrefix(const Samples& prefix, const Samples& all) {
  if (prefix.size() > all.size()) return false;
  return SameBits(prefix, Samples(all.begin(), all.begin() + prefix.size()));
}

// Bit `pos` (0 = MSB of byte 0) onwards, n bits, MSB first.
uint64_t BitsAt(std::string_view bytes, size_t pos, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i, ++pos) {
    v = (v << 1) |
        ((static_cast<uint8_t>(bytes[pos / 8]) >> (7 - pos % 8)) & 1);
  }
  return v;
}

// ---------------------------------------------------------------------------
// Reference encoder: the format written the slow, obvious way, one bit at a
// time, with a stream model that follows Go's bstream: `free` is how many
// low bits of the last byte are still unwritten, and a whole-byte write
// always appends a new byte (which is where Prometheus' extra zero byte at
// an aligned end comes from). Shares no code with xor_chunk.cc.
class ReferenceEncoder {
 public:
  ReferenceEncoder() : stream_(2, '\0') {}

  void Append(int64_t t, double v) {
    const uint64_t vb = Bits(v);
    uint64_t delta = 0;
    if (n_ == 0) {
      // Go's PutVarint: zig-zag, then 7 bits per byte, low group first.
      uint64_t zz = static_cast<uint64_t>(t) << 1;
      if (t < 0) zz = ~zz;
      WriteVarintBytes(zz);
      WriteBitsBytewise(vb, 64);
    } else if (n_ == 1) {
      delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
      WriteVarintBytes(delta);
      WriteXor(vb);
    } else {
      delta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
      const int64_t dod = static_cast<int64_t>(delta - delta_);
      auto fits = [&](int nbits) {
        const int64_t half = int64_t{1} << (nbits - 1);
        return -(half - 1) <= dod && dod <= half;
      };
      if (dod == 0) {
        WriteBit(0);
      } else if (fits(14)) {
        WriteBitsBytewise(0b10, 2);
        WriteBitsBytewise(static_cast<uint64_t>(dod), 14);
      } else if (fits(17)) {
        WriteBitsBytewise(0b110, 3);
        WriteBitsBytewise(static_cast<uint64_t>(dod), 17);
      } else if (fits(20)) {
        WriteBitsBytewise(0b1110, 4);
        WriteBitsBytewise(static_cast<uint64_t>(dod), 20);
      } else {
        WriteBitsBytewise(0b1111, 4);
        WriteBitsBytewise(static_cast<uint64_t>(dod), 64);
      }
      WriteXor(vb);
    }
    t_ = t;
    v_ = vb;
    delta_ = delta;
    ++n_;
    stream_[0] = static_cast<char>(n_ >> 8);
    stream_[1] = static_cast<char>(n_);
  }

  const std::string& bytes() const { return stream_; }

 private:
  void WriteBit(int bit) {
    if (free_ == 0) {
      stream_.push_back('\0');
      free_ = 8;
    }
    if (bit)
      stream_.back() = static_cast<char>(stream_.back() | (1 << (free_ - 1)));
    --free_;
  }
  void WriteByte(uint8_t byte) {
    if (free_ == 0) {
      stream_.push_back('\0');
      free_ = 8;
    }
    stream_.back() = static_cast<char>(static_cast<uint8_t>(stream_.back()) |
                                       (byte >> (8 - free_)));
    stream_.push_back(static_cast<char>(
        free_ == 8 ? 0 : static_cast<uint8_t>(byte << free_)));
  }
  // Like bstream.writeBits: whole bytes first, then single bits.
  void WriteBitsBytewise(uint64_t u, int nbits) {
    u <<= 64 - nbits;
    for (; nbits >= 8; nbits -= 8, u <<= 8)
      WriteByte(static_cast<uint8_t>(u >> 56));
    for (; nbits > 0; --nbits, u <<= 1) WriteBit(static_cast<int>(u >> 63));
  }
  void WriteVarintBytes(uint64_t u) {
    while (u >= 0x80) {
      WriteByte(static_cast<uint8_t>(u | 0x80));
      u >>= 7;
    }
    WriteByte(static_cast<uint8_t>(u));
  }
  void WriteXor(uint64_t vb) {
    const uint64_t x = vb ^ v_;
    if (x == 0) {
      WriteBit(0);
      return;
    }
    WriteBit(1);
    int lead = 0, trail = 0;
    while (!((x >> (63 - lead)) & 1)) ++lead;
    while (!((x >> trail) & 1)) ++trail;
    if (lead > 31) lead = 31;
    if (have_window_ && lead >= lead_ && trail >= trail_) {
      WriteBit(0);
      WriteBitsBytewise(x >> trail_, 64 - lead_ - trail_);
      return;
    }
    have_window_ = true;
    lead_ = lead;
    trail_ = trail;
    WriteBit(1);
    WriteBitsBytewise(static_cast<uint64_t>(lead), 5);
    const int sig = 64 - lead - trail;
    WriteBitsBytewise(static_cast<uint64_t>(sig) & 63, 6);
    WriteBitsBytewise(x >> trail, sig);
  }

  std::string stream_;
  int free_ = 0;
  int n_ = 0;
  int64_t t_ = 0;
  uint64_t v_ = 0;
  uint64_t delta_ = 0;
  bool have_window_ = false;
  int lead_ = 0, trail_ = 0;
};

std::string ReferenceEncode(const Samples& samples) {
  ReferenceEncoder ref;
  for (const auto& [t, v] : samples) ref.Append(t, v);
  return ref.bytes();
}

// ---------------------------------------------------------------------------
// Series generators.

// NaN payloads and other values whose bits must survive exactly.
const uint64_t kSpecialBits[] = {
    0x7ff0000000000002ull,  // Prometheus stale marker
    0x7ff8000000000001ull,  // Go math.NaN()
    0x7ff8000000000000ull,  // C++ quiet NaN
    0xfff8000000000000ull,  // negative quiet NaN
    0x7ff0000000000001ull,  // signalling NaN
    0x7fffffffffffffffull,  // NaN, all payload bits
    0x7ff0000000000000ull,  // +Inf
    0xfff0000000000000ull,  // -Inf
    0x8000000000000000ull,  // -0.0
    0x0000000000000000ull,  // +0.0
    0x0000000000000001ull,  // smallest denormal
    0x7fefffffffffffffull,  // DBL_MAX
    0xffefffffffffffffull,  // -DBL_MAX
    0x3ff0000000000000ull,  // 1.0
};

enum class Shape {
  kScrapeRegular,  // 15 s steps, CPU-like values
  kScrapeJitter,   // 15 s +- a few ms, the common real case
  kIrregular,      // deltas from every bucket, backwards steps, int64 edges
  kConstant,       // one value throughout
  kRandomBits,     // arbitrary 64-bit patterns (many NaNs)
  kSpecialValues,  // NaN payloads, stale markers, infinities, -0.0
  kCounter,        // increasing integers
};

int64_t IrregularDelta(std::mt19937_64& rng) {
  switch (rng() % 10) {
    case 0:
      return 0;
    case 1:
      return -static_cast<int64_t>(rng() % 100000);
    case 2:
      return static_cast<int64_t>(rng() % 16384);
    case 3:
      return static_cast<int64_t>(rng() % 2000000);
    case 4:
      return static_cast<int64_t>(rng());  // any int64, wraps
    case 5:
      return rng() % 2 ? kInt64Max : kInt64Min;
    default:
      return 15000 + static_cast<int64_t>(rng() % 21) - 10;
  }
}

Samples MakeSeries(Shape shape, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Samples out;
  out.reserve(n);
  int64_t t = 1700000000000 + static_cast<int64_t>(rng() % 1000000);
  double v = 50.0;
  for (size_t i = 0; i < n; ++i) {
    switch (shape) {
      case Shape::kScrapeRegular:
        t += 15000;
        v = std::round(
                (v + (static_cast<double>(rng() % 2001) - 1000) / 100.0) *
                100.0) /
            100.0;
        break;
      case Shape::kScrapeJitter:
        t += 15000 + static_cast<int64_t>(rng() % 41) - 20;
        v = std::ldexp(static_cast<double>(rng() % 100000), -10);
        break;
      case Shape::kIrregular:
        t = static_cast<int64_t>(static_cast<uint64_t>(t) +
                                 static_cast<uint64_t>(IrregularDelta(rng)));
        v = static_cast<double>(static_cast<int64_t>(rng() % 1000) - 500) / 7;
        break;
      case Shape::kConstant:
        t += 10000;
        v = 0.25;
        break;
      case Shape::kRandomBits:
        t += 1 + static_cast<int64_t>(rng() % 60000);
        v = FromBits(rng());
        break;
      case Shape::kSpecialValues:
        t += 30000;
        v = FromBits(kSpecialBits[rng() % std::size(kSpecialBits)]);
        break;
      case Shape::kCounter:
        t += 60000;
        v += static_cast<double>(rng() % 1000);
        break;
    }
    out.emplace_back(t, v);
  }
  return out;
}

Samples DecodeOk(std::string_view bytes) {
  Samples out;
  Status s = DecodeXorChunk(bytes, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return out;
}

// ---------------------------------------------------------------------------
// Golden bytes, derived by hand from the format (not from this encoder).

TEST_CASE("golden: two samples, the example in the header", "[xor_chunk]") {
  // (1000, 1.0), (2000, 2.0)
  //   00 02                    count 2, big-endian
  //   D0 0F                    varint(1000): zig-zag 2000 = 0b1111_1010000
  //                            -> low 7 bits 0x50|0x80 = D0, then 0x0F
  //   3F F0 00 00 00 00 00 00  bits of 1.0
  //   E8 07                    uvarint(1000): 0x68|0x80 = E8, then 0x07
  //   C2 5F FF                 x = 0x3FF0.. ^ 0x4000.. = 0x7FF0000000000000:
  //                            clz 1, ctz 52, 11 significant bits; no window
  //                            yet, so '11' 00001 001011 11111111111 = 24 bits
  //                            = 1100 0010 0101 1111 1111 1111
  const std::string want =
      FromHex("00 02 D0 0F 3F F0 00 00 00 00 00 00 E8 07 C2 5F FF");
  REQUIRE(Hex(Encode({{1000, 1.0}, {2000, 2.0}})) == Hex(want));
}

TEST_CASE("golden: one sample carries Prometheus' extra zero byte",
          "[xor_chunk]") {
  // 00 01 | D0 0F | 3F F0 00 00 00 00 00 00 | 00. The 64 value bits are
  // written a byte at a time, and Go's bstream.writeByte appends the next
  // byte eagerly, so the chunk ends with one spare zero byte.
  XorChunkAppender app;
  app.Append(1000, 1.0);
  REQUIRE(Hex(app.bytes()) == "00 01 D0 0F 3F F0 00 00 00 00 00 00 00");
  REQUIRE(app.min_time() == 1000);
  REQUIRE(app.max_time() == 1000);
}

TEST_CASE("golden: dod buckets, window reuse and unchanged values",
          "[xor_chunk]") {
  // Continues the header example with (2500, 3.0), (3000, 3.0), (3500, 2.0).
  //   sample 2: delta 500, dod = 500 - 1000 = -500: fits 14 bits.
  //     '10' + (2^14 - 500 = 15884 = 11111000001100)
  //     = 1011 1110 0000 1100 = BE 0C
  //     x = bits(3.0) ^ bits(2.0) = 0x4008.. ^ 0x4000.. = 2^51: clz 12,
  //     ctz 51. The window (1, 52) does not cover ctz 51: new window,
  //     '11' 01100 000001 1 (14 bits).
  //   sample 3: dod 0 -> '0'; same value -> '0'.
  //   sample 4: dod 0 -> '0'; x = 2^51 fits window (12, 51): '10' + '1'.
  //   Bits after BE 0C: 11011000 | 000011 00 | 0 101 0000 (padding)
  //                   =    D8   |    0C     |    50
  const std::string want = FromHex(
      "00 05 D0 0F 3F F0 00 00 00 00 00 00 E8 07 C2 5F FF BE 0C D8 0C 50");
  Samples samples = {
      {1000, 1.0}, {2000, 2.0}, {2500, 3.0}, {3000, 3.0}, {3500, 2.0}};
  REQUIRE(Hex(Encode(samples)) == Hex(want));
  REQUIRE(SameBits(DecodeOk(want), samples));
}

TEST_CASE("golden: 64 significant bits are written as 0", "[xor_chunk]") {
  // (0, 5e-324 = bits 0x1), (1, -0.0 = bits 0x8000000000000000)
  //   00 02 | 00 (varint 0) | 00 00 00 00 00 00 00 01 | 01 (uvarint 1)
  //   x = 0x8000000000000001: clz 0, ctz 0, 64 significant bits, written as
  //   '11' 00000 000000 then the 64 bits 1 0..0 1: 77 bits =
  //   11000000 | 00000 100 | 7 x 00000000 | 00001 000 (padding)
  //   = C0 04 00 00 00 00 00 00 00 08
  const std::string want = FromHex(
      "00 02 00 00 00 00 00 00 00 00 01 01 C0 04 00 00 00 00 00 00 00 08");
  Samples samples = {{0, FromBits(1)}, {1, -0.0}};
  REQUIRE(Hex(Encode(samples)) == Hex(want));
  REQUIRE(SameBits(DecodeOk(want), samples));
}

TEST_CASE("golden: a 17-bit dod and the extra byte after a later sample",
          "[xor_chunk]") {
  // (0, 0.0), (1000, 1.0), (12000, bits 0x3FF0000FFFF00000)
  //   00 03 | 00 | 00 x 8 | E8 07
  //   sample 1: x = 0x3FF0000000000000: clz 2, ctz 52, 10 significant bits:
  //     '11' 00010 001010 1111111111                       (23 bits)
  //   sample 2: delta 11000, dod 10000 > 8192: '110' + 17 bits of 10000
  //     = 110 00010011100010000                           (20 bits)
  //     x = 0x0000000FFFF00000: clz 28, ctz 20 < 52, new window with 16
  //     significant bits: '11' 11100 010000 + 16 ones      (29 bits)
  //   72 bits: 11000100 01010111 11111111 10000100 11100010 00011111
  //            00010000 11111111 11111111 = C4 57 FF 84 E2 1F 10 FF FF
  //   The stream ends aligned after 16 bits written a byte at a time, so
  //   Prometheus leaves its extra zero byte: 00.
  const std::string want = FromHex(
      "00 03 00 00 00 00 00 00 00 00 00 E8 07 C4 57 FF 84 E2 1F 10 FF FF 00");
  Samples samples = {
      {0, 0.0}, {1000, 1.0}, {12000, FromBits(0x3FF0000FFFF00000ull)}};
  REQUIRE(Hex(Encode(samples)) == Hex(want));
  REQUIRE(SameBits(DecodeOk(want), samples));
}

TEST_CASE("empty appender is a 2-byte chunk with no samples", "[xor_chunk]") {
  XorChunkAppender app;
  REQUIRE(app.num_samples() == 0);
  REQUIRE(Hex(app.bytes()) == "00 00");
  REQUIRE(DecodeOk(app.bytes()).empty());
  auto resumed = XorChunkAppender::Resume(app.bytes());
  REQUIRE(resumed.ok());
  resumed->Append(1000, 1.0);
  REQUIRE(Hex(resumed->bytes()) == "00 01 D0 0F 3F F0 00 00 00 00 00 00 00");
}

// ---------------------------------------------------------------------------
// Round trips.

TEST_CASE("round trip, reference bytes and resume on many series shapes",
          "[xor_chunk]") {
  const Shape shape =
      GENERATE(Shape::kScrapeRegular, Shape::kScrapeJitter, Shape::kIrregular,
               Shape::kConstant, Shape::kRandomBits, Shape::kSpecialValues,
               Shape::kCounter);
  const size_t n = GENERATE(1, 2, 3, 4, 17, 119, 120, 121, 1000);
  const uint64_t seed = GENERATE(1, 2, 3);
  CAPTURE(static_cast<int>(shape), n, seed);

  const Samples samples = MakeSeries(shape, n, seed * 7919 + n);
  XorChunkAppender app;
  std::string after_each_append;
  for (const auto& [t, v] : samples) {
    app.Append(t, v);
    // The chunk is complete after every Append.
    XorChunkIterator it(app.bytes());
    uint16_t count = 0;
    while (it.Next()) ++count;
    REQUIRE(it.status().ok());
    REQUIRE(count == app.num_samples());
  }
  const std::string bytes(app.bytes());
  REQUIRE(app.num_samples() == n);
  REQUIRE(Hex(bytes) == Hex(ReferenceEncode(samples)));
  REQUIRE(SameBits(DecodeOk(bytes), samples));

  int64_t min_t = kInt64Max, max_t = kInt64Min;
  for (const auto& s : samples) {
    min_t = std::min(min_t, s.first);
    max_t = std::max(max_t, s.first);
  }
  REQUIRE(app.min_time() == min_t);
  REQUIRE(app.max_time() == max_t);

  // Resuming after any prefix and appending the rest gives the same bytes.
  const size_t step = n <= 121 ? 1 : 97;
  for (size_t k = 0; k <= n; k += step) {
    CAPTURE(k);
    XorChunkAppender prefix;
    for (size_t i = 0; i < k; ++i)
      prefix.Append(samples[i].first, samples[i].second);
    auto resumed = XorChunkAppender::Resume(prefix.bytes());
    REQUIRE(resumed.ok());
    REQUIRE(resumed->num_samples() == k);
    REQUIRE(resumed->bytes() == prefix.bytes());
    for (size_t i = k; i < n; ++i)
      resumed->Append(samples[i].first, samples[i].second);
    REQUIRE(resumed->bytes() == bytes);
    REQUIRE(resumed->min_time() == min_t);
    REQUIRE(resumed->max_time() == max_t);
  }
}

TEST_CASE("special values survive bit for bit in every order", "[xor_chunk]") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    Samples samples;
    const size_t n = 1 + rng() % 40;
    int64_t t = 0;
    for (size_t i = 0; i < n; ++i) {
      t += static_cast<int64_t>(rng() % 3) * 15000;  // includes equal stamps
      uint64_t bits = kSpecialBits[rng() % std::size(kSpecialBits)];
      if (rng() % 4 == 0) bits ^= uint64_t{1} << (rng() % 64);
      samples.emplace_back(t, FromBits(bits));
    }
    const std::string bytes = Encode(samples);
    REQUIRE(Hex(bytes) == Hex(ReferenceEncode(samples)));
    REQUIRE(SameBits(DecodeOk(bytes), samples));
  }
}

// The bucket of a dod, per Prometheus' bitRange: [-(2^(n-1) - 1), 2^(n-1)].
struct Bucket {
  unsigned prefix_bits;
  uint64_t prefix;
  unsigned payload_bits;
};

Bucket ExpectedBucket(int64_t dod) {
  auto fits = [dod](int n) {
    const int64_t half = int64_t{1} << (n - 1);
    return dod >= -(half - 1) && dod <= half;
  };
  if (dod == 0) return {1, 0b0, 0};
  if (fits(14)) return {2, 0b10, 14};
  if (fits(17)) return {3, 0b110, 17};
  if (fits(20)) return {4, 0b1110, 20};
  return {4, 0b1111, 64};
}

TEST_CASE("every dod bucket edge picks the right bucket and round-trips",
          "[xor_chunk]") {
  const int64_t dod =
      GENERATE(0, 1, -1, 8191, -8191, 8192, -8192, 8193, -8193, 65535, -65535,
               65536, -65536, 65537, -65537, 524287, -524287, 524288, -524288,
               524289, -524289, int64_t{1} << 32, -(int64_t{1} << 32),
               kInt64Max, kInt64Min, kInt64Min + 1);
  CAPTURE(dod);
  // t0 = 0, t1 = 1000, t2 = 2000 + dod (mod 2^64); constant value, so the
  // dod field starts at bit 16 + 8 (varint 0) + 64 + 16 (uvarint 1000)
  // + 1 (value '0') = 105.
  const int64_t t2 = static_cast<int64_t>(2000u + static_cast<uint64_t>(dod));
  const int64_t t3 = static_cast<int64_t>(static_cast<uint64_t>(t2) + 1000u +
                                          static_cast<uint64_t>(dod));
  const Samples samples = {{0, 1.5}, {1000, 1.5}, {t2, 1.5}, {t3, 1.5}};
  const std::string bytes = Encode(samples);
  REQUIRE(Hex(bytes) == Hex(ReferenceEncode(samples)));

  const Bucket b = ExpectedBucket(dod);
  REQUIRE(BitsAt(bytes, 105, b.prefix_bits) == b.prefix);
  if (b.payload_bits > 0) {
    const uint64_t mask = b.payload_bits == 64
                              ? ~uint64_t{0}
                              : (uint64_t{1} << b.payload_bits) - 1;
    REQUIRE(BitsAt(bytes, 105 + b.prefix_bits, b.payload_bits) ==
            (static_cast<uint64_t>(dod) & mask));
  }
  REQUIRE(SameBits(DecodeOk(bytes), samples));
}

TEST_CASE("extreme timestamps and deltas round-trip", "[xor_chunk]") {
  const Samples samples = {{kInt64Min, 1.0}, {kInt64Max, 2.0}, {0, 3.0},
                           {kInt64Min, 4.0}, {-1, 5.0},        {kInt64Max, 6.0},
                           {kInt64Max, 6.0}, {-123456789, 7.0}};
  for (size_t n = 1; n <= samples.size(); ++n) {
    const Samples prefix(samples.begin(), samples.begin() + n);
    const std::string bytes = Encode(prefix);
    REQUIRE(Hex(bytes) == Hex(ReferenceEncode(prefix)));
    REQUIRE(SameBits(DecodeOk(bytes), prefix));
  }
  XorChunkAppender app;
  for (const auto& [t, v] : samples) app.Append(t, v);
  REQUIRE(app.min_time() == kInt64Min);
  REQUIRE(app.max_time() == kInt64Max);
}

TEST_CASE("a chunk can hold the format's 65535 samples", "[xor_chunk]") {
  const Samples samples =
      MakeSeries(Shape::kScrapeJitter, XorChunkAppender::kFormatSampleLimit, 9);
  XorChunkAppender app;
  for (const auto& [t, v] : samples) {
    REQUIRE(!app.full());
    app.Append(t, v);
  }
  REQUIRE(app.full());
  REQUIRE(app.num_samples() == 65535);
  REQUIRE(Hex(app.bytes().substr(0, 2)) == "FF FF");
  REQUIRE(SameBits(DecodeOk(app.bytes()), samples));
  auto resumed = XorChunkAppender::Resume(app.bytes());
  REQUIRE(resumed.ok());
  REQUIRE(resumed->full());
}

TEST_CASE("appends do not reallocate once capacity is reserved",
          "[xor_chunk]") {
  // Worst case for size: random 64-bit values, ~10 bytes per sample.
  const Samples samples =
      MakeSeries(Shape::kRandomBits, XorChunkAppender::kMaxSamplesPerChunk, 5);
  XorChunkAppender app(4096);
  const char* data = app.bytes().data();
  for (const auto& [t, v] : samples) app.Append(t, v);
  REQUIRE(app.bytes().data() == data);
  REQUIRE(app.bytes().size() > 1000);
}

TEST_CASE("a lazy appender allocates on its first sample, then by half",
          "[xor_chunk]") {
  const Samples samples =
      MakeSeries(Shape::kRandomBits, XorChunkAppender::kMaxSamplesPerChunk, 9);
  XorChunkAppender lazy(0);
  REQUIRE(lazy.capacity() == 0);
  REQUIRE(Hex(lazy.bytes()) == "00 00");
  XorChunkAppender eager;
  size_t last_capacity = 0;
  for (const auto& [t, v] : samples) {
    lazy.Append(t, v);
    eager.Append(t, v);
    REQUIRE(lazy.bytes() == eager.bytes());
    if (lazy.capacity() != last_capacity) {
      // Never more than half again what is needed (plus the write slack).
      REQUIRE(lazy.capacity() <= lazy.bytes().size() * 3 / 2 + 64);
      last_capacity = lazy.capacity();
    }
  }
}

TEST_CASE("a capacity limit stops growth at the limit and copies and moves keep it",
          "[xor_chunk]") {
  const Samples samples =
      MakeSeries(Shape::kRandomBits, XorChunkAppender::kMaxSamplesPerChunk, 11);
  constexpr uint16_t kLimit = 600;
  XorChunkAppender capped(0);
  capped.set_capacity_limit(kLimit);
  XorChunkAppender plain(0);
  size_t appended = 0;
  // The caller's rule: stop before an append would need more than the limit.
  for (const auto& [t, v] : samples) {
    if (capped.capacity_for_next_append() > kLimit) break;
    capped.Append(t, v);
    plain.Append(t, v);
    ++appended;
    REQUIRE(capped.capacity() <= kLimit);
    REQUIRE(capped.bytes() == plain.bytes());
  }
  // Random 64-bit values: about 10 bytes a sample, so the limit ends the
  // chunk well before 120 samples, with its buffer at the limit (growing by
  // half from 486 would have made it 729).
  REQUIRE(appended < samples.size());
  REQUIRE(capped.capacity() == kLimit);
  REQUIRE(plain.capacity() > kLimit);
  REQUIRE(capped.bytes().size() + XorChunkAppender::kAppendSlackBytes > kLimit);

  XorChunkAppender copy = capped;
  XorChunkAppender moved = std::move(copy);
  XorChunkAppender fresh(0);
  fresh.set_capacity_limit(kLimit);
  moved = std::move(fresh);
  for (const auto& [t, v] : samples) {
    if (moved.capacity_for_next_append() > kLimit) break;
    moved.Append(t, v);
  }
  REQUIRE(moved.capacity() == kLimit);
  // Past the limit an append still gets the room it needs.
  const auto& [t, v] = samples[moved.num_samples()];
  moved.Append(t, v);
  REQUIRE(moved.capacity() > kLimit);
  REQUIRE(DecodeOk(moved.bytes()).size() == moved.num_samples());
}

TEST_CASE("a cleared appender keeps its buffer and writes what a fresh one writes",
          "[xor_chunk]") {
  const Samples first =
      MakeSeries(Shape::kRandomBits, XorChunkAppender::kMaxSamplesPerChunk, 5);
  const Samples second =
      MakeSeries(Shape::kScrapeJitter, XorChunkAppender::kMaxSamplesPerChunk, 6);
  constexpr uint16_t kLimit = 448;
  XorChunkAppender reused(0);
  reused.set_capacity_limit(kLimit);
  for (const auto& [t, v] : first) {
    if (reused.capacity_for_next_append() > kLimit) break;
    reused.Append(t, v);
  }
  const size_t capacity = reused.capacity();
  const char* buffer = reused.bytes().data();
  REQUIRE(capacity == kLimit);

  reused.Clear();
  REQUIRE(reused.num_samples() == 0);
  REQUIRE(Hex(reused.bytes()) == "00 00");
  REQUIRE(reused.capacity() == capacity);

  // Samples unlike the first chunk's (other values, other deltas): nothing
  // of the old stream, its XOR window or its last delta may leak through.
  XorChunkAppender fresh(0);
  for (const auto& [t, v] : second) {
    if (reused.capacity_for_next_append() > kLimit) break;
    reused.Append(t, v);
    fresh.Append(t, v);
    REQUIRE(reused.bytes() == fresh.bytes());
  }
  REQUIRE(reused.bytes().data() == buffer);  // no allocation
  REQUIRE(reused.capacity() == capacity);
  REQUIRE(reused.min_time() == fresh.min_time());
  REQUIRE(reused.max_time() == fresh.max_time());
  REQUIRE(DecodeOk(reused.bytes()).size() == reused.num_samples());
}

TEST_CASE("copies are independent and moves leave an empty chunk",
          "[xor_chunk]") {
  XorChunkAppender a(0);
  a.Append(1000, 1.0);
  a.Append(2000, 2.0);
  XorChunkAppender copy = a;
  copy.Append(3000, 3.0);
  REQUIRE(DecodeOk(a.bytes()).size() == 2);
  REQUIRE(DecodeOk(copy.bytes()).size() == 3);

  XorChunkAppender moved = std::move(copy);
  REQUIRE(DecodeOk(moved.bytes()).size() == 3);
  REQUIRE(copy.num_samples() == 0);  // NOLINT(bugprone-use-after-move)
  REQUIRE(Hex(copy.bytes()) == "00 00");
  copy.Append(1000, 1.0);  // usable again
  REQUIRE(copy.bytes() == Encode({{1000, 1.0}}));

  a = moved;  // copy-assign over a chunk with a buffer
  REQUIRE(a.bytes() == moved.bytes());
  a = std::move(moved);
  REQUIRE(DecodeOk(a.bytes()).size() == 3);
}

// ---------------------------------------------------------------------------
// Corruption.

std::vector<std::string> CorpusChunks() {
  std::vector<std::string> chunks = {
      Encode({{1000, 1.0}}),
      Encode({{1000, 1.0}, {2000, 2.0}, {2500, 3.0}, {3000, 3.0}, {3500, 2.0}}),
      Encode({{0, FromBits(1)}, {1, -0.0}}),
  };
  for (Shape shape : {Shape::kScrapeJitter, Shape::kIrregular,
                      Shape::kRandomBits, Shape::kSpecialValues}) {
    chunks.push_back(Encode(MakeSeries(shape, 120, 77)));
  }
  return chunks;
}

// Whatever comes back must be self-consistent: an error is Corruption, at
// most the header's count of samples is returned, and a successful Resume
// continues exactly what the iterator read.
void CheckArbitraryInput(std::string_view input) {
  Samples decoded;
  Status s = DecodeXorChunk(input, &decoded);
  REQUIRE((s.ok() || s.code() == StatusCode::kCorruption));
  if (!s.ok()) REQUIRE(!s.message().empty());
  if (input.size() >= 2) {
    const size_t header =
        (static_cast<uint8_t>(input[0]) << 8) | static_cast<uint8_t>(input[1]);
    REQUIRE(decoded.size() <= header);
    if (s.ok()) REQUIRE(decoded.size() == header);
  }
  auto resumed = XorChunkAppender::Resume(input);
  REQUIRE(resumed.ok() == s.ok());
  if (resumed.ok() && !resumed->full()) {
    const int64_t t =
        decoded.empty()
            ? 5
            : static_cast<int64_t>(static_cast<uint64_t>(decoded.back().first) +
                                   15000);
    resumed->Append(t, 0.5);
    decoded.emplace_back(t, 0.5);
    REQUIRE(SameBits(DecodeOk(resumed->bytes()), decoded));
  }
}

TEST_CASE("every truncation is Corruption or drops only padding",
          "[xor_chunk]") {
  for (const std::string& chunk : CorpusChunks()) {
    const Samples full = DecodeOk(chunk);
    for (size_t len = 0; len < chunk.size(); ++len) {
      CAPTURE(chunk.size(), len);
      const std::string_view cut(chunk.data(), len);
      Samples got;
      Status s = DecodeXorChunk(cut, &got);
      if (s.ok()) {
        // Only Prometheus' spare zero byte may go.
        REQUIRE(len == chunk.size() - 1);
        REQUIRE(chunk.back() == '\0');
        REQUIRE(SameBits(got, full));
      } else {
        REQUIRE(s.code() == StatusCode::kCorruption);
        REQUIRE(IsPrefix(got, full));
        REQUIRE(got.size() < full.size());
      }
      CheckArbitraryInput(cut);
    }
  }
}

TEST_CASE("every single-bit flip is detected or decodes consistently",
          "[xor_chunk]") {
  for (const std::string& chunk : CorpusChunks()) {
    for (size_t bit = 0; bit < chunk.size() * 8; ++bit) {
      std::string bad = chunk;
      bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (0x80 >> (bit % 8)));
      CAPTURE(chunk.size(), bit);
      CheckArbitraryInput(bad);
    }
  }
}

TEST_CASE("random garbage never crashes", "[xor_chunk]") {
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 20000; ++i) {
    std::string input(rng() % 48, '\0');
    for (char& c : input) c = static_cast<char>(rng());
    // Small counts make it past the header check more often.
    if (input.size() >= 2 && rng() % 2) {
      input[0] = 0;
      input[1] = static_cast<char>(rng() % 8);
    }
    CheckArbitraryInput(input);
  }
}

TEST_CASE("corruption messages say what is wrong", "[xor_chunk]") {
  Samples out;
  SECTION("shorter than the header") {
    Status s = DecodeXorChunk(std::string_view("\x00", 1), &out);
    REQUIRE(s.code() == StatusCode::kCorruption);
    REQUIRE(s.message() ==
            "xor chunk too short: 1 bytes, the sample-count header alone is 2");
    REQUIRE(!XorChunkAppender::Resume("").ok());
  }
  SECTION("header announces more samples than the stream holds") {
    std::string bytes = Encode({{1000, 1.0}, {2000, 2.0}});
    bytes[1] = 3;
    Status s = DecodeXorChunk(bytes, &out);
    REQUIRE(s.message() ==
            "xor chunk ends early: the data stops inside sample 3 of 3");
    REQUIRE(out.size() == 2);
    REQUIRE(XorChunkAppender::Resume(bytes).status().message() == s.message());
  }
  SECTION("header announces fewer samples than the stream holds") {
    std::string bytes = Encode(MakeSeries(Shape::kRandomBits, 10, 1));
    bytes[1] = 9;
    Status s = DecodeXorChunk(bytes, &out);
    REQUIRE(s.code() == StatusCode::kCorruption);
    REQUIRE(s.message().find("after the 9 samples its header announces") !=
            std::string::npos);
    REQUIRE(out.size() == 9);
  }
  SECTION("zero bytes after the last sample") {
    // Padding is up to 7 bits, plus Prometheus' one spare byte when the
    // stream ends aligned; two more zero bytes are neither.
    std::string bytes =
        Encode({{1000, 1.0}, {2000, 2.0}}) + std::string(2, '\0');
    REQUIRE(DecodeXorChunk(bytes, &out).message() ==
            "xor chunk has 2 bytes after the 2 samples its header announces");
    bytes.pop_back();  // aligned end: one spare zero byte is fine
    REQUIRE(DecodeXorChunk(bytes, &out).ok());
  }
  SECTION("non-zero padding") {
    std::string bytes = Encode({{1000, 1.0}, {2000, 2.0}, {2500, 3.0}});
    // ... D8 | 000011 00: the last two bits are padding.
    REQUIRE(static_cast<uint8_t>(bytes.back()) == 0x0C);
    bytes.back() = 0x0D;
    REQUIRE(DecodeXorChunk(bytes, &out).message() ==
            "xor chunk has non-zero bits after the 3 samples its header "
            "announces");
  }
  SECTION("timestamp varint longer than 64 bits") {
    const std::string bytes =
        FromHex("00 01 FF FF FF FF FF FF FF FF FF 02 00 00 00 00 00 00 00 00");
    REQUIRE(DecodeXorChunk(bytes, &out).message() ==
            "xor chunk sample 1 of 1: timestamp varint overflows 64 bits");
  }
  SECTION("impossible XOR window") {
    // Sample 1: uvarint 1, then '11' 11111 (31 leading) 000000 (64 bits):
    // 1111111 0 | 00000 ... = FE 00 ...
    const std::string bytes = FromHex(
        "00 02 00 00 00 00 00 00 00 00 00 01 FE 00 00 00 00 00 00 00 00 00 00");
    REQUIRE(DecodeXorChunk(bytes, &out).message() ==
            "xor chunk sample 2 of 2: value window of 31 leading zeros and 64 "
            "significant bits exceeds 64 bits");
  }
}

TEST_CASE("'10' before any '11' uses the 64-bit window, as Prometheus does",
          "[xor_chunk]") {
  // What Prometheus' appender writes after resuming a chunk whose value
  // never changed: samples (0, 0.0), (1, 0.0), then (2, 1.0) as dod '0',
  // value '10' + 64 bits of 0x3FF0000000000000.
  //   00 03 | 00 | 00 x 8 | 01 | '0' (value) '0' (dod) '10' 0011 |
  //   1111 1111 0000 ... | 0000 (the last 4 payload bits) + 4 padding bits
  const std::string bytes =
      FromHex("00 03 00 00 00 00 00 00 00 00 00 01 23 FF 00 00 00 00 00 00 00");
  const Samples want = {{0, 0.0}, {1, 0.0}, {2, 1.0}};
  REQUIRE(SameBits(DecodeOk(bytes), want));
  // Resuming it opens a proper window for the next change.
  auto resumed = XorChunkAppender::Resume(bytes);
  REQUIRE(resumed.ok());
  resumed->Append(3, 2.0);
  Samples more = want;
  more.emplace_back(3, 2.0);
  REQUIRE(SameBits(DecodeOk(resumed->bytes()), more));
}

TEST_CASE("the iterator reports the header count and stops cleanly",
          "[xor_chunk]") {
  const std::string bytes = Encode({{1, 1.0}, {2, 2.0}, {3, 4.0}});
  XorChunkIterator it(bytes);
  REQUIRE(it.num_samples() == 3);
  int n = 0;
  while (it.Next()) ++n;
  REQUIRE(n == 3);
  REQUIRE(!it.Next());  // stays at the end
  REQUIRE(it.status().ok());
  REQUIRE(it.timestamp() == 3);
  REQUIRE(it.value() == 4.0);
}

}  // namespace
}  // namespace promewma::codec
