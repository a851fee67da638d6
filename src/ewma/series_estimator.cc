#include "ewma/series_estimator.h"

#include <cfloat>
#include <cmath>
#include <cstring>

namespace promewma::ewma {
namespace {

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

// Mean and stddev a band is drawn from: the state before or after x_t.
struct Basis {
  double mean;
  double stddev;
  bool usable;  // n >= min_samples and stddev defined
};

Basis BasisOf(const EstimatorParams& params, const EstimatorState& state,
              int64_t timestamp_ms) {
  Basis b{state.mean, 0, false};
  b.usable = state.count >= params.min_samples &&
             EstimatorSpread(params, state, timestamp_ms, &b.stddev);
  return b;
}

constexpr int64_t kDayMs = 24 * 3600 * 1000;

void Emit(DerivedValues* out, Output o, double v) {
  out->present |= OutputBit(o);
  out->value[static_cast<int>(o)] = v;
}

// |x - m| / (k * sd), with 0/0 = 0 and x/0 = +Inf.
double AnomalyScore(double x, const Basis& basis, double k) {
  double distance = std::fabs(x - basis.mean);
  double width = k * basis.stddev;
  if (width == 0) {
    return distance == 0 ? 0 : std::numeric_limits<double>::infinity();
  }
  return distance / width;
}

}  // namespace

void SeasonProfile::Set(int i, SeasonSlot value) {
  if (slots_ == nullptr) {
    if (value == kEmptySeasonSlot) return;
    slots_ = std::make_unique<Slots>();
    slots_->fill(kEmptySeasonSlot);
  }
  (*slots_)[i] = value;
}

bool operator==(const SeasonProfile& a, const SeasonProfile& b) {
  for (int i = 0; i < kMaxSeasonSlots; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

bool IsStaleMarker(double value) { return Bits(value) == kStaleNaNBits; }

double StaleMarker() {
  double v;
  std::memcpy(&v, &kStaleNaNBits, sizeof(v));
  return v;
}

SeasonSlot ToSeasonSlot(double v) {
  // A double beyond float's range becomes +Inf explicitly: the conversion
  // itself is undefined for it.
  const float f = v > FLT_MAX ? INFINITY : static_cast<float>(v);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  bits += 0x7FFF + ((bits >> 16) & 1);  // round to nearest, ties to even
  return static_cast<SeasonSlot>(bits >> 16);
}

double FromSeasonSlot(SeasonSlot slot) {
  const uint32_t bits = static_cast<uint32_t>(slot) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

int SeasonSlotOf(int64_t timestamp_ms, int slots) {
  int64_t ms_of_day = timestamp_ms % kDayMs;
  if (ms_of_day < 0) ms_of_day += kDayMs;
  return static_cast<int>(ms_of_day * slots / kDayMs);
}

bool EstimatorSpread(const EstimatorParams& params, const EstimatorState& state,
                     int64_t timestamp_ms, double* spread) {
  if (state.count < 2) return false;
  double denominator = 1 - state.weight_sq;
  if (!(denominator > 0)) return false;
  const bool mean_abs = params.spread == SpreadKind::kErrorMeanAbs;
  const double mean = state.spread / denominator;
  *spread = mean_abs ? mean : std::sqrt(mean);
  if (params.season_slots > 0) {
    // Unsigned: the difference of two int64 timestamps can exceed int64.
    const uint64_t history_ms = static_cast<uint64_t>(timestamp_ms) -
                                static_cast<uint64_t>(state.season_start_ms);
    const SeasonSlot slot =
        state.season[SeasonSlotOf(timestamp_ms, params.season_slots)];
    if (timestamp_ms >= state.season_start_ms &&
        history_ms >= static_cast<uint64_t>(params.season_min_history_ms) &&
        slot != kEmptySeasonSlot) {
      const double v = FromSeasonSlot(slot);
      const double slot_spread = mean_abs ? v : std::sqrt(v);
      if (slot_spread > *spread) *spread = slot_spread;
    }
  }
  return true;
}

SampleOutcome UpdateEstimator(const EstimatorParams& params,
                              EstimatorState* state, int64_t timestamp_ms,
                              double value, DerivedValues* out) {
  out->present = 0;
  out->stale = false;
  const bool stale = IsStaleMarker(value);
  const bool use_log1p = params.transform == Transform::kLog1p;
  if (!stale && (!std::isfinite(value) || (use_log1p && !(value > -1)))) {
    return SampleOutcome::kNotFinite;
  }
  if (timestamp_ms < state->last_timestamp_ms)
    return SampleOutcome::kOutOfOrder;
  if (timestamp_ms == state->last_timestamp_ms) {
    return Bits(value) == state->last_value_bits ? SampleOutcome::kDuplicate
                                                 : SampleOutcome::kConflict;
  }
  state->last_timestamp_ms = timestamp_ms;
  state->last_value_bits = Bits(value);

  if (stale) {
    out->present = params.outputs;
    out->stale = true;
    for (double& v : out->value) v = StaleMarker();
    return SampleOutcome::kStale;
  }

  // What the estimator sees; outputs in input units go through Back().
  const double y = use_log1p ? std::log1p(value) : value;
  auto Back = [use_log1p](double v) { return use_log1p ? std::expm1(v) : v; };
  const Basis prior = BasisOf(params, *state, timestamp_ms);
  // Timestamps only move forward, so the gap is never negative; but it can
  // exceed int64 (a sample at -2^62 ms, the next at 2^62), hence unsigned.
  const uint64_t gap_ms = static_cast<uint64_t>(timestamp_ms) -
                          static_cast<uint64_t>(state->last_sample_ms);
  const bool restart =
      state->count == 0 ||
      (params.reset_after_ms > 0 &&
       gap_ms > static_cast<uint64_t>(params.reset_after_ms));
  if (state->count == 0) state->season_start_ms = timestamp_ms;
  if (restart) {
    state->mean = y;
    state->spread = 0;
    state->weight_sq = 1;
    state->count = 1;
  } else {
    double alpha = params.alpha;
    if (params.half_life_ms > 0) {
      alpha = 1 - std::exp2(-static_cast<double>(gap_ms) /
                            static_cast<double>(params.half_life_ms));
    }
    const double d = y - state->mean;  // the one-step error
    const double keep = 1 - alpha;
    state->mean += alpha * d;
    if (params.spread == SpreadKind::kEwmStd) {
      state->spread = keep * (state->spread + alpha * d * d);
      state->weight_sq = keep * keep * state->weight_sq + alpha * alpha;
    } else {
      const double beta =
          params.spread_alpha > 0 ? params.spread_alpha : alpha;
      const double f =
          params.spread == SpreadKind::kErrorRms ? d * d : std::fabs(d);
      state->spread = (1 - beta) * state->spread + beta * f;
      state->weight_sq *= 1 - beta;
    }
    if (params.season_slots > 0) {
      const double f = params.spread == SpreadKind::kErrorMeanAbs
                           ? std::fabs(d)
                           : d * d;
      const int i = SeasonSlotOf(timestamp_ms, params.season_slots);
      const SeasonSlot slot = state->season[i];
      double v = f;
      if (slot != kEmptySeasonSlot) {
        const double old = FromSeasonSlot(slot);
        v = old + params.season_alpha * (f - old);
      }
      state->season.Set(i, ToSeasonSlot(v));
    }
    state->count += 1;
  }
  state->last_sample_ms = timestamp_ms;

  const OutputMask wanted = params.outputs;
  if (wanted & OutputBit(Output::kEwma)) {
    Emit(out, Output::kEwma, Back(state->mean));
  }
  double stddev;
  if ((wanted & OutputBit(Output::kStddev)) &&
      EstimatorSpread(params, *state, timestamp_ms, &stddev)) {
    Emit(out, Output::kStddev, stddev);
  }
  // After a restart there is no prior state to draw a band from.
  Basis band = params.threshold_basis == ThresholdBasis::kPrior
                   ? (restart ? Basis{0, 0, false} : prior)
                   : BasisOf(params, *state, timestamp_ms);
  if (band.usable) {
    if (wanted & OutputBit(Output::kUpperThreshold))
      Emit(out, Output::kUpperThreshold,
           Back(band.mean + params.k * band.stddev));
    if (wanted & OutputBit(Output::kLowerThreshold))
      Emit(out, Output::kLowerThreshold,
           Back(band.mean - params.k * band.stddev));
    if (wanted & OutputBit(Output::kAnomalyScore))
      Emit(out, Output::kAnomalyScore, AnomalyScore(y, band, params.k));
  }
  return SampleOutcome::kApplied;
}

}  // namespace promewma::ewma
