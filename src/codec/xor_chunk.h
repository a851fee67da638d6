// Prometheus XOR ("Gorilla") chunks: the float-sample chunk encoding of
// Prometheus' TSDB (tsdb/chunkenc, encoding EncXOR = 1), reproduced bit for
// bit as Prometheus 2.42 writes it. promewma stores its head and sealed
// chunks in this form and hands the same bytes to Prometheus in
// STREAMED_XOR_CHUNKS remote-read responses, so any deviation here is a
// wire-compatibility bug, not a style choice.
//
// Format
// ------
// A chunk is a 2-byte header followed by a bit stream. Bits are packed most
// significant bit first: the first bit of the stream is bit 7 (0x80) of
// byte 2. Multi-bit fields are written most significant bit first too, so a
// field that happens to be byte aligned reads as a big-endian number.
//
//   byte 0-1   num_samples, uint16 big-endian.
//   sample 0   t0 as a zig-zag varint (Go binary.PutVarint, 1-10 bytes),
//              then the 64 raw bits of v0 (IEEE 754, as Go math.Float64bits).
//   sample 1   delta = t1 - t0 as an unsigned varint (Go binary.PutUvarint,
//              1-10 bytes; computed modulo 2^64, so a backwards step is a
//              10-byte varint), then v1 as an XOR field (below).
//   sample n   dod = (tn - tn-1) - (tn-1 - tn-2), modulo 2^64, in one of
//   (n >= 2)   five buckets, then vn as an XOR field:
//                '0'                      dod == 0
//                '10'   + 14-bit payload  -8191 <= dod <= 8192
//                '110'  + 17-bit payload  -65535 <= dod <= 65536
//                '1110' + 20-bit payload  -524287 <= dod <= 524288
//                '1111' + 64-bit payload  anything else
//              The payload is the low N bits of dod in two's complement. The
//              ranges are deliberately lopsided, [-(2^(N-1) - 1), 2^(N-1)]:
//              the reader takes a payload p > 2^(N-1) as p - 2^N, so the
//              pattern 100..0 means +2^(N-1), never -2^(N-1).
//   padding    zero bits up to the next byte boundary, plus (see below) at
//              most one extra zero byte.
//
// Both varints start byte aligned: the header is 2 bytes and v0 is 64 bits.
//
// XOR field for value v with previous value p (x = bits(v) ^ bits(p)):
//   '0'                                 x == 0 (same bits, NaN payload too)
//   '10' + (64-L-T) bits of x >> T      x fits the current window (L, T):
//                                       clz(x) >= L and ctz(x) >= T
//   '11' + L' (5 bits) + S (6 bits)     new window: L' = min(clz(x), 31),
//        + S bits of x >> T'            T' = ctz(x), S = 64 - L' - T', and
//                                       S = 64 is written as 0 (0 cannot
//                                       occur since x != 0).
// The window starts undefined on the writer side, so sample 1 (and every
// sample until the first value change) can only open a window with '11'.
// A reader that meets '10' before any '11' uses L = T = 0 (64 bits), which
// is what Prometheus' own reader does; its appender emits that when it
// resumes a chunk whose values never changed, so we accept it.
//
// The extra padding byte: Prometheus' bstream.writeByte always appends a
// fresh byte after the one it fills, so when a sample ends on a byte boundary
// and its last field was written a whole byte at a time, the chunk carries a
// trailing zero byte that the next bit write will use. That is the case after
// sample 0 (always), and after a later sample whose XOR field ended with a
// significant-bit count divisible by 8 exactly on a byte boundary. We emit
// the same byte so our chunks are byte-identical to Prometheus'; readers
// accept it but never depend on it.
//
// Example (derived by hand in tests/codec/xor_chunk_test.cc): the samples
// (1000, 1.0), (2000, 2.0) encode as
//   00 02 | D0 0F | 3F F0 00 00 00 00 00 00 | E8 07 | C2 5F FF
// header, zig-zag varint 2000, bits of 1.0, uvarint 1000, then '11' 00001
// 001011 11111111111 (x = 0x7FF0000000000000: L = 1, S = 11).
//
// Thread-safety: XorChunkAppender and XorChunkIterator are not thread-safe;
// use one per thread or guard them externally. Iterators over distinct byte
// ranges, or over bytes no one writes, may run concurrently.

#ifndef PROMEWMA_CODEC_XOR_CHUNK_H_
#define PROMEWMA_CODEC_XOR_CHUNK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promewma/status.h"

