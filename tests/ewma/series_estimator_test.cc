#include "ewma/series_estimator.h"

#include <catch2/catch.hpp>
#include <cmath>

namespace promewma::ewma {
namespace {

constexpr OutputMask kAll =
    OutputBit(Output::kEwma) | OutputBit(Output::kUpperThreshold) |
    OutputBit(Output::kLowerThreshold) | OutputBit(Output::kStddev) |
    OutputBit(Output::kAnomalyScore);

// The plain EWMA band (ewm_std, k 3, no transform, no season), whatever
// the defaults are: the cases below are computed by hand for it.
EstimatorParams Params(double alpha, uint32_t min_samples) {
  EstimatorParams p;
  p.alpha = alpha;
  p.min_samples = min_samples;
  p.outputs = kAll;
  p.k = 3;
  p.spread = SpreadKind::kEwmStd;
  p.spread_alpha = 0;
  p.transform = Transform::kNone;
  p.season_slots = 0;
  return p;
}

TEST_CASE("two samples by hand: alpha 0.5, x = 1 then 3") {
  EstimatorParams p = Params(0.5, 2);
  EstimatorState st;
  DerivedValues out;
  REQUIRE(UpdateEstimator(p, &st, 1000, 1, &out) == SampleOutcome::kApplied);
  REQUIRE(out.get(Output::kEwma) == 1);
  REQUIRE_FALSE(out.has(Output::kStddev));  // one sample: undefined
  REQUIRE_FALSE(out.has(Output::kUpperThreshold));

  REQUIRE(UpdateEstimator(p, &st, 2000, 3, &out) == SampleOutcome::kApplied);
  // m = 1 + 0.5*2 = 2; S = 0.5*(0 + 0.5*4) = 1; W2 = 0.25 + 0.25 = 0.5.
  REQUIRE(out.get(Output::kEwma) == 2);
  REQUIRE(out.get(Output::kStddev) == Approx(std::sqrt(2.0)).epsilon(1e-12));
  // The prior state had n = 1 < min_samples: no band yet.
  REQUIRE_FALSE(out.has(Output::kUpperThreshold));

  REQUIRE(UpdateEstimator(p, &st, 3000, 2, &out) == SampleOutcome::kApplied);
  // Band from the prior state (m = 2, sd = sqrt 2), k = 3.
  REQUIRE(out.get(Output::kUpperThreshold) ==
          Approx(2 + 3 * std::sqrt(2.0)).epsilon(1e-12));
  REQUIRE(out.get(Output::kLowerThreshold) ==
          Approx(2 - 3 * std::sqrt(2.0)).epsilon(1e-12));
  REQUIRE(out.get(Output::kAnomalyScore) == 0);  // x equals the prior mean
}

TEST_CASE("a gap wider than int64 restarts the state") {
  // -2^62 ms, then 2^62 ms: 2^63 apart, one more than int64 holds.
  // (Under UBSan a signed subtraction here is an error.)
  EstimatorParams p = Params(0.5, 2);
  EstimatorState st;
  DerivedValues out;
  const int64_t far = int64_t{1} << 62;
  REQUIRE(UpdateEstimator(p, &st, -far, 1, &out) == SampleOutcome::kApplied);
  REQUIRE(UpdateEstimator(p, &st, -far + 1000, 3, &out) ==
          SampleOutcome::kApplied);
  REQUIRE(out.get(Output::kEwma) == 2);
  REQUIRE(UpdateEstimator(p, &st, far, 7, &out) == SampleOutcome::kApplied);
  REQUIRE(out.get(Output::kEwma) == 7);  // reset_after (1h) passed: restart
  REQUIRE(st.count == 1);

  // Time-aware smoothing over such a gap forgets the past entirely.
  p.reset_after_ms = 0;
  p.half_life_ms = 1000;
  EstimatorState timed;
  REQUIRE(UpdateEstimator(p, &timed, -far, 1, &out) == SampleOutcome::kApplied);
  REQUIRE(UpdateEstimator(p, &timed, far, 9, &out) == SampleOutcome::kApplied);
  REQUIRE(out.get(Output::kEwma) == 9);
}

TEST_CASE("a spike never raises its own bar (prior basis)") {
  EstimatorParams p = Params(0.2, 5);
  EstimatorState prior_state, posterior_state;
  EstimatorParams posterior = p;
  posterior.threshold_basis = ThresholdBasis::kPosterior;
  DerivedValues a, b;
  for (int i = 0; i < 30; ++i) {
    double x = 10 + (i % 2);
    UpdateEstimator(p, &prior_state, i * 1000, x, &a);
    UpdateEstimator(posterior, &posterior_state, i * 1000, x, &b);
  }
  const double bar_before = a.get(Output::kUpperThreshold);
  REQUIRE(UpdateEstimator(p, &prior_state, 30000, 100, &a) ==
          SampleOutcome::kApplied);
  UpdateEstimator(posterior, &posterior_state, 30000, 100, &b);
  REQUIRE(a.get(Output::kUpperThreshold) < 100);
  REQUIRE(a.get(Output::kUpperThreshold) > bar_before * 0.9);
  REQUIRE(a.get(Output::kAnomalyScore) > 1);
  // With the posterior basis the spike widens its own band.
  REQUIRE(b.get(Output::kUpperThreshold) > a.get(Output::kUpperThreshold));
}

TEST_CASE("anomaly score with zero spread: 0/0 = 0, x/0 = +Inf") {
  EstimatorParams p = Params(0.5, 2);
  EstimatorState st;
  DerivedValues out;
  for (int i = 0; i < 3; ++i) UpdateEstimator(p, &st, i, 7, &out);
  REQUIRE(out.get(Output::kAnomalyScore) == 0);
  UpdateEstimator(p, &st, 3, 8, &out);
  REQUIRE(std::isinf(out.get(Output::kAnomalyScore)));
}

TEST_CASE("ordering rules: duplicates, conflicts, out of order, non-finite") {
  EstimatorParams p = Params(0.5, 1);
  EstimatorState st;
  DerivedValues out;
  REQUIRE(UpdateEstimator(p, &st, 100, 5, &out) == SampleOutcome::kApplied);
  const EstimatorState after_first = st;
  auto [ts, value, outcome] = GENERATE(table<int64_t, double, SampleOutcome>({
      {100, 5.0, SampleOutcome::kDuplicate},
      {100, 6.0, SampleOutcome::kConflict},
      {99, 5.0, SampleOutcome::kOutOfOrder},
      {200, std::nan(""), SampleOutcome::kNotFinite},
      {200, INFINITY, SampleOutcome::kNotFinite},
      {200, -INFINITY, SampleOutcome::kNotFinite},
  }));
  REQUIRE(UpdateEstimator(p, &st, ts, value, &out) == outcome);
  REQUIRE(out.present == 0);
  // Nothing about the state changed.
  REQUIRE(st.count == after_first.count);
  REQUIRE(st.mean == after_first.mean);
  REQUIRE(st.last_timestamp_ms == after_first.last_timestamp_ms);
}

TEST_CASE("stale markers pass through and keep the state") {
  EstimatorParams p = Params(0.5, 1);
  EstimatorState st;
  DerivedValues out;
  UpdateEstimator(p, &st, 1000, 4, &out);
  UpdateEstimator(p, &st, 2000, 6, &out);
  REQUIRE(UpdateEstimator(p, &st, 3000, StaleMarker(), &out) ==
          SampleOutcome::kStale);
  REQUIRE(out.stale);
  REQUIRE(out.present == kAll);
  REQUIRE(IsStaleMarker(out.get(Output::kEwma)));
  REQUIRE(IsStaleMarker(out.get(Output::kUpperThreshold)));
  REQUIRE(st.count == 2);
  REQUIRE(st.mean == 5);
  // The same marker again is a duplicate; an ordinary NaN is not a marker.
  REQUIRE(UpdateEstimator(p, &st, 3000, StaleMarker(), &out) ==
          SampleOutcome::kDuplicate);
  REQUIRE_FALSE(IsStaleMarker(std::nan("")));
  // The series resumes from the kept state.
  REQUIRE(UpdateEstimator(p, &st, 4000, 9, &out) == SampleOutcome::kApplied);
  REQUIRE(out.get(Output::kEwma) == 7);
  REQUIRE_FALSE(out.stale);
}

TEST_CASE("a gap longer than reset_after restarts the state") {
  EstimatorParams p = Params(0.5, 1);
  p.reset_after_ms = 60000;
  EstimatorState st;
  DerivedValues out;
  UpdateEstimator(p, &st, 0, 10, &out);
  UpdateEstimator(p, &st, 60000, 20, &out);  // exactly reset_after: kept
  REQUIRE(st.count == 2);
  REQUIRE(out.get(Output::kEwma) == 15);
  UpdateEstimator(p, &st, 120001, 50, &out);  // longer: restart
  REQUIRE(st.count == 1);
  REQUIRE(out.get(Output::kEwma) == 50);
  REQUIRE_FALSE(out.has(Output::kUpperThreshold));
  REQUIRE_FALSE(out.has(Output::kStddev));

  p.reset_after_ms = 0;  // disabled
  UpdateEstimator(p, &st, 100000000, 0, &out);
  REQUIRE(st.count == 2);
}

TEST_CASE("half_life: alpha follows the gap") {
  EstimatorParams p = Params(0.5, 1);
  p.half_life_ms = 10000;
  EstimatorState st;
  DerivedValues out;
  UpdateEstimator(p, &st, 0, 0, &out);
  // dt = one half-life: alpha = 1/2.
  UpdateEstimator(p, &st, 10000, 8, &out);
  REQUIRE(out.get(Output::kEwma) == Approx(4).epsilon(1e-12));
  // dt = two half-lives: alpha = 3/4.
  UpdateEstimator(p, &st, 30000, 8, &out);
  REQUIRE(out.get(Output::kEwma) == Approx(7).epsilon(1e-12));
}

TEST_CASE("only the configured outputs are emitted") {
  EstimatorParams p = Params(0.5, 1);
  p.outputs = OutputBit(Output::kStddev);
  EstimatorState st;
  DerivedValues out;
  UpdateEstimator(p, &st, 0, 1, &out);
  REQUIRE(out.present == 0);
  UpdateEstimator(p, &st, 1, 2, &out);
  REQUIRE(out.present == OutputBit(Output::kStddev));
}

TEST_CASE("season slots are bfloat16: float32's top 16 bits, ties to even") {
  REQUIRE(ToSeasonSlot(1.0) == 0x3F80);
  REQUIRE(FromSeasonSlot(0x3F80) == 1.0);
  REQUIRE(ToSeasonSlot(2.5) == 0x4020);
  REQUIRE(FromSeasonSlot(ToSeasonSlot(2.5)) == 2.5);
  // Halfway between 1 and 1 + 2^-7: to the even one, 1.
  REQUIRE(ToSeasonSlot(1 + std::ldexp(1.0, -8)) == 0x3F80);
  // Halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up.
  REQUIRE(ToSeasonSlot(1 + 3 * std::ldexp(1.0, -8)) == 0x3F82);
  // Just above halfway: up.
  REQUIRE(ToSeasonSlot(1 + std::ldexp(1.0, -8) + std::ldexp(1.0, -20)) ==
          0x3F81);
  REQUIRE(ToSeasonSlot(0) == 0);
  REQUIRE(std::isinf(FromSeasonSlot(ToSeasonSlot(1e300))));
  REQUIRE(std::isinf(FromSeasonSlot(ToSeasonSlot(INFINITY))));
  REQUIRE(ToSeasonSlot(1e300) != kEmptySeasonSlot);
}

TEST_CASE("a timestamp's season slot is its UTC time of day") {
  constexpr int64_t kHour = 3600 * 1000;
  REQUIRE(SeasonSlotOf(0, 4) == 0);
  REQUIRE(SeasonSlotOf(6 * kHour - 1, 4) == 0);
  REQUIRE(SeasonSlotOf(6 * kHour, 4) == 1);
  REQUIRE(SeasonSlotOf(23 * kHour, 4) == 3);
  REQUIRE(SeasonSlotOf(24 * kHour + 13 * kHour, 4) == 2);
  REQUIRE(SeasonSlotOf(-1, 4) == 3);  // before 1970: 23:59:59.999
  REQUIRE(SeasonSlotOf(-24 * kHour, 4) == 0);
  REQUIRE(SeasonSlotOf(15 * 60 * 1000, 96) == 1);
  REQUIRE(SeasonSlotOf(INT64_MIN, 96) >= 0);
  REQUIRE(SeasonSlotOf(INT64_MAX, 96) < 96);
}

EstimatorParams SeasonParams(int64_t min_history_ms) {
  EstimatorParams p = Params(0.5, 2);
  p.spread = SpreadKind::kErrorRms;
  p.spread_alpha = 0.5;
  p.season_slots = 4;
  p.season_alpha = 0.5;
  p.season_min_history_ms = min_history_ms;
  return p;
}

TEST_CASE("by hand: a slot's mean square of errors widens the band once "
          "the series has min_history") {
  for (int64_t min_history : {int64_t{0}, int64_t{3000}}) {
    INFO("min_history " << min_history);
    const EstimatorParams p = SeasonParams(min_history);
    EstimatorState st;
    DerivedValues out;
    UpdateEstimator(p, &st, 1000, 1, &out);
    REQUIRE(st.season[0] == kEmptySeasonSlot);  // no error yet
    REQUIRE(st.season_start_ms == 1000);
    UpdateEstimator(p, &st, 2000, 3, &out);
    // e = 2: the empty slot takes e^2 = 4; E = 2, P = 0.5, so rms 2.
    REQUIRE(FromSeasonSlot(st.season[0]) == 4);
    REQUIRE(out.get(Output::kStddev) == Approx(2.0).epsilon(1e-15));
    UpdateEstimator(p, &st, 3000, 3, &out);
    // m was 2, e = 1: slot 4 + 0.5 (1 - 4) = 2.5; E = 1.5, P = 0.25, so
    // rms sqrt(2). The band's spread is the larger, sqrt(2.5), once the
    // series is min_history old (it is 2000 ms old now).
    REQUIRE(FromSeasonSlot(st.season[0]) == 2.5);
    for (int s = 1; s < kMaxSeasonSlots; ++s)
      REQUIRE(st.season[s] == kEmptySeasonSlot);
    const double want =
        min_history == 0 ? std::sqrt(2.5) : std::sqrt(2.0);
    REQUIRE(out.get(Output::kStddev) == Approx(want).epsilon(1e-12));
    double spread;
    REQUIRE(EstimatorSpread(p, st, 4000, &spread));
    // At 4000 ms the history is 3000 ms: the slot is in use either way.
    REQUIRE(spread == Approx(std::sqrt(2.5)).epsilon(1e-12));
    // Another slot with no value yet: the error spread alone.
    REQUIRE(EstimatorSpread(p, st, 7 * 3600 * 1000, &spread));
    REQUIRE(spread == Approx(std::sqrt(2.0)).epsilon(1e-12));
    // The prior band of the next sample uses that spread around m = 2.5.
    UpdateEstimator(p, &st, 4000, 2.5, &out);
    REQUIRE(out.get(Output::kUpperThreshold) ==
            Approx(2.5 + 3 * std::sqrt(2.5)).epsilon(1e-12));
  }
}

TEST_CASE("error_mean_abs seasons keep mean absolute errors") {
  EstimatorParams p = SeasonParams(0);
  p.spread = SpreadKind::kErrorMeanAbs;
  EstimatorState st;
  DerivedValues out;
  UpdateEstimator(p, &st, 1000, 1, &out);
  UpdateEstimator(p, &st, 2000, 3, &out);  // |e| = 2
  UpdateEstimator(p, &st, 3000, 3, &out);  // |e| = 1: 2 + 0.5 (1 - 2)
  REQUIRE(FromSeasonSlot(st.season[0]) == 1.5);
  // E = 0.5*2 = 1, then 0.5*1 + 0.5*1 = 1; over 1 - 0.25: 4/3 < 1.5.
  REQUIRE(out.get(Output::kStddev) == 1.5);
}

TEST_CASE("a restart keeps the time-of-day profile and the series' start") {
  EstimatorParams p = SeasonParams(0);
  p.reset_after_ms = 60000;
  EstimatorState st;
  DerivedValues out;
  UpdateEstimator(p, &st, 1000, 1, &out);
  UpdateEstimator(p, &st, 2000, 3, &out);
  const SeasonProfile before = st.season;
  UpdateEstimator(p, &st, 2000 + 60001, 50, &out);  // restart, same slot
  REQUIRE(st.count == 1);
  REQUIRE(st.season == before);  // the first sample of a run has no error
  REQUIRE(st.season_start_ms == 1000);
  UpdateEstimator(p, &st, 2000 + 70000, 52, &out);  // e = 2 again
  REQUIRE(FromSeasonSlot(st.season[0]) == 4);
}

TEST_CASE("without a season the profile stays empty") {
  EstimatorParams p = Params(0.5, 2);
  EstimatorState st;
  DerivedValues out;
  for (int i = 0; i < 50; ++i) UpdateEstimator(p, &st, i * 1000, i % 3, &out);
  REQUIRE(st.season == EmptySeasonProfile());
}

}  // namespace
}  // namespace promewma::ewma
