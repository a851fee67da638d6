// libFuzzer target: a chunk derivation (the series' parameters and its
// state before the chunk, in the store's field encoding) followed by a raw
// XOR chunk: what Store::ReadChunks derives the outputs from.
//
// Invariants checked on every input:
//  - DeriveOutputChunk ends in OK or Corruption for every output, with no
//    undefined behaviour whatever the parameters and timestamps (UBSan);
//  - on OK, the output chunk decodes, holds at most the raw chunk's
//    samples, and only at timestamps the raw chunk has, in order.

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "codec/xor_chunk.h"
#include "head/chunk_derivation.h"
#include "store/record_fields.h"

namespace {

using promewma::StatusCode;
using promewma::ewma::kOutputCount;
using promewma::ewma::Output;
using promewma::head::ChunkDerivation;
using promewma::head::DeriveOutputChunk;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  promewma::store::FieldReader fields(
      std::string_view(reinterpret_cast<const char*>(data), size));
  ChunkDerivation derivation;
  fields.GetParams(&derivation.params, promewma::store::kRecordFieldsVersion);
  fields.GetState(&derivation.start, promewma::store::kRecordFieldsVersion);
  if (!fields.ok()) return 0;
  const std::string_view raw = fields.rest();

  std::set<int64_t> raw_times;
  size_t raw_samples = 0;
  promewma::codec::XorChunkIterator it(raw);
  while (it.Next()) {
    raw_times.insert(it.timestamp());
    ++raw_samples;
  }

  for (int o = 0; o < kOutputCount; ++o) {
    promewma::codec::XorChunkAppender out(0);
    const promewma::Status s =
        DeriveOutputChunk(derivation, raw, static_cast<Output>(o), &out);
    Check(s.ok() || s.code() == StatusCode::kCorruption);
    if (!s.ok()) continue;
    Check(out.num_samples() <= raw_samples);
    promewma::codec::XorChunkIterator derived(out.bytes());
    int64_t previous = 0;
    bool first = true;
    while (derived.Next()) {
      Check(raw_times.count(derived.timestamp()) == 1);
      Check(first || derived.timestamp() > previous);
      previous = derived.timestamp();
      first = false;
    }
    Check(derived.status().ok());
  }
  return 0;
}
