#include "store/record_fields.h"

namespace promewma::store {

void PutBytesField(std::string* out, std::string_view bytes) {
  PutFixed<uint32_t>(out, static_cast<uint32_t>(bytes.size()));
  out->append(bytes);
}

void PutStateFields(std::string* out, const ewma::EstimatorState& state,
                    int season_slots) {
  PutFixed(out, state.mean);
  PutFixed(out, state.spread);
  PutFixed(out, state.weight_sq);
  PutFixed(out, state.count);
  PutFixed(out, state.last_sample_ms);
  PutFixed(out, state.last_timestamp_ms);
  PutFixed(out, state.last_value_bits);
  PutFixed(out, state.season_start_ms);
  PutFixed<uint8_t>(out, static_cast<uint8_t>(season_slots));
  for (int i = 0; i < season_slots; ++i) PutFixed(out, state.season[i]);
}

void PutParamsFields(std::string* out, const ewma::EstimatorParams& params) {
  PutFixed(out, params.alpha);
  PutFixed(out, params.half_life_ms);
  PutFixed(out, params.k);
  PutFixed(out, params.min_samples);
  PutFixed(out, params.reset_after_ms);
  PutFixed<uint8_t>(out, static_cast<uint8_t>(params.threshold_basis));
  PutFixed<uint8_t>(out, params.outputs);
  PutFixed<uint8_t>(out, static_cast<uint8_t>(params.spread));
  PutFixed(out, params.spread_alpha);
  PutFixed<uint8_t>(out, static_cast<uint8_t>(params.transform));
  PutFixed<uint8_t>(out, static_cast<uint8_t>(params.season_slots));
  PutFixed(out, params.season_alpha);
  PutFixed(out, params.season_min_history_ms);
}

std::string_view FieldReader::GetBytes() {
  const uint32_t n = Get<uint32_t>();
  if (!ok_ || in_.size() < n) {
    ok_ = false;
    return {};
  }
  std::string_view v = in_.substr(0, n);
  in_.remove_prefix(n);
  return v;
}

void FieldReader::GetState(ewma::EstimatorState* state, int version) {
  state->mean = Get<double>();
  state->spread = Get<double>();
  state->weight_sq = Get<double>();
  state->count = Get<uint64_t>();
  state->last_sample_ms = Get<int64_t>();
  state->last_timestamp_ms = Get<int64_t>();
  state->last_value_bits = Get<uint64_t>();
  state->season = ewma::EmptySeasonProfile();
  state->season_start_ms = 0;
  if (version < 3) return;
  state->season_start_ms = Get<int64_t>();
  const uint8_t n = Get<uint8_t>();
  if (n > ewma::kMaxSeasonSlots) {
    ok_ = false;
    return;
  }
  for (int i = 0; i < n; ++i) state->season.Set(i, Get<uint16_t>());
}

void FieldReader::GetParams(ewma::EstimatorParams* params, int version) {
  params->alpha = Get<double>();
  params->half_life_ms = Get<int64_t>();
  params->k = Get<double>();
  params->min_samples = Get<uint32_t>();
  params->reset_after_ms = Get<int64_t>();
  const uint8_t basis = Get<uint8_t>();
  if (basis > static_cast<uint8_t>(ewma::ThresholdBasis::kPosterior)) {
    ok_ = false;
  }
  params->threshold_basis = static_cast<ewma::ThresholdBasis>(basis);
  params->outputs = Get<uint8_t>();
  if (params->outputs >> ewma::kOutputCount) ok_ = false;
  // What the writers of older versions ran with, which need not be
  // today's defaults.
  params->season_slots = 0;
  params->season_alpha = 0;
  params->season_min_history_ms = 0;
  if (version < 2) {
    params->spread = ewma::SpreadKind::kEwmStd;
    params->spread_alpha = 0;
    params->transform = ewma::Transform::kNone;
    return;
  }
  const uint8_t spread = Get<uint8_t>();
  if (spread > static_cast<uint8_t>(ewma::SpreadKind::kErrorMeanAbs)) {
    ok_ = false;
  }
  params->spread = static_cast<ewma::SpreadKind>(spread);
  params->spread_alpha = Get<double>();
  const uint8_t transform = Get<uint8_t>();
  if (transform > static_cast<uint8_t>(ewma::Transform::kLog1p)) ok_ = false;
  params->transform = static_cast<ewma::Transform>(transform);
  if (version < 3) return;
  const uint8_t slots = Get<uint8_t>();
  if (slots > ewma::kMaxSeasonSlots) ok_ = false;
  params->season_slots = slots;
  params->season_alpha = Get<double>();
  params->season_min_history_ms = Get<int64_t>();
}

void FieldReader::Skip(size_t n) {
  if (!ok_ || in_.size() < n) {
    ok_ = false;
    return;
  }
  in_.remove_prefix(n);
}

void FieldReader::SkipState(int version) {
  // mean, spread, weight_sq, count, last_sample_ms, last_timestamp_ms,
  // last_value_bits
  Skip(7 * 8);
  if (version < 3) return;
  Skip(8);  // season_start_ms
  const uint8_t n = Get<uint8_t>();
  if (n > ewma::kMaxSeasonSlots) {
    ok_ = false;
    return;
  }
  Skip(2 * size_t{n});
}

}  // namespace promewma::store
