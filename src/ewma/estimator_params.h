// EstimatorParams: the resolved, validated parameters of one EWMA estimator
// (README "The estimator"). The config module turns the user's
// `ewma:` / `rules:` keys into these; the engine shares one instance between
// all series a rule matches, so the struct is immutable once built.

#ifndef PROMEWMA_EWMA_ESTIMATOR_PARAMS_H_
#define PROMEWMA_EWMA_ESTIMATOR_PARAMS_H_

#include <cstdint>
#include <string_view>

namespace promewma::ewma {

// The derived series an estimator can emit. The index is also the slot in
// DerivedValues::value.
enum class Output : uint8_t {
  kEwma = 0,
  kUpperThreshold = 1,
  kLowerThreshold = 2,
  kStddev = 3,
  kAnomalyScore = 4,
};
inline constexpr int kOutputCount = 5;

// Suffix appended to the input metric name, e.g. ":ewma".
std::string_view OutputSuffix(Output output);
// "ewma", "upper_threshold", ... as written in the config `outputs:` list.
std::string_view OutputName(Output output);

using OutputMask = uint8_t;
constexpr OutputMask OutputBit(Output o) {
  return static_cast<OutputMask>(1u << static_cast<uint8_t>(o));
}
inline constexpr OutputMask kDefaultOutputs =
    OutputBit(Output::kEwma) | OutputBit(Output::kUpperThreshold);

enum class ThresholdBasis : uint8_t {
  kPrior,      // thresholds use the state before x_t (default)
  kPosterior,  // thresholds use the state after x_t
};

// How the band's spread is estimated (README "The estimator").
enum class SpreadKind : uint8_t {
  // pandas' ewm(alpha).std() of the (transformed) inputs, with the mean's
  // smoothing (default).
  kEwmStd = 0,
  // Root of the EW mean of squared one-step errors y_t - m_{t-1}, smoothed
  // with spread_alpha.
  kErrorRms = 1,
  // EW mean of absolute one-step errors, smoothed with spread_alpha.
  kErrorMeanAbs = 2,
};

// The transform applied to each input before the estimator sees it; the
// ewma and thresholds are transformed back, so they stay in input units.
enum class Transform : uint8_t {
  kNone = 0,
  kLog1p = 1,  // y = log1p(x); outputs expm1(...); inputs <= -1 skipped
};

// Time-of-day slots a series can hold at most (15-minute slots). The
// profile lives inline in EstimatorState, so this bounds its size: 2 bytes
// a slot (README "The estimator", season).
inline constexpr int kMaxSeasonSlots = 96;

struct EstimatorParams {
  // Smoothing factor in (0, 1]. Used when half_life_ms == 0.
  // Default span 10 => alpha = 2 / 11.
  double alpha = 2.0 / 11.0;
  // When > 0 the estimator is time-aware:
  // alpha_t = 1 - 2^(-dt / half_life) with dt the gap to the previous sample.
  int64_t half_life_ms = 0;
  // Band width in spreads. 4.5: the defaults are the setting that scored
  // best on NAB's labelled CPU series (README "Choosing parameters").
  double k = 4.5;
  // Thresholds and scores are emitted only once the state they are computed
  // from has seen at least this many samples.
  uint32_t min_samples = 10;
  // A gap longer than this restarts the series' state. 0 disables resets.
  int64_t reset_after_ms = 3600 * 1000;
  ThresholdBasis threshold_basis = ThresholdBasis::kPrior;
  OutputMask outputs = kDefaultOutputs;
  SpreadKind spread = SpreadKind::kErrorRms;
  // Smoothing factor in (0, 1] of the error spreads (kErrorRms,
  // kErrorMeanAbs); 0 means the mean's. kEwmStd ignores it. Default
  // spread_span 10000: a width that moves over weeks of 5-minute samples,
  // so that a burst of spikes does not widen the band for the next one.
  double spread_alpha = 2.0 / 10001.0;
  Transform transform = Transform::kNone;
  // Time-of-day spread (`season:`): the day (UTC) is cut into season_slots
  // equal slots; each holds an EW mean of the one-step errors' squares
  // (their absolute values with kErrorMeanAbs) of the samples that fall in
  // it, smoothed with season_alpha per sample. Once the series has
  // season_min_history_ms of history and the sample's slot holds a value,
  // the band's spread is the larger of the spread above and the slot's.
  // 0 slots: off. REQUIRES: season_slots <= kMaxSeasonSlots.
  // Default 96 slots of 15 minutes, span 14 (about 5 days of 5-minute
  // samples), from one day of history on.
  uint16_t season_slots = 96;
  double season_alpha = 2.0 / 15.0;
  int64_t season_min_history_ms = 24 * 3600 * 1000;

  // Same outputs for the same inputs (without a season, its smoothing and
  // history do not matter).
  bool operator==(const EstimatorParams& o) const {
    return alpha == o.alpha && half_life_ms == o.half_life_ms && k == o.k &&
           min_samples == o.min_samples && reset_after_ms == o.reset_after_ms &&
           threshold_basis == o.threshold_basis && outputs == o.outputs &&
           spread == o.spread && spread_alpha == o.spread_alpha &&
           transform == o.transform && season_slots == o.season_slots &&
           (season_slots == 0 ||
            (season_alpha == o.season_alpha &&
             season_min_history_ms == o.season_min_history_ms));
  }
  bool operator!=(const EstimatorParams& o) const { return !(*this == o); }
};

}  // namespace promewma::ewma

#endif  // PROMEWMA_EWMA_ESTIMATOR_PARAMS_H_