namespace promewma::codec {

// Builds one XOR chunk sample by sample. The chunk is complete and valid
// after every Append; bytes() can be stored or sent at any time.
//
// Timestamps need not increase: the format stores deltas modulo 2^64, so any
// int64 sequence round-trips. Keeping them increasing is the caller's job
// (and what keeps chunks small).
//
// Copyable and movable; a copy is an independent chunk. 64 bytes, since
// every active series embeds one.
class XorChunkAppender {
 public:
  // Prometheus cuts a chunk once it holds this many samples: past it the
  // compression gain per extra sample is small and every query that touches
  // the chunk decodes all of it. The format itself allows up to
  // kFormatSampleLimit.
  static constexpr int kMaxSamplesPerChunk = 120;
  // The header count is a uint16.
  static constexpr int kFormatSampleLimit = 65535;
  // Initial buffer size, what Prometheus allocates for a new chunk. Small on
  // purpose, since every active series keeps a head chunk: it holds 120
  // samples of a series whose value rarely changes (~0.5 byte per sample),
  // but a value that changes in its low mantissa bits every scrape (CPU
  // utilization ratios) costs ~8-9 bytes per sample, and such a chunk ends
  // near 1 KiB (see Grow). Callers that know better pass their own size.
  static constexpr size_t kDefaultReserveBytes = 128;

  // An empty chunk (2 header bytes, no samples) with at least
  // `reserve_bytes` of buffer, so appends allocate nothing until the chunk
  // outgrows it. 0 allocates nothing until the first Append, which suits
  // an appender embedded in every series whether or not it ever stores.
  explicit XorChunkAppender(size_t reserve_bytes = kDefaultReserveBytes);
  XorChunkAppender(const XorChunkAppender& other);
  XorChunkAppender& operator=(const XorChunkAppender& other);
  // A moved-from appender is an empty chunk without a buffer.
  XorChunkAppender(XorChunkAppender&& other) noexcept;
  XorChunkAppender& operator=(XorChunkAppender&& other) noexcept;

  // Continues an existing chunk: decodes `chunk_bytes` to recover the
  // appender state (last timestamp, last delta, last value, XOR window and
  // bit position), copies the bytes and returns an appender whose further
  // Appends produce exactly the bytes one appender would have produced for
  // all samples in one go. Returns Corruption if the chunk does not decode.
  static Result<XorChunkAppender> Resume(std::string_view chunk_bytes);

  // Empties the chunk and keeps its buffer (and cap): the next chunk's
  // appends allocate nothing until they outgrow it. An open head that is
  // sealed over and over reuses one buffer instead of freeing it and
  // growing a new one from 64 bytes, which would leave holes of every
  // size among the heap's long-lived objects.
  void Clear();

  // Adds one sample. Never fails; NaN payloads (stale markers included),
  // infinities and -0.0 are kept bit for bit.
  // REQUIRES: !full()
  void Append(int64_t t_ms, double v);

  uint16_t num_samples() const { return num_samples_; }
  bool full() const { return num_samples_ == kFormatSampleLimit; }

  // The complete chunk, header included. The view is invalidated by the
  // next Append (the buffer may move) and by destroying the appender.
  std::string_view bytes() const {
    if (capacity_ == 0) return std::string_view("\0\0", 2);
    return std::string_view(reinterpret_cast<const char*>(buf_.get()),
                            ((bit_len_ + 7) >> 3) + pad_byte_);
  }

  // Bytes allocated for the chunk (what it costs in memory).
  size_t capacity() const { return capacity_; }

  // Room an Append needs free past the stream end: the largest sample
  // (sample 1: a 10-byte uvarint and a 77-bit XOR field) plus the reach of
  // a 64-bit word store.
  static constexpr size_t kAppendSlackBytes = 32;
  // The buffer the next Append needs: the chunk so far plus the slack. An
  // Append grows the buffer when capacity() is smaller.
  size_t capacity_for_next_append() const {
    return (bit_len_ >> 3) + kAppendSlackBytes;
  }
  // Caps the buffer growth at `bytes` (0: no cap, the default): Grow stops
  // at the cap instead of growing by half past it. A caller that ends the
  // chunk before capacity_for_next_append() exceeds the cap keeps the
  // buffer at most `bytes` large; an Append past it still grows the buffer
  // to what it needs. Copies and moves keep the cap.
  void set_capacity_limit(uint16_t bytes) { capacity_limit_ = bytes; }

  // Smallest and largest timestamp appended so far.
  // REQUIRES: num_samples() > 0
  int64_t min_time() const { return min_time_; }
  int64_t max_time() const { return max_time_; }

 private:
  // Samples 0 and 1 (varint timestamps), off the hot path.
  void AppendFirstTwo(int64_t t_ms, uint64_t v_bits);
  void Grow();

