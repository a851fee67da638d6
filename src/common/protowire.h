// Protobuf wire-format primitives (varints, tags, little-endian fixed64)
// used by the hand-written zero-copy decoders and by the canonical label
// encoding. See https://protobuf.dev/programming-guides/encoding/ for the
// format; everything here is header-only because it sits on the hot path.

#ifndef PROMEWMA_COMMON_PROTOWIRE_H_
#define PROMEWMA_COMMON_PROTOWIRE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/coding.h"

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

// Writes a varint at `out`, which has room for VarintSize(value) bytes;
// returns the end of what it wrote. For encoders that size first.
inline char* WriteVarint(char* out, uint64_t value) {
  while (value >= 0x80) {
    *out++ = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<char>(value);
  return out;
}

// Protobuf's fixed64 is little-endian on the wire.
inline uint64_t LoadFixed64(const char* p) { return DecodeFixed64(p); }

// Cursor over one message's bytes, for the hand-written zero-copy decoders.
// It remembers where the outermost body starts, so that a decoder's error
// can name the byte offset. Every Read* returns false on truncation or a
// malformed value and leaves the cursor unspecified.
class MessageReader {
 public:
  MessageReader(const char* body_start, const char* pos, const char* end)
      : body_start_(body_start), pos_(pos), end_(end) {}
  explicit MessageReader(std::string_view body)
      : MessageReader(body.data(), body.data(), body.data() + body.size()) {}

  bool done() const { return pos_ >= end_; }
  const char* pos() const { return pos_; }
  // Bytes from the start of the outermost body to the cursor.
  size_t offset() const { return static_cast<size_t>(pos_ - body_start_); }

  // Field number 0 is invalid. Tags are 32 bit; like libprotobuf, the
  // higher bits of an over-long tag varint are dropped, not refused.
  bool ReadTag(uint32_t* tag) {
    uint64_t v;
    if (!ReadVarint(&v)) return false;
    *tag = static_cast<uint32_t>(v);
    return (*tag >> 3) != 0;
  }

  bool ReadVarint(uint64_t* v) { return protowire::ReadVarint(&pos_, end_, v); }

  bool ReadFixed64(uint64_t* v) {
    if (end_ - pos_ < 8) return false;
    *v = LoadFixed64(pos_);
    pos_ += 8;
    return true;
  }

  // A length-delimited field's bytes (string, bytes, nested message).
  bool ReadBytes(std::string_view* bytes) {
    uint64_t len;
    if (!ReadVarint(&len)) return false;
    if (len > static_cast<uint64_t>(end_ - pos_)) return false;
    *bytes = std::string_view(pos_, static_cast<size_t>(len));
    pos_ += len;
    return true;
  }

  // The same, as the [start, stop) of the field's bytes.
  bool ReadLengthDelimited(const char** start, const char** stop) {
    std::string_view bytes;
    if (!ReadBytes(&bytes)) return false;
    *start = bytes.data();
    *stop = bytes.data() + bytes.size();
    return true;
  }

  // A reader over a nested message, with offsets still from the body.
  MessageReader Sub(std::string_view bytes) const {
    return MessageReader(body_start_, bytes.data(),
                         bytes.data() + bytes.size());
  }

  // Skips the value of a field whose tag has just been read, groups
  // (deprecated, but legal in unknown fields) included.
  bool SkipField(uint32_t tag, int depth = 0) {
    uint64_t v;
    std::string_view bytes;
    switch (tag & 7) {
      case kVarint:
        return ReadVarint(&v);
      case kFixed64:
        return ReadFixed64(&v);
      case kLengthDelimited:
        return ReadBytes(&bytes);
      case kFixed32:
        if (end_ - pos_ < 4) return false;
        pos_ += 4;
        return true;
      case kStartGroup: {
        if (depth >= kMaxGroupDepth) return false;
        const uint32_t end_tag = (tag & ~7u) | kEndGroup;
        while (true) {
          uint32_t inner;
          if (done() || !ReadTag(&inner)) return false;
          if (inner == end_tag) return true;
          if (!SkipField(inner, depth + 1)) return false;
        }
      }
      default:  // a stray end-group, or wire types 6 and 7
        return false;
    }
  }

  // Nesting bound for groups, so a hostile body cannot recurse the stack
  // away.
  static constexpr int kMaxGroupDepth = 64;

 private:
  const char* body_start_;
  const char* pos_;
  const char* end_;
};

}  // namespace promewma::protowire

#endif  // PROMEWMA_COMMON_PROTOWIRE_H_
