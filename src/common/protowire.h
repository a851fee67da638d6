// Protobuf wire-format primitives (varints, tags, little-endian fixed64)
// used by the hand-written zero-copy decoders and by the canonical label
// encoding. See https://protobuf.dev/programming-guides/encoding/ for the
// format; everything here is header-only because it sits on the hot path.

#ifndef PROMEWMA_COMMON_PROTOWIRE_H_
#define PROMEWMA_COMMON_PROTOWIRE_H_

#include <cstdint>
#include <cstring>
#include <string>

namespace promewma::protowire {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

constexpr uint32_t MakeTag(uint32_t field, WireType type) {
  return (field << 3) | type;
}

// Reads a varint at *pos (< end). On success advances *pos and returns true.
// Fails on truncation or on more than 10 bytes. Like libprotobuf, bits past
// the 64th in a 10-byte varint are dropped, not refused.
inline bool ReadVarint(const char** pos, const char* end, uint64_t* value) {
  const auto* p = reinterpret_cast<const uint8_t*>(*pos);
  const auto* e = reinterpret_cast<const uint8_t*>(end);
  if (p < e && *p < 0x80) {  // one-byte fast path: tags and short lengths
    *value = *p;
    *pos += 1;
    return true;
  }
  uint64_t result = 0;
  for (int shift = 0; shift < 70 && p < e; shift += 7) {
    uint8_t byte = *p++;
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (byte < 0x80) {
      *value = result;
      *pos = reinterpret_cast<const char*>(p);
      return true;
    }
  }
  return false;
}

inline int VarintSize(uint64_t value) {
  int n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

inline void AppendVarint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

inline uint64_t LoadFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));  // wire format is little-endian, as is x86
  return v;
}

}  // namespace promewma::protowire

#endif  // PROMEWMA_COMMON_PROTOWIRE_H_
