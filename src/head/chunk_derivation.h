// ChunkDerivation: how the outputs of a raw chunk (NAME:ewma, thresholds,
// ...) are computed again from its samples instead of being stored.
//
// The raw chunk holds every sample that changed its series' state (applied
// samples and stale markers; the ones not stored changed nothing), so
// replaying it through the estimator from the state before its first sample,
// with the parameters the series ran with, gives back exactly the outputs
// emitted when it was received: the values read back are bit for bit those
// that were written back and shown as latest values.
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_HEAD_CHUNK_DERIVATION_H_
#define PROMEWMA_HEAD_CHUNK_DERIVATION_H_

#include <string_view>

#include "codec/xor_chunk.h"
#include "ewma/estimator_params.h"
#include "ewma/series_estimator.h"
#include "promewma/status.h"

namespace promewma::head {

struct ChunkDerivation {
  ewma::EstimatorParams params;
  ewma::EstimatorState start;  // the series' state before the first sample
};

// Replaces *out with output `o` of the raw chunk `raw`, derived as
// `derivation` describes. *out is left without samples when the chunk emits
// none of `o` (an output the parameters do not configure, or thresholds
// before min_samples). Corruption when the raw chunk does not decode or does
// not replay (its samples are not in order).
Status DeriveOutputChunk(const ChunkDerivation& derivation,
                         std::string_view raw, ewma::Output o,
                         codec::XorChunkAppender* out);

}  // namespace promewma::head

#endif  // PROMEWMA_HEAD_CHUNK_DERIVATION_H_