  // What a lazily allocated buffer starts with: sample 0 (up to 20 bytes)
  // plus the write slack, so the first allocation holds a few samples.
  static constexpr size_t kFirstAllocationBytes = 64;

  // Value of leading_ while no XOR window has been opened. Larger than any
  // real leading-zero count (at most 31), so the window-reuse test
  // `lead >= leading_` fails on it without a separate check.
  static constexpr uint8_t kNoWindow = 0xff;

  // Replaces the buffer with a zeroed one of `capacity` bytes holding the
  // current chunk bytes.
  void Reallocate(size_t capacity);

  // capacity_ bytes (none while 0). Bytes past the last written bit are
  // kept zero so a write can OR into a partial byte and store a whole
  // 64-bit word without reading what follows. A chunk is at most 65535
  // samples of at most 146 bits, so 32-bit sizes suffice.
  std::unique_ptr<uint8_t[]> buf_;
  uint32_t capacity_ = 0;
  uint32_t bit_len_ = 16;  // bits written so far, header included
  uint16_t num_samples_ = 0;
  bool pad_byte_ = false;        // Prometheus' trailing zero byte (see top)
  uint8_t leading_ = kNoWindow;  // current XOR window, see kNoWindow
  uint8_t trailing_ = 0;
  uint16_t capacity_limit_ = 0;  // see set_capacity_limit; 0: none
  int64_t last_t_ = 0;       // timestamp of the last sample
  uint64_t last_delta_ = 0;  // last timestamp delta, modulo 2^64
  uint64_t last_v_ = 0;      // bits of the last value
  int64_t min_time_ = 0;
  int64_t max_time_ = 0;
};

// Reads the samples of one XOR chunk straight from its bytes (no copy).
// `chunk_bytes` must outlive the iterator and must not change under it.
//
// Usage:
//   XorChunkIterator it(bytes);
//   while (it.Next()) Use(it.timestamp(), it.value());
//   if (!it.status().ok()) ...  // Corruption
//
// Safe on arbitrary input: it never reads outside `chunk_bytes`, and every
// inconsistency (too short for the header, stream ending before the header's
// sample count, varint over 64 bits, an impossible XOR window, data or
// non-zero bits after the last sample) ends the iteration with Corruption.
// Samples returned before the error are exactly as encoded.
class XorChunkIterator {
 public:
  explicit XorChunkIterator(std::string_view chunk_bytes);

  // Advances to the next sample. Returns false at the end of the chunk or on
  // an error; status() tells them apart.
  bool Next();

  // The current sample. REQUIRES: the last Next() returned true.
  int64_t timestamp() const { return t_; }
  double value() const;

  // OK until an error was found. The check for data after the last sample
  // runs on the Next() call that returns false at the end.
  Status status() const { return status_; }

  // The header's sample count (0 when the header itself is missing).
  uint16_t num_samples() const { return total_; }

 private:
  friend class XorChunkAppender;  // Resume() takes over the decoder state

  bool ReadFirst();
  bool ReadSecond();
  bool ReadValue();
  bool CheckEnd();
  bool ReadUvarint(uint64_t* v);
  bool Fail(std::string message);
  // The 64 bits starting at bit pos_, zero past the end of the data.
  uint64_t Peek64() const;
  uint64_t PeekTail(uint64_t byte) const;
  // Reads `n` bits, 1 <= n <= 57 (ReadWideBits: 1 <= n <= 64). Reading past
  // the end yields zeros; Next() checks pos_ against the end per sample.
  uint64_t ReadBits(unsigned n);
  uint64_t ReadWideBits(unsigned n);

  const uint8_t* data_;
  size_t size_;
  // The last (up to) 8 bytes of the data followed by zeros, so that word
  // loads near the end need neither a byte loop nor a read past the data.
  size_t tail_start_ = 0;
  uint8_t tail_[16] = {};
  uint64_t pos_ = 16;   // next bit to read, from the chunk start
  uint16_t total_ = 0;  // header count
  uint16_t read_ = 0;   // samples decoded so far
  bool end_checked_ = false;
  int64_t t_ = 0;
  uint64_t delta_ = 0;  // last timestamp delta, modulo 2^64
  uint64_t v_bits_ = 0;
  uint8_t leading_ = 0;  // current XOR window; (0, 0) until a '11'
  uint8_t trailing_ = 0;
  bool window_opened_ = false;  // a '11' field was read (for Resume)
  Status status_;
};

// Decodes a whole chunk into *out (replacing its contents). On error *out
// holds the samples before the corrupt one.
Status DecodeXorChunk(std::string_view bytes,
                      std::vector<std::pair<int64_t, double>>* out);

}  // namespace promewma::codec

#endif  // PROMEWMA_CODEC_XOR_CHUNK_H_
