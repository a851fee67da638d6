// Byte-order helpers for promewma's binary formats, in one place (as
// leveldb's util/coding.h).
//
// - Fixed-width little-endian integers: record headers and fields (request
//   log, checkpoint records, chunk values). Every target we build on is
//   little-endian, so these are plain copies the compiler turns into one
//   load or store; they say the byte order where it matters.
// - Big-endian integers: keys that must sort as numbers (RocksDB compares
//   bytes) and the chunked remote-read frame's CRC.
// - Ordered signed integers: big-endian with the sign bit flipped, so that
//   the bytes of negative and positive values sort in numeric order.
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_COMMON_CODING_H_
#define PROMEWMA_COMMON_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>

namespace promewma {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the fixed-width encodings assume a little-endian target");

// --- little-endian, fixed width ---------------------------------------------

template <typename T>
inline void EncodeFixed(char* out, T v) {
  std::memcpy(out, &v, sizeof(T));
}
template <typename T>
inline T DecodeFixed(const char* in) {
  T v;
  std::memcpy(&v, in, sizeof(T));
  return v;
}
template <typename T>
inline void PutFixed(std::string* out, T v) {
  char buf[sizeof(T)];
  EncodeFixed(buf, v);
  out->append(buf, sizeof(T));
}

inline void EncodeFixed32(char* out, uint32_t v) { EncodeFixed(out, v); }
inline void EncodeFixed64(char* out, uint64_t v) { EncodeFixed(out, v); }
inline uint32_t DecodeFixed32(const char* in) {
  return DecodeFixed<uint32_t>(in);
}
inline uint64_t DecodeFixed64(const char* in) {
  return DecodeFixed<uint64_t>(in);
}

// --- big-endian ---------------------------------------------------------------

inline void EncodeBigEndian32(char* out, uint32_t v) {
  EncodeFixed(out, __builtin_bswap32(v));
}
inline uint32_t DecodeBigEndian32(const char* in) {
  return __builtin_bswap32(DecodeFixed<uint32_t>(in));
}
inline void PutBigEndian32(std::string* out, uint32_t v) {
  PutFixed(out, __builtin_bswap32(v));
}
inline void PutBigEndian64(std::string* out, uint64_t v) {
  PutFixed(out, __builtin_bswap64(v));
}
inline uint64_t DecodeBigEndian64(const char* in) {
  return __builtin_bswap64(DecodeFixed<uint64_t>(in));
}

// --- ordered signed ---------------------------------------------------------

inline void PutOrderedInt64(std::string* out, int64_t v) {
  PutBigEndian64(out, static_cast<uint64_t>(v) ^ (uint64_t{1} << 63));
}
inline int64_t DecodeOrderedInt64(const char* in) {
  return static_cast<int64_t>(DecodeBigEndian64(in) ^ (uint64_t{1} << 63));
}

}  // namespace promewma

#endif  // PROMEWMA_COMMON_CODING_H_
