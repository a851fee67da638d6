// The frame format of remote read's STREAMED_XOR_CHUNKS responses
// (Content-Type: application/x-streamed-protobuf;
// proto=prometheus.ChunkedReadResponse; no Content-Encoding: the frames are
// not snappy-compressed).
//
// Frame format
// ------------
// The response body is a sequence of frames, nothing before, between or
// after them:
//
//   frame   := length crc message
//   length  := uvarint(len(message))      1..10 bytes, LEB128 as in protobuf
//   crc     := CRC-32C(message)           4 bytes, big-endian (!)
//   message := len(message) bytes         one serialized ChunkedReadResponse
//
// This is Prometheus' storage/remote/chunked.go. The CRC covers the message
// only, not the length. Note the mixed byte orders: the varint is
// little-endian in spirit, the CRC is big-endian (Go's binary.BigEndian).
//
// Sizes: Prometheus' reader refuses a frame whose length exceeds its
// chunked_read_limit, default 5e7 bytes (50 MB, decimal: config
// DefaultChunkedReadLimit), before reading it. Its writer aims at
// --storage.remote.read-max-bytes-in-frame (default 1048576) and may
// overshoot by one chunk. promewma writes frames of about kTargetFrameBytes
// and reads with kDefaultMaxFrameBytes.
//
// Prometheus' writer never writes an empty frame (a zero-length Write is a
// no-op); AppendChunkedFrame writes what it is given, and the reader accepts
// an empty message (length 0, CRC 0).
//
// Thread-safety: AppendChunkedFrame is a pure function; a ChunkedFrameReader
// is used by one thread at a time.

#ifndef PROMEWMA_CODEC_CHUNKED_FRAME_H_
#define PROMEWMA_CODEC_CHUNKED_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "promewma/status.h"

namespace promewma::codec {

// Prometheus' DefaultChunkedReadLimit: what a Prometheus client accepts.
inline constexpr size_t kDefaultMaxFrameBytes = 50'000'000;
// Prometheus' default --storage.remote.read-max-bytes-in-frame: the size
// our writer aims each frame at. Big enough that the per-frame overhead
// (labels repeated, one CRC) is noise, small enough that the client's
// buffer stays small and the stream can be flushed often.
inline constexpr size_t kTargetFrameBytes = 1 << 20;

// Most bytes a frame header (length + crc) takes.
inline constexpr size_t kMaxFrameHeaderBytes = 10 + 4;

// Appends one frame holding `message` to *out.
void AppendChunkedFrame(std::string* out, std::string_view message);

// Reads the frames of a complete response body held in memory.
//
//   ChunkedFrameReader reader(body);
//   std::string_view message;
//   while (true) {
//     Result<bool> more = reader.Next(&message);
//     if (!more.ok()) return more.status();
//     if (!*more) break;
//     ... parse message ...
//   }
//
// Errors are sticky: after one, every Next() returns the same error.
class ChunkedFrameReader {
 public:
  // `data` must outlive the reader and every message it returns.
  explicit ChunkedFrameReader(std::string_view data,
                              size_t max_frame_bytes = kDefaultMaxFrameBytes);

  // On success returns true and points *message at the next frame's
  // message (inside `data`), or returns false at the clean end of the data.
  // Errors, each naming the byte offset of the frame within `data`:
  //   Corruption: a truncated frame (length, crc or message), a malformed
  //               length varint, or a CRC mismatch;
  //   TooLarge:   a length over max_frame_bytes (checked before anything
  //               else of the frame is looked at).
  Result<bool> Next(std::string_view* message);

  // Byte offset of the next frame (of the failing frame after an error).
  size_t offset() const { return offset_; }

 private:
  std::string_view data_;
  size_t max_frame_bytes_;
  size_t offset_ = 0;  // start of the next frame in data_
  Status error_;       // sticky; OK until the first error
};

}  // namespace promewma::codec

#endif  // PROMEWMA_CODEC_CHUNKED_FRAME_H_
