// Snappy block-format decompression with the size limit checked first.
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

}  // namespace promewma::codec

#endif  // PROMEWMA_CODEC_SNAPPY_BLOCK_H_
