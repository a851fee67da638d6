#include "codec/snappy_block.h"

#include <snappy.h>

#include <algorithm>

#include "common/protowire.h"
#include "common/thread_role.h"

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

size_t MaxSnappyBlockSize(size_t raw_size) {
  return snappy::MaxCompressedLength(raw_size);
}

size_t CompressSnappyBlockInto(std::string_view raw, char* out) {
  size_t size = 0;
  snappy::RawCompress(raw.data(), raw.size(), out, &size);
  return size;
}

void AppendSnappyPreamble(size_t total_raw_bytes, std::string* out) {
  protowire::AppendVarint(out, total_raw_bytes);
}

// Why runs compressed apart make one valid block: a snappy block is its
// uncompressed length (varint) followed by literal and copy elements, and a
// copy only refers back into output already produced. A run compressed on
// its own refers only into its own output, so the elements of one run
// followed by those of the next, under one preamble with the total length,
// decode to the concatenation. And snappy itself compresses its input in
// independent 64 KiB fragments (snappy::kBlockSize; the hash table is
// reset for each and no copy reaches into an earlier fragment, see
// Compress in snappy.cc): runs cut on fragment boundaries are compressed
// exactly as one pass would compress them.
void AppendSnappyElements(std::string_view raw, std::string* out,
                          std::string* scratch) {
  if (raw.empty()) return;
  static_assert(kSnappyFragmentBytes == snappy::kBlockSize);
  // Compressed in place at the end of *out, the run's preamble had to be
  // cut out by moving everything after it; and the room snappy asks for
  // (~1.17x the input) was zero-filled at every run.
  // Snappy compresses each 64 KiB fragment on its own, so compressing
  // them one at a time gives the same elements; between them a background
  // thread lets a waiting request's thread have its core.
  const size_t room = snappy::MaxCompressedLength(kSnappyFragmentBytes);
  if (scratch->size() < room) scratch->resize(room);
  for (size_t at = 0; at < raw.size(); at += kSnappyFragmentBytes) {
    YieldIfDue();
    const size_t n = std::min(kSnappyFragmentBytes, raw.size() - at);
    size_t size = 0;
    snappy::RawCompress(raw.data() + at, n, scratch->data(), &size);
    // Without this run's own preamble: the block has one, for the total.
    const size_t preamble = protowire::VarintSize(n);
    out->append(scratch->data() + preamble, size - preamble);
  }
}

}  // namespace promewma::codec
