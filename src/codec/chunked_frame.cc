#include "codec/chunked_frame.h"

#include <cstdio>

#include "codec/crc32c.h"
#include "common/coding.h"
#include "common/protowire.h"

namespace promewma::codec {
namespace {

std::string Hex32(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

}  // namespace

void AppendChunkedFrame(std::string* out, std::string_view message) {
  out->reserve(out->size() + kMaxFrameHeaderBytes + message.size());
  protowire::AppendVarint(out, message.size());
  PutBigEndian32(out, Crc32c(message));
  out->append(message.data(), message.size());
}

ChunkedFrameReader::ChunkedFrameReader(std::string_view data,
                                       size_t max_frame_bytes)
    : data_(data), max_frame_bytes_(max_frame_bytes) {}

Result<bool> ChunkedFrameReader::Next(std::string_view* message) {
  if (!error_.ok()) return error_;
  if (offset_ == data_.size()) return false;

  // Built only on the error paths: Next() allocates nothing per frame.
  auto where = [this] {
    return "chunked frame at byte " + std::to_string(offset_);
  };
  const char* const end = data_.data() + data_.size();
  const char* pos = data_.data() + offset_;
  uint64_t length;
  if (!protowire::ReadVarint(&pos, end, &length)) {
    // ReadVarint fails both on running out of bytes and on an 11th byte.
    const bool truncated = end - pos < 10;
    error_ = Status::Corruption(
        where() + (truncated ? ": truncated in the length varint"
                             : ": malformed length varint (over 10 bytes)"));
    return error_;
  }
  if (length > max_frame_bytes_) {
    error_ = Status::TooLarge(
        where() + ": message of " + std::to_string(length) +
        " bytes is over the limit of " + std::to_string(max_frame_bytes_));
    return error_;
  }
  const size_t remaining = static_cast<size_t>(end - pos);
  if (remaining < 4) {
    error_ = Status::Corruption(where() + ": truncated in the checksum (" +
                                std::to_string(remaining) + " of 4 bytes)");
    return error_;
  }
  const uint32_t stored = DecodeBigEndian32(pos);
  pos += 4;
  if (remaining - 4 < length) {
    error_ = Status::Corruption(where() + ": truncated message: length says " +
                                std::to_string(length) + " bytes, " +
                                std::to_string(remaining - 4) + " remain");
    return error_;
  }
  const std::string_view body(pos, static_cast<size_t>(length));
  const uint32_t computed = Crc32c(body);
  if (computed != stored) {
    error_ = Status::Corruption(where() + ": checksum mismatch (frame says " +
                                Hex32(stored) + ", message has " +
                                Hex32(computed) + ")");
    return error_;
  }
  *message = body;
  offset_ = static_cast<size_t>(pos + length - data_.data());
  return true;
}

}  // namespace promewma::codec
