#include "head/chunk_derivation.h"

#include <limits>
#include <string>

namespace promewma::head {

Status DeriveOutputChunk(const ChunkDerivation& derivation,
                         std::string_view raw, ewma::Output o,
                         codec::XorChunkAppender* out) {
  const ewma::OutputMask wanted = ewma::OutputBit(o);
  if (!(derivation.params.outputs & wanted)) {
    *out = codec::XorChunkAppender(0);
    return Status::Ok();
  }
  // An output chunk ends about as big as the raw one (its values use every
  // mantissa bit too): sized once, not grown by a handful of copies.
  *out = codec::XorChunkAppender(raw.size() + raw.size() / 4);
  ewma::EstimatorState state = derivation.start;
  // Every raw sample is newer than the state's: the ordering fields only
  // guard against older samples, which a raw chunk never holds.
  state.last_timestamp_ms = std::numeric_limits<int64_t>::min();
  codec::XorChunkIterator it(raw);
  ewma::DerivedValues values;
  while (it.Next()) {
    const ewma::SampleOutcome outcome = ewma::UpdateEstimator(
        derivation.params, &state, it.timestamp(), it.value(), &values);
    if (outcome != ewma::SampleOutcome::kApplied &&
        outcome != ewma::SampleOutcome::kStale) {
      return Status::Corruption("raw chunk does not replay at timestamp " +
                                std::to_string(it.timestamp()));
    }
    if (values.present & wanted) {
      out->Append(it.timestamp(), values.value[static_cast<int>(o)]);
    }
  }
  return it.status();
}

}  // namespace promewma::head
