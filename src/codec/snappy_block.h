// Snappy block format: decompression with the size limit checked first, and
// compression, whole or run by run.
//
// Remote write 1.0 bodies are snappy *block* format (no framing). The block
// starts with the uncompressed length as a varint, so the limit can be
// enforced before a single byte is decompressed: a small hostile body cannot
// make us allocate gigabytes.
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_CODEC_SNAPPY_BLOCK_H_
#define PROMEWMA_CODEC_SNAPPY_BLOCK_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "promewma/status.h"

namespace promewma::codec {

// Decompresses `compressed` into *out (replacing its contents).
// Returns TooLarge when the declared length exceeds `max_decoded_bytes`,
// InvalidArgument for framed snappy or corrupt input. *out is unspecified
// on error.
Status DecompressSnappyBlock(std::string_view compressed,
                             size_t max_decoded_bytes, std::string* out);

// Compresses `raw` in snappy block format (what remote-write senders do).
std::string CompressSnappyBlock(std::string_view raw);

// The most bytes CompressSnappyBlock can produce for `raw_size` bytes.
size_t MaxSnappyBlockSize(size_t raw_size);
// Compresses `raw` into `out`, which has room for MaxSnappyBlockSize(raw.size())
// bytes; returns the compressed size. For callers that reuse one buffer.
size_t CompressSnappyBlockInto(std::string_view raw, char* out);

// A snappy block written piece by piece, for a body streamed without
// holding it whole: first the preamble with the total uncompressed length,
// then the elements of each run of input in order. Runs of any length
// make a valid block; runs that are multiples of kSnappyFragmentBytes (all
// but the last) give the same bytes as one pass. `scratch` is where a run
// is compressed before its elements are appended: kept from run to run,
// it is allocated and filled once.
void AppendSnappyPreamble(size_t total_raw_bytes, std::string* out);
void AppendSnappyElements(std::string_view raw, std::string* out,
                          std::string* scratch);
inline constexpr size_t kSnappyFragmentBytes = 64 << 10;

}  // namespace promewma::codec

#endif  // PROMEWMA_CODEC_SNAPPY_BLOCK_H_
