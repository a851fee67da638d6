// SeriesEstimator: the per-series EWMA recursion (mean, spread, weight-square
// sum, count; README "The estimator"), as a pure function over a small
// state struct. No I/O, no clocks, and no allocation except a series'
// time-of-day profile, once, on its first sample with a season: the engine
// calls it under its shard lock, and the reference tests drive it directly.
//
// Thread-safety: none needed; the caller owns the state.

#ifndef PROMEWMA_EWMA_SERIES_ESTIMATOR_H_
#define PROMEWMA_EWMA_SERIES_ESTIMATOR_H_

#include <array>
#include <cstdint>
#include <limits>
#include <memory>

#include "ewma/estimator_params.h"

namespace promewma::ewma {

// Prometheus' stale marker: a NaN with this exact bit pattern
// (value.StaleNaN). Any other NaN is an ordinary (skipped) value.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
bool IsStaleMarker(double value);
double StaleMarker();

// One time-of-day slot's value (params.season_slots): a non-negative double
// rounded to bfloat16, the top 16 bits of its float32 (round to nearest,
// ties to even). 8 bits of precision are plenty for a spread, and at 2
// bytes a slot 96 slots cost 192 bytes a state.
using SeasonSlot = uint16_t;
// A slot no sample has fallen in yet (a NaN no rounding produces).
inline constexpr SeasonSlot kEmptySeasonSlot = 0xFFFF;
SeasonSlot ToSeasonSlot(double v);  // REQUIRES: v >= 0 (or +Inf)
double FromSeasonSlot(SeasonSlot slot);
// The slot of timestamp_ms (UTC time of day) among `slots` in a day.
int SeasonSlotOf(int64_t timestamp_ms, int slots);

// A time-of-day profile: kMaxSeasonSlots slots, all empty until the first
// Set. Held out of line and allocated on that first Set, so a series
// without a season (`season: {slots: 0}`) pays a pointer for it rather
// than 192 bytes, twice (its state and its head chunk's start state). A
// value type: copies are deep.
class SeasonProfile {
 public:
  using Slots = std::array<SeasonSlot, kMaxSeasonSlots>;

  SeasonProfile() = default;
  SeasonProfile(const SeasonProfile& other)
      : slots_(other.slots_ != nullptr ? std::make_unique<Slots>(*other.slots_)
                                       : nullptr) {}
  SeasonProfile& operator=(const SeasonProfile& other) {
    if (other.slots_ == nullptr) {
      slots_.reset();
    } else if (slots_ != nullptr) {
      *slots_ = *other.slots_;
    } else {
      slots_ = std::make_unique<Slots>(*other.slots_);
    }
    return *this;
  }
  SeasonProfile(SeasonProfile&&) noexcept = default;
  SeasonProfile& operator=(SeasonProfile&&) noexcept = default;

  // REQUIRES: 0 <= i < kMaxSeasonSlots.
  SeasonSlot operator[](int i) const {
    return slots_ != nullptr ? (*slots_)[i] : kEmptySeasonSlot;
  }
  void Set(int i, SeasonSlot value);

  // Bytes it holds out of line (0 while every slot is empty).
  size_t heap_bytes() const { return slots_ != nullptr ? sizeof(Slots) : 0; }

  // Equal slot by slot: an unallocated profile equals one of empty slots.
  friend bool operator==(const SeasonProfile& a, const SeasonProfile& b);
  friend bool operator!=(const SeasonProfile& a, const SeasonProfile& b) {
    return !(a == b);
  }

 private:
  std::unique_ptr<Slots> slots_;  // null: every slot empty
};
inline SeasonProfile EmptySeasonProfile() { return SeasonProfile(); }

// With a transform, mean and spread are in transformed units (y = log1p x).
struct EstimatorState {
  double mean = 0;  // m
  // kEwmStd: S, (1 - W2) times the bias-corrected variance.
  // kErrorRms / kErrorMeanAbs: E, the EW sum beta * sum (1-beta)^i f(e_t-i)
  // of squared / absolute one-step errors.
  double spread = 0;
  // kEwmStd: W2, the sum of squared normalised weights.
  // kErrorRms / kErrorMeanAbs: P = (1-beta)^(errors seen), so that
  // E / (1 - P) is the bias-corrected (pandas adjust=True) mean.
  double weight_sq = 0;
  uint64_t count = 0;    // n; 0 means no state yet
  // Timestamp of the last finite sample: the dt for half_life and
  // reset_after is measured from it.
  int64_t last_sample_ms = 0;
  // Last accepted timestamp, stale markers included, and its value's bits:
  // what out-of-order and duplicate checks compare against.
  int64_t last_timestamp_ms = std::numeric_limits<int64_t>::min();
  uint64_t last_value_bits = 0;
  // Time of the series' first sample: the history the season needs is
  // measured from it. Kept across restarts, as the profile is.
  int64_t season_start_ms = 0;
  // The time-of-day profile: the first params.season_slots entries are
  // used, each an EW mean of f(e) (e^2, or |e| with kErrorMeanAbs) over the
  // one-step errors of the samples in its slot, started at the first one.
  SeasonProfile season;
};

// What one input sample did.
enum class SampleOutcome : uint8_t {
  kApplied,     // finite sample folded into the state; outputs emitted
  kStale,       // stale marker: passed on to every output, state kept
  kDuplicate,   // same timestamp and same value: accepted, no effect
  kOutOfOrder,  // older than the series' last sample: rejected
  kConflict,    // same timestamp, different value: rejected
  kNotFinite,   // NaN (not a stale marker) or +-Inf: skipped
};

// The derived values emitted for one input sample. value[i] is meaningful
// when bit OutputBit(Output(i)) is set in `present`; with `stale` every
// present output carries a stale marker.
struct DerivedValues {
  OutputMask present = 0;
  bool stale = false;
  double value[kOutputCount] = {};

  bool has(Output o) const { return present & OutputBit(o); }
  double get(Output o) const { return value[static_cast<int>(o)]; }
};

// Applies the sample (timestamp_ms, value) to *state and fills *out with
// the outputs selected by params.outputs. *out is cleared when the outcome
// emits nothing (kDuplicate, kOutOfOrder, kConflict, kNotFinite).
SampleOutcome UpdateEstimator(const EstimatorParams& params,
                              EstimatorState* state, int64_t timestamp_ms,
                              double value, DerivedValues* out);

// The band's spread of a state at time timestamp_ms (the `stddev` output):
// the bias-corrected EWMA standard deviation, or the error RMS / mean
// absolute error, as params.spread says; with a season, the larger of that
// and the spread of timestamp_ms's slot once the slot is in use. False when
// it is not defined yet (fewer than two samples, or all weight on one
// sample).
bool EstimatorSpread(const EstimatorParams& params, const EstimatorState& state,
                     int64_t timestamp_ms, double* spread);

}  // namespace promewma::ewma

#endif  // PROMEWMA_EWMA_SERIES_ESTIMATOR_H_
