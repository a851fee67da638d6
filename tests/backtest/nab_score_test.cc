// NAB's windows format and scoring (standard profile) against
// hand-computed cases.

#include "backtest/nab_score.h"

#include <catch2/catch.hpp>
#include <vector>

namespace promewma::backtest {
namespace {

std::vector<int64_t> Rows(int n) {
  std::vector<int64_t> t;
  for (int i = 0; i < n; ++i) t.push_back(i * 1000);
  return t;
}

TEST_CASE("NAB times and windows parse, keyed by base file name") {
  Result<int64_t> t = ParseNabTime("2014-02-26 13:45:00.000000");
  REQUIRE(t.ok());
  CHECK(*t == 1393422300000);
  CHECK(ParseNabTime("2014-02-26 13:45:00").ok());
  CHECK_FALSE(ParseNabTime("2014-02-26T13:45").ok());

  Result<WindowsByFile> w = ParseNabWindows(R"({
    "realAWSCloudwatch/a.csv": [["2014-02-26 13:45:00.000000",
                                 "2014-02-27 06:25:00.000000"]],
    "b.csv": []})");
  REQUIRE(w.ok());
  REQUIRE(w->count("a.csv") == 1);
  REQUIRE(w->at("a.csv").size() == 1);
  CHECK(w->at("a.csv")[0].start_ms == 1393422300000);
  CHECK(w->at("b.csv").empty());
  CHECK_FALSE(ParseNabWindows("[1, 2]").ok());
  CHECK_FALSE(ParseNabWindows(R"({"a.csv": [["x", "y"]]})").ok());
}

TEST_CASE("the scaled sigmoid and probation are NAB's") {
  CHECK(NabScaledSigmoid(-1.0) == Approx(0.9866142981514305));
  CHECK(NabScaledSigmoid(0.0) == 0.0);
  CHECK(NabScaledSigmoid(3.0) == -1.0);
  ScoringProfile p;
  CHECK(NabProbationRows(100, p) == 15);
  CHECK(NabProbationRows(4032, p) == 604);
  CHECK(NabProbationRows(20000, p) == 750);
}

TEST_CASE("a detection at a window's first row scores A_TP and a missed "
          "window -A_FN") {
  const std::vector<TimeWindow> windows = {{40'000, 49'000}};
  FileScore hit = ScoreDetections(Rows(100), {40}, windows, ScoringProfile{});
  CHECK(hit.windows == 1);
  CHECK(hit.caught == 1);
  CHECK(hit.raw == Approx(1.0));
  CHECK(NabNormalizedScore(hit.raw, 1, ScoringProfile{}) == Approx(100.0));

  FileScore none = ScoreDetections(Rows(100), {}, windows, ScoringProfile{});
  CHECK(none.missed == 1);
  CHECK(none.raw == -1.0);
  CHECK(NabNormalizedScore(none.raw, 1, ScoringProfile{}) == 0.0);
}

TEST_CASE("early detections, false ones before and after a window, and "
          "probation score as NAB does") {
  // Window rows 40..49 (width 10), probation rows 0..14.
  const std::vector<TimeWindow> windows = {{40'000, 49'000}};
  FileScore s =
      ScoreDetections(Rows(100), {10, 20, 45, 49, 60}, windows, ScoringProfile{});
  REQUIRE(s.outcomes.size() == 5);
  CHECK(s.outcomes[0] == DetectionOutcome::kProbation);
  CHECK(s.outcomes[1] == DetectionOutcome::kFalse);
  CHECK(s.outcomes[2] == DetectionOutcome::kCaught);
  CHECK(s.outcomes[3] == DetectionOutcome::kInWindowAgain);
  CHECK(s.outcomes[4] == DetectionOutcome::kFalse);
  CHECK(s.caught == 1);
  CHECK(s.false_detections == 2);
  CHECK(s.missed == 0);
  // Row 45: S(-(49-45+1)/10) / S(-1); row 49 scores less and is not
  // counted; row 20 precedes every window: -0.11; row 60: 0.11 *
  // S((60-49)/(10-1)).
  const double expected =
      0.8597925669097837 - 0.11 + -0.10951310130369775;
  CHECK(s.raw == Approx(expected).epsilon(1e-12));
}

TEST_CASE("a window with no rows or wholly in probation is not scored") {
  const std::vector<TimeWindow> windows = {{2'000, 5'000}, {500'000, 600'000}};
  FileScore s = ScoreDetections(Rows(100), {3}, windows, ScoringProfile{});
  CHECK(s.windows == 0);
  CHECK(s.caught == 0);
  CHECK(s.raw == 0.0);
}

}  // namespace
}  // namespace promewma::backtest
