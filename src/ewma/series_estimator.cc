#include "ewma/series_estimator.h"

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

Basis BasisOf(const EstimatorParams& params, const EstimatorState& state) {
  Basis b{state.mean, 0, false};
  b.usable =
      state.count >= params.min_samples && EstimatorStddev(state, &b.stddev);
  return b;
}

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

bool IsStaleMarker(double value) { return Bits(value) == kStaleNaNBits; }

double StaleMarker() {
  double v;
  std::memcpy(&v, &kStaleNaNBits, sizeof(v));
  return v;
}

bool EstimatorStddev(const EstimatorState& state, double* stddev) {
  if (state.count < 2) return false;
  double denominator = 1 - state.weight_sq;
  if (!(denominator > 0)) return false;
  *stddev = std::sqrt(state.spread / denominator);
  return true;
}

SampleOutcome UpdateEstimator(const EstimatorParams& params,
                              EstimatorState* state, int64_t timestamp_ms,
                              double value, DerivedValues* out) {
  out->present = 0;
  out->stale = false;
  const bool stale = IsStaleMarker(value);
  if (!stale && !std::isfinite(value)) return SampleOutcome::kNotFinite;
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

  const Basis prior = BasisOf(params, *state);
  // Timestamps only move forward, so the gap is never negative; but it can
  // exceed int64 (a sample at -2^62 ms, the next at 2^62), hence unsigned.
  const uint64_t gap_ms = static_cast<uint64_t>(timestamp_ms) -
                          static_cast<uint64_t>(state->last_sample_ms);
  const bool restart =
      state->count == 0 ||
      (params.reset_after_ms > 0 &&
       gap_ms > static_cast<uint64_t>(params.reset_after_ms));
  if (restart) {
    state->mean = value;
    state->spread = 0;
    state->weight_sq = 1;
    state->count = 1;
  } else {
    double alpha = params.alpha;
    if (params.half_life_ms > 0) {
      alpha = 1 - std::exp2(-static_cast<double>(gap_ms) /
                            static_cast<double>(params.half_life_ms));
    }
    const double d = value - state->mean;
    const double keep = 1 - alpha;
    state->mean += alpha * d;
    state->spread = keep * (state->spread + alpha * d * d);
    state->weight_sq = keep * keep * state->weight_sq + alpha * alpha;
    state->count += 1;
  }
  state->last_sample_ms = timestamp_ms;

  const OutputMask wanted = params.outputs;
  if (wanted & OutputBit(Output::kEwma)) Emit(out, Output::kEwma, state->mean);
  double stddev;
  if ((wanted & OutputBit(Output::kStddev)) &&
      EstimatorStddev(*state, &stddev)) {
    Emit(out, Output::kStddev, stddev);
  }
  // After a restart there is no prior state to draw a band from.
  Basis band = params.threshold_basis == ThresholdBasis::kPrior
                   ? (restart ? Basis{0, 0, false} : prior)
                   : BasisOf(params, *state);
  if (band.usable) {
    if (wanted & OutputBit(Output::kUpperThreshold))
      Emit(out, Output::kUpperThreshold, band.mean + params.k * band.stddev);
    if (wanted & OutputBit(Output::kLowerThreshold))
      Emit(out, Output::kLowerThreshold, band.mean - params.k * band.stddev);
    if (wanted & OutputBit(Output::kAnomalyScore))
      Emit(out, Output::kAnomalyScore, AnomalyScore(value, band, params.k));
  }
  return SampleOutcome::kApplied;
}

}  // namespace promewma::ewma
