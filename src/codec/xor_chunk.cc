#include "codec/xor_chunk.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>
#include <utility>

namespace promewma::codec {
namespace {

// Room that must be free past the stream end before an Append: the largest
// sample is sample 1 (a 10-byte uvarint plus a 77-bit XOR field, 20 bytes),
// and the last word store of a write may reach 8 bytes past its first byte.
constexpr size_t kSlackBytes = XorChunkAppender::kAppendSlackBytes;

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "xor_chunk.cc assumes a little-endian host (see LoadBE64/StoreBE64)"
#endif

// The decoder's per-sample helpers are small and called from two places;
// without the attribute GCC keeps them out of line in Next().
#define PROMEWMA_XOR_ALWAYS_INLINE inline __attribute__((always_inline))

inline uint64_t LoadBE64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap64(v);
}

inline void StoreBE64(uint8_t* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof(v));
}

inline uint64_t DoubleBits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return bits;
}

// Go's binary.PutVarint maps signed to unsigned by zig-zag.
inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

inline int64_t UnZigZag(uint64_t u) {
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

// The dod payload of an n-bit bucket back to a signed value, with
// Prometheus' rule: payloads above 2^(n-1) are negative, 2^(n-1) itself is
// positive (so this is not plain sign extension). Result modulo 2^64.
inline uint64_t BucketToDod(uint64_t payload, unsigned n) {
  return payload > (uint64_t{1} << (n - 1)) ? payload - (uint64_t{1} << n)
                                            : payload;
}

std::string SampleOf(uint16_t index, uint16_t total) {
  return "sample " + std::to_string(index + 1) + " of " + std::to_string(total);
}

// The bit writer of one Append. It lives in registers: the bits already in
// the partial last byte are carried in `partial` instead of being read back
// from the buffer, and as a local whose address never escapes, the byte
// stores cannot alias it (they could alias any member, forcing reloads).
struct BitSink {
  uint8_t* base;
  uint64_t bit_len;  // header included
  uint64_t partial;  // the partial byte's written bits, top-aligned, rest 0

  // Writes the low n bits of v, most significant first, as one unaligned
  // big-endian word store. The zeros below the new bits land on bytes that
  // are zero already. REQUIRES: 1 <= n <= 56, higher bits of v zero, and
  // 8 writable bytes from the partial byte on.
  void Put(uint64_t v, unsigned n) {
    const unsigned used = bit_len & 7;
    const uint64_t word = partial | (v << (64 - used - n));
    StoreBE64(base + (bit_len >> 3), word);
    bit_len += n;
    partial = word << ((used + n) & ~7u);  // used + n <= 63: shift <= 56
  }
  // Same for 1 <= n <= 64.
  void PutWide(uint64_t v, unsigned n) {
    if (n <= 56) {
      Put(v, n);
    } else {
      Put(v >> 32, n - 32);
      Put(v & 0xffffffffu, 32);
    }
  }
  // Go's PutUvarint; only ever called byte aligned.
  void PutUvarint(uint64_t v) {
    while (v >= 0x80) {
      Put((v & 0x7f) | 0x80, 8);
      v >>= 7;
    }
    Put(v, 8);
  }
};

// One XOR field: `head` (head_len bits) then `payload` (payload_len bits).
struct XorField {
  uint64_t head;
  unsigned head_len;
  uint64_t payload;
  unsigned payload_len;  // significant bits; 0 when the value is unchanged
};

// Encodes v_bits against the previous value, updating the window.
inline XorField EncodeXor(uint64_t v_bits, uint64_t prev_bits, uint8_t* leading,
                          uint8_t* trailing) {
  const uint64_t x = v_bits ^ prev_bits;
  if (x == 0) return {0, 1, 0, 0};  // '0'
  // 5 bits hold the leading count; clamping only widens the window.
  const unsigned lead = std::min(__builtin_clzll(x), 31);
  const unsigned trail = __builtin_ctzll(x);
  if (lead >= *leading && trail >= *trailing) {  // fails while kNoWindow
    return {0b10, 2, x >> *trailing, 64u - *leading - *trailing};
  }
  *leading = static_cast<uint8_t>(lead);
  *trailing = static_cast<uint8_t>(trail);
  const unsigned sig = 64 - lead - trail;
  // '11', 5-bit leading count, 6-bit significant count (64 wraps to 0).
  return {(uint64_t{0b11} << 11) | (lead << 6) | (sig & 63), 13, x >> trail,
          sig};
}

// Writes `prefix` (prefix_len bits, may be 0) followed by `field`, merging
// them into one word store when they fit. Returns whether Prometheus would
// leave its extra zero byte: the significant bits, which it writes a whole
// byte at a time when their count is a multiple of 8, end byte aligned.
inline bool PutField(BitSink* sink, uint64_t prefix, unsigned prefix_len,
                     const XorField& f) {
  const unsigned total = prefix_len + f.head_len + f.payload_len;
  const uint64_t head = (prefix << f.head_len) | f.head;
  if (total <= 56) {
    // Two shifts: payload_len may be 56 - (prefix + head) but never 64.
    sink->Put((head << f.payload_len) | f.payload, total);
  } else {
    sink->Put(head, prefix_len + f.head_len);  // at most 24 + 13 bits
    sink->PutWide(f.payload, f.payload_len);
  }
  return f.payload_len != 0 && (f.payload_len & 7) == 0 &&
         (sink->bit_len & 7) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// XorChunkAppender

XorChunkAppender::XorChunkAppender(size_t reserve_bytes) {
  if (reserve_bytes > 0) Reallocate(std::max(reserve_bytes, 2 + kSlackBytes));
}

XorChunkAppender::XorChunkAppender(const XorChunkAppender& other) {
  *this = other;
}

XorChunkAppender& XorChunkAppender::operator=(const XorChunkAppender& other) {
  if (this == &other) return *this;
  buf_.reset();
  capacity_ = 0;
  if (other.capacity_ > 0) {
    buf_ = std::make_unique<uint8_t[]>(other.capacity_);
    std::memcpy(buf_.get(), other.buf_.get(), other.capacity_);
    capacity_ = other.capacity_;
  }
  bit_len_ = other.bit_len_;
  num_samples_ = other.num_samples_;
  pad_byte_ = other.pad_byte_;
  leading_ = other.leading_;
  trailing_ = other.trailing_;
  capacity_limit_ = other.capacity_limit_;
  last_t_ = other.last_t_;
  last_delta_ = other.last_delta_;
  last_v_ = other.last_v_;
  min_time_ = other.min_time_;
  max_time_ = other.max_time_;
  return *this;
}

XorChunkAppender::XorChunkAppender(XorChunkAppender&& other) noexcept {
  *this = std::move(other);
}

XorChunkAppender& XorChunkAppender::operator=(
    XorChunkAppender&& other) noexcept {
  if (this == &other) return *this;
  // The plain fields are copied, then the source is reset to empty.
  const uint32_t capacity = other.capacity_;
  std::unique_ptr<uint8_t[]> buf = std::move(other.buf_);
  other.capacity_ = 0;
  *this = static_cast<const XorChunkAppender&>(other);  // no buffer to copy
  buf_ = std::move(buf);
  capacity_ = capacity;
  const uint16_t capacity_limit = capacity_limit_;
  const XorChunkAppender empty(0);
  other = empty;  // a copy: nothing allocated
  other.capacity_limit_ = capacity_limit;
  return *this;
}

void XorChunkAppender::Clear() {
  // Bytes past the stream end must be zero (see buf_); only the written
  // ones can be otherwise.
  if (capacity_ > 0) {
    std::memset(buf_.get(), 0,
                std::min<size_t>(capacity_, ((bit_len_ + 7) >> 3) + 1));
  }
  // An empty chunk's fields, with this one's buffer and cap.
  XorChunkAppender empty(0);
  empty.buf_ = std::move(buf_);
  empty.capacity_ = capacity_;
  empty.capacity_limit_ = capacity_limit_;
  *this = std::move(empty);
}

void XorChunkAppender::Reallocate(size_t capacity) {
  auto bigger = std::make_unique<uint8_t[]>(capacity);  // zeroed
  if (capacity_ > 0) {
    std::memcpy(bigger.get(), buf_.get(), std::min<size_t>(capacity_, capacity));
  }
  buf_ = std::move(bigger);
  capacity_ = static_cast<uint32_t>(capacity);
}

void XorChunkAppender::Grow() {
  // Every open series holds a head chunk, so slack here is multiplied by
  // the series count: growing by half (not doubling) keeps it under a third
  // of the buffer at any moment, for a few more (cheap, ~1 KiB) copies per
  // chunk. Sizing for a full chunk up front would waste most of the buffer
  // for most of the chunk's life.
  const size_t needed = (bit_len_ >> 3) + kSlackBytes;
  size_t target =
      capacity_ == 0 ? kFirstAllocationBytes : capacity_ + capacity_ / 2;
  if (capacity_limit_ != 0) target = std::min<size_t>(target, capacity_limit_);
  Reallocate(std::max(target, needed));
}

void XorChunkAppender::Append(int64_t t_ms, double v) {
  assert(!full());
  if (__builtin_expect(capacity_ < (bit_len_ >> 3) + kSlackBytes, 0)) {
    Grow();
  }
  const uint64_t v_bits = DoubleBits(v);
  if (__builtin_expect(num_samples_ < 2, 0)) {
    AppendFirstTwo(t_ms, v_bits);
    return;
  }

  uint8_t* base = buf_.get();
  BitSink sink{base, bit_len_, uint64_t{base[bit_len_ >> 3]} << 56};
  // Timestamp arithmetic is modulo 2^64, as in Prometheus (Go wraps; here
  // unsigned arithmetic keeps it defined).
  const uint64_t delta =
      static_cast<uint64_t>(t_ms) - static_cast<uint64_t>(last_t_);
  const uint64_t dod = delta - last_delta_;
  uint64_t prefix;  // the dod field, unless it is the 68-bit one
  unsigned prefix_len;
  // Each bucket test is one unsigned compare: dod + (2^(n-1) - 1) maps
  // [-(2^(n-1) - 1), 2^(n-1)] onto [0, 2^n - 1].
  if (dod == 0) {
    prefix = 0;
    prefix_len = 1;
  } else if (dod + 8191 <= 16383) {
    prefix = (uint64_t{0b10} << 14) | (dod & 0x3fff);
    prefix_len = 16;
  } else if (dod + 65535 <= 131071) {
    prefix = (uint64_t{0b110} << 17) | (dod & 0x1ffff);
    prefix_len = 20;
  } else if (dod + 524287 <= 1048575) {
    prefix = (uint64_t{0b1110} << 20) | (dod & 0xfffff);
    prefix_len = 24;
  } else {
    sink.Put(0b1111, 4);
    sink.PutWide(dod, 64);
    prefix = 0;
    prefix_len = 0;
  }
  const XorField field = EncodeXor(v_bits, last_v_, &leading_, &trailing_);
  pad_byte_ = PutField(&sink, prefix, prefix_len, field);

  bit_len_ = static_cast<uint32_t>(sink.bit_len);
  last_t_ = t_ms;
  last_delta_ = delta;
  last_v_ = v_bits;
  min_time_ = std::min(min_time_, t_ms);
  max_time_ = std::max(max_time_, t_ms);
  ++num_samples_;
  base[0] = static_cast<uint8_t>(num_samples_ >> 8);
  base[1] = static_cast<uint8_t>(num_samples_);
}

void XorChunkAppender::AppendFirstTwo(int64_t t_ms, uint64_t v_bits) {
  uint8_t* base = buf_.get();
  // Both samples start byte aligned (after the header, after 64 raw bits).
  BitSink sink{base, bit_len_, 0};
  if (num_samples_ == 0) {
    sink.PutUvarint(ZigZag(t_ms));
    sink.PutWide(v_bits, 64);
    pad_byte_ = true;  // both fields went in whole bytes, ending aligned
    min_time_ = max_time_ = t_ms;
    last_delta_ = 0;
  } else {
    last_delta_ = static_cast<uint64_t>(t_ms) - static_cast<uint64_t>(last_t_);
    sink.PutUvarint(last_delta_);
    pad_byte_ = PutField(&sink, 0, 0,
                         EncodeXor(v_bits, last_v_, &leading_, &trailing_));
    min_time_ = std::min(min_time_, t_ms);
    max_time_ = std::max(max_time_, t_ms);
  }
  bit_len_ = static_cast<uint32_t>(sink.bit_len);
  last_t_ = t_ms;
  last_v_ = v_bits;
  ++num_samples_;
  base[0] = static_cast<uint8_t>(num_samples_ >> 8);
  base[1] = static_cast<uint8_t>(num_samples_);
}

Result<XorChunkAppender> XorChunkAppender::Resume(
    std::string_view chunk_bytes) {
  XorChunkIterator it(chunk_bytes);
  int64_t min_t = std::numeric_limits<int64_t>::max();
  int64_t max_t = std::numeric_limits<int64_t>::min();
  while (it.Next()) {
    min_t = std::min(min_t, it.timestamp());
    max_t = std::max(max_t, it.timestamp());
  }
  if (!it.status().ok()) return it.status();

  const size_t used = (it.pos_ + 7) >> 3;
  XorChunkAppender a(std::max(kDefaultReserveBytes, used + kSlackBytes));
  std::memcpy(a.buf_.get(), chunk_bytes.data(), used);
  // The iterator verified that everything after the last sample is zero, so
  // the partial last byte already has the zero tail BitSink relies on, and
  // an extra byte can only be Prometheus' padding byte (not copied: the
  // buffer past `used` is zero anyway).
  a.bit_len_ = static_cast<uint32_t>(it.pos_);  // < 2^24: 65535 samples
  a.pad_byte_ = chunk_bytes.size() > used;
  a.num_samples_ = it.total_;
  if (it.total_ > 0) {
    a.last_t_ = it.t_;
    a.last_delta_ = it.delta_;
    a.last_v_ = it.v_bits_;
    a.min_time_ = min_t;
    a.max_time_ = max_t;
  }
  // An appender that never changed value has no window yet; one that read
  // '10' before any '11' (Prometheus' resumed appenders write that) gets
  // none either: opening a fresh window is always decodable.
  if (it.window_opened_) {
    a.leading_ = it.leading_;
    a.trailing_ = it.trailing_;
  }
  return Result<XorChunkAppender>(std::move(a));  // no copy of the buffer
}

// ---------------------------------------------------------------------------
// XorChunkIterator

XorChunkIterator::XorChunkIterator(std::string_view chunk_bytes)
    : data_(reinterpret_cast<const uint8_t*>(chunk_bytes.data())),
      size_(chunk_bytes.size()) {
  if (size_ < 2) {
    status_ =
        Status::Corruption("xor chunk too short: " + std::to_string(size_) +
                           " bytes, the sample-count header alone is 2");
    end_checked_ = true;
    return;
  }
  total_ = static_cast<uint16_t>((data_[0] << 8) | data_[1]);
  tail_start_ = size_ >= 8 ? size_ - 8 : 0;
  std::memcpy(tail_, data_ + tail_start_, size_ - tail_start_);
}

double XorChunkIterator::value() const {
  double v;
  std::memcpy(&v, &v_bits_, sizeof(v));
  return v;
}

bool XorChunkIterator::Fail(std::string message) {
  status_ = Status::Corruption(std::move(message));
  return false;
}

uint64_t XorChunkIterator::PeekTail(uint64_t byte) const {
  // Here byte + 8 > size_, so byte >= tail_start_. tail_ holds bytes
  // [tail_start_, tail_start_ + 16), zeros past the data.
  const uint64_t offset = byte - tail_start_;
  return offset <= 8 ? LoadBE64(tail_ + offset) : 0;
}

PROMEWMA_XOR_ALWAYS_INLINE uint64_t XorChunkIterator::Peek64() const {
  const uint64_t byte = pos_ >> 3;
  const uint64_t word = __builtin_expect(byte + 8 <= size_, 1)
                            ? LoadBE64(data_ + byte)
                            : PeekTail(byte);
  return word << (pos_ & 7);
}

PROMEWMA_XOR_ALWAYS_INLINE uint64_t XorChunkIterator::ReadBits(unsigned n) {
  const uint64_t bits = Peek64() >> (64 - n);
  pos_ += n;
  return bits;
}

PROMEWMA_XOR_ALWAYS_INLINE uint64_t XorChunkIterator::ReadWideBits(unsigned n) {
  if (n <= 57) return ReadBits(n);
  const uint64_t high = ReadBits(n - 32);
  return (high << 32) | ReadBits(32);
}

bool XorChunkIterator::ReadUvarint(uint64_t* v) {
  // Go's binary.ReadUvarint: at most 10 bytes, and the 10th may only
  // contribute the 64th bit. Only used at byte-aligned positions.
  const uint64_t start = pos_ >> 3;
  uint64_t result = 0;
  for (unsigned i = 0; i < 10; ++i) {
    if (start + i >= size_) {
      return Fail("xor chunk ends early: the data stops inside " +
                  SampleOf(read_, total_));
    }
    const uint8_t byte = data_[start + i];
    if (byte < 0x80) {
      if (i == 9 && byte > 1) break;
      *v = result | (uint64_t{byte} << (7 * i));
      pos_ = (start + i + 1) * 8;
      return true;
    }
    result |= uint64_t{byte & 0x7fu} << (7 * i);
  }
  return Fail("xor chunk " + SampleOf(read_, total_) +
              ": timestamp varint overflows 64 bits");
}

PROMEWMA_XOR_ALWAYS_INLINE bool XorChunkIterator::ReadValue() {
  const uint64_t word = Peek64();
  if ((word >> 63) == 0) {  // '0': same bits as before
    pos_ += 1;
    return true;
  }
  if (((word >> 62) & 1) == 0) {  // '10': reuse the window
    pos_ += 2;
    const unsigned sig = 64u - leading_ - trailing_;
    v_bits_ ^= ReadWideBits(sig) << trailing_;
    return true;
  }
  // '11': 5-bit leading count, 6-bit significant count, then the bits.
  const unsigned lead = (word >> 57) & 31;
  unsigned sig = (word >> 51) & 63;
  pos_ += 13;
  if (sig == 0) sig = 64;
  if (lead + sig > 64) {
    // Zeros read past the end could fake this; report the real problem.
    if (pos_ > uint64_t{size_} * 8) {
      return Fail("xor chunk ends early: the data stops inside " +
                  SampleOf(read_, total_));
    }
    return Fail("xor chunk " + SampleOf(read_, total_) + ": value window of " +
                std::to_string(lead) + " leading zeros and " +
                std::to_string(sig) + " significant bits exceeds 64 bits");
  }
  leading_ = static_cast<uint8_t>(lead);
  trailing_ = static_cast<uint8_t>(64 - lead - sig);
  window_opened_ = true;
  v_bits_ ^= ReadWideBits(sig) << trailing_;
  return true;
}

bool XorChunkIterator::ReadFirst() {
  uint64_t zigzag;
  if (!ReadUvarint(&zigzag)) return false;
  t_ = UnZigZag(zigzag);
  v_bits_ = ReadWideBits(64);
  return true;
}

bool XorChunkIterator::ReadSecond() {
  if (!ReadUvarint(&delta_)) return false;
  t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + delta_);
  return ReadValue();
}

bool XorChunkIterator::CheckEnd() {
  // A writer leaves zero padding to the byte boundary, plus Prometheus'
  // extra zero byte when the stream ends aligned. Anything else means the
  // header undercounts the samples (or the bytes were damaged).
  const uint64_t used = (pos_ + 7) >> 3;
  const bool length_ok =
      size_ == used || ((pos_ & 7) == 0 && size_ == used + 1);
  if (!length_ok) {
    return Fail("xor chunk has " + std::to_string(size_ - used) +
                " bytes after the " + std::to_string(total_) +
                " samples its header announces");
  }
  const uint64_t rest = uint64_t{size_} * 8 - pos_;  // at most 15 bits
  if (rest > 0 && (Peek64() >> (64 - rest)) != 0) {
    return Fail("xor chunk has non-zero bits after the " +
                std::to_string(total_) + " samples its header announces");
  }
  return true;
}

bool XorChunkIterator::Next() {
  if (read_ == total_) {
    if (!end_checked_) {
      end_checked_ = true;
      CheckEnd();
    }
    return false;
  }
  if (!status_.ok()) return false;

  if (__builtin_expect(read_ >= 2, 1)) {
    const uint64_t word = Peek64();
    uint64_t dod = 0;
    if ((word >> 63) == 0) {  // '0'
      pos_ += 1;
    } else {
      // Count the leading ones of the prefix: 1 -> '10', 2 -> '110',
      // 3 -> '1110', 4 or more -> '1111'.
      switch (__builtin_clzll(~word | 1)) {
        case 1:
          dod = BucketToDod((word >> 48) & 0x3fff, 14);
          pos_ += 16;
          break;
        case 2:
          dod = BucketToDod((word >> 44) & 0x1ffff, 17);
          pos_ += 20;
          break;
        case 3:
          dod = BucketToDod((word >> 40) & 0xfffff, 20);
          pos_ += 24;
          break;
        default:
          pos_ += 4;
          dod = ReadWideBits(64);
          break;
      }
    }
    delta_ += dod;
    t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + delta_);
    if (!ReadValue()) return false;
  } else if (read_ == 0) {
    if (!ReadFirst()) return false;
  } else {
    if (!ReadSecond()) return false;
  }

  if (pos_ > uint64_t{size_} * 8) {
    return Fail("xor chunk ends early: the data stops inside " +
                SampleOf(read_, total_));
  }
  ++read_;
  return true;
}

Status DecodeXorChunk(std::string_view bytes,
                      std::vector<std::pair<int64_t, double>>* out) {
  out->clear();
  XorChunkIterator it(bytes);
  out->reserve(it.num_samples());
  while (it.Next()) out->emplace_back(it.timestamp(), it.value());
  return it.status();
}

}  // namespace promewma::codec
