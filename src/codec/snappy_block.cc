#include "codec/snappy_block.h"

#include <snappy.h>

namespace promewma::codec {
namespace {

// The snappy framing format opens with a stream-identifier chunk:
// type 0xff, length 6 (little-endian 24 bit), "sNaPpY".
constexpr std::string_view kFramedMagic("\xff\x06\x00\x00sNaPpY", 10);

}  // namespace

Status DecompressSnappyBlock(std::string_view compressed,
                             size_t max_decoded_bytes, std::string* out) {
  if (compressed.substr(0, kFramedMagic.size()) == kFramedMagic) {
    return Status::InvalidArgument(
        "body is snappy framed (stream) format; remote write needs the "
        "snappy block format");
  }
  size_t declared = 0;
  if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(),
                                     &declared)) {
    return Status::InvalidArgument(
        "corrupt snappy body: cannot read the uncompressed length");
  }
  if (declared > max_decoded_bytes) {
    return Status::TooLarge(
        "decoded body would be " + std::to_string(declared) +
        " bytes, over the limit of " + std::to_string(max_decoded_bytes));
  }
  out->resize(declared);
  if (!snappy::RawUncompress(compressed.data(), compressed.size(),
                             out->data())) {
    return Status::InvalidArgument("corrupt snappy body");
  }
  return Status::Ok();
}

std::string CompressSnappyBlock(std::string_view raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

}  // namespace promewma::codec
