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
  b.usable = state.count >= params.min_samples &&
             EstimatorSpread(params, state, &b.stddev);
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

bool EstimatorSpread(const EstimatorParams& params, const EstimatorState& state,
                     double* spread) {
  if (state.count < 2) return false;
  double denominator = 1 - state.weight_sq;
  if (!(denominator > 0)) return false;
  const double mean = state.spread / denominator;
  *spread = params.spread == SpreadKind::kErrorMeanAbs ? mean : std::sqrt(mean);
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
    state->count += 1;
  }
  state->last_sample_ms = timestamp_ms;

  const OutputMask wanted = params.outputs;
  if (wanted & OutputBit(Output::kEwma)) {
    Emit(out, Output::kEwma, Back(state->mean));
  }
  double stddev;
  if ((wanted & OutputBit(Output::kStddev)) &&
      EstimatorSpread(params, *state, &stddev)) {
    Emit(out, Output::kStddev, stddev);
  }
  // After a restart there is no prior state to draw a band from.
  Basis band = params.threshold_basis == ThresholdBasis::kPrior
                   ? (restart ? Basis{0, 0, false} : prior)
                   : BasisOf(params, *state);
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
