#include "ewma/series_estimator.h"

#include <catch2/catch.hpp>
#include <cmath>

namespace promewma::ewma {
namespace {

constexpr OutputMask kAll =
    OutputBit(Output::kEwma) | OutputBit(Output::kUpperThreshold) |
    OutputBit(Output::kLowerThreshold) | OutputBit(Output::kStddev) |
    OutputBit(Output::kAnomalyScore);

EstimatorParams Params(double alpha, uint32_t min_samples) {
  EstimatorParams p;
  p.alpha = alpha;
  p.min_samples = min_samples;
  p.outputs = kAll;
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

}  // namespace
}  // namespace promewma::ewma
