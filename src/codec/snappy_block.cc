#include "codec/snappy_block.h"

#include <snappy-sinksource.h>
#include <snappy.h>

#include <future>
#include <memory>
#include <system_error>

#include "common/protowire.h"

namespace promewma::codec {
namespace {

// The snappy framing format opens with a stream-identifier chunk:
// type 0xff, length 6 (little-endian 24 bit), "sNaPpY".
constexpr std::string_view kFramedMagic("\xff\x06\x00\x00sNaPpY", 10);

// Bytes [begin, begin + n) of the concatenation of `pieces`, as a snappy
// Source. snappy compresses a fragment straight from the region Peek
// returns when it holds the whole fragment, and copies the fragment into
// its scratch buffer when it spans pieces, so pieces cost no concatenation.
class PiecesSource : public snappy::Source {
 public:
  // REQUIRES: begin + n <= the pieces' total; `pieces` outlives the source.
  PiecesSource(const std::vector<std::string_view>& pieces, size_t begin,
               size_t n)
      : pieces_(pieces), offset_(begin), left_(n) {
    SkipConsumedPieces();
  }

  size_t Available() const override { return left_; }

  // The rest of the current piece; it may run past Available(), which the
  // Source contract allows (snappy reads only what it asked for).
  const char* Peek(size_t* len) override {
    if (left_ == 0) {
      *len = 0;
      return nullptr;
    }
    *len = pieces_[index_].size() - offset_;
    return pieces_[index_].data() + offset_;
  }

  void Skip(size_t n) override {
    left_ -= n;
    offset_ += n;
    SkipConsumedPieces();
  }

 private:
  // Moves past pieces read to the end (and empty ones), so that Peek never
  // returns an empty region while bytes are left.
  void SkipConsumedPieces() {
    while (index_ < pieces_.size() && offset_ >= pieces_[index_].size()) {
      offset_ -= pieces_[index_].size();
      ++index_;
    }
  }

  const std::vector<std::string_view>& pieces_;
  size_t index_ = 0;  // current piece
  size_t offset_;     // read position in the current piece
  size_t left_;       // bytes still to read
};

// Writes a complete snappy block (its own length varint first) for bytes
// [begin, begin + n) of the pieces to `dst`; returns its size.
// REQUIRES: dst has room for snappy::MaxCompressedLength(n) bytes.
size_t CompressRange(const std::vector<std::string_view>& pieces, size_t begin,
                     size_t n, char* dst) {
  PiecesSource source(pieces, begin, n);
  snappy::UncheckedByteArraySink sink(dst);
  return snappy::Compress(&source, &sink);
}

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

void AppendSnappyElements(std::string_view raw, std::string* out,
                          std::string* scratch) {
  if (raw.empty()) return;
  static_assert(kSnappyFragmentBytes == snappy::kBlockSize);
  // Compressed in place at the end of *out, the run's preamble had to be
  // cut out by moving everything after it; and the room snappy asks for
  // (~1.17x the input) was zero-filled at every run.
  const size_t room = snappy::MaxCompressedLength(raw.size());
  if (scratch->size() < room) scratch->resize(room);
  size_t size = 0;
  snappy::RawCompress(raw.data(), raw.size(), scratch->data(), &size);
  // Without this run's own preamble: the block has one, for the total.
  const size_t preamble = protowire::VarintSize(raw.size());
  out->append(scratch->data() + preamble, size - preamble);
}

// Why two halves compressed apart make one valid block: a snappy block is
// its uncompressed length (varint) followed by literal and copy elements,
// and a copy only refers back into output already produced. A half
// compressed on its own refers only into its own output, so the elements
// of the first half followed by those of the second, under one preamble
// with the total length, decode to the concatenation.
//
// Why the split falls on a multiple of 64 KiB: snappy itself compresses
// its input in independent 64 KiB fragments (snappy::kBlockSize; the hash
// table is reset for each and no copy reaches into an earlier fragment,
// see Compress in snappy.cc). Cut on a fragment boundary, the two halves
// are compressed exactly as one pass would compress them, so the result is
// the same bytes, at the same ratio, as CompressSnappyBlock's.
std::string CompressSnappyBlockPieces(
    const std::vector<std::string_view>& pieces) {
  size_t total = 0;
  for (std::string_view p : pieces) total += p.size();
  const size_t split = total < kParallelSnappyMinBytes
                           ? total
                           : (total / 2) & ~(snappy::kBlockSize - 1);

  // Each half goes to a buffer of its own, left uninitialized: snappy asks
  // for room well beyond what it writes (MaxCompressedLength, ~1.17x the
  // input), and zero-filling that cost more than copying the result once.
  struct Compressed {
    std::unique_ptr<char[]> bytes;  // a complete block, own preamble first
    size_t size;
  };
  auto compress = [&pieces](size_t begin, size_t n) {
    Compressed c{
        std::unique_ptr<char[]>(new char[snappy::MaxCompressedLength(n)]), 0};
    c.size = CompressRange(pieces, begin, n, c.bytes.get());
    return c;
  };
  // The future's destructor waits for the helper, also while an exception
  // unwinds the stack it reads from.
  std::future<Compressed> second;
  if (split < total) {
    try {
      second = std::async(std::launch::async, compress, split, total - split);
    } catch (const std::system_error&) {
      // No thread to be had (resource limits): this one does both halves.
    }
  }
  const Compressed head = compress(0, split);
  const Compressed tail = split == total   ? Compressed{nullptr, 0}
                          : second.valid() ? second.get()
                                           : compress(split, total - split);

  // One preamble with the total length, then each half's elements without
  // its own preamble.
  const size_t head_preamble = protowire::VarintSize(split);
  const size_t tail_preamble =
      split == total ? 0 : protowire::VarintSize(total - split);
  std::string out;
  out.reserve(protowire::VarintSize(total) + head.size + tail.size);
  protowire::AppendVarint(&out, total);
  out.append(head.bytes.get() + head_preamble, head.size - head_preamble);
  if (tail.size > 0) {
    out.append(tail.bytes.get() + tail_preamble, tail.size - tail_preamble);
  }
  return out;
}

}  // namespace promewma::codec
