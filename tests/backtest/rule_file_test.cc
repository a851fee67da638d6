// Reading an alert's expression and timing from a Prometheus rules file.

#include "backtest/rule_file.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

namespace promewma::backtest {
namespace {

const char kRules[] = R"(groups:
  - name: cpu
    rules:
      - record: cpu:avg
        expr: avg(cpu)
      - alert: Above
        expr: |
          cpu > on (instance) cpu:upper_threshold
        for: 1m
        keep_firing_for: 2h
      - alert: Score
        expr: cpu:anomaly_score > 1
      - alert: Both
        expr: cpu > cpu:upper_threshold or cpu < cpu:lower_threshold
        keep_firing_for: 30m
      - alert: Other
        expr: up == 0
)";

TEST_CASE("an alert's expression, for and keep_firing_for are read from a "
          "rules file") {
  Result<AlertRule> above = ParseAlertRule(kRules, "Above");
  REQUIRE(above.ok());
  CHECK(above->expression == AlertExpression::kUpperThreshold);
  CHECK(above->timing.for_ms == 60'000);
  CHECK(above->timing.keep_firing_for_ms == 7'200'000);
  CHECK(above->keep_firing_for_text == "2h");

  Result<AlertRule> score = ParseAlertRule(kRules, "Score");
  REQUIRE(score.ok());
  CHECK(score->expression == AlertExpression::kAnomalyScore);
  CHECK(score->timing.for_ms == 0);
  CHECK(score->timing.keep_firing_for_ms == 0);

  Result<AlertRule> both = ParseAlertRule(kRules, "Both");
  REQUIRE(both.ok());
  CHECK(both->expression == AlertExpression::kTwoSided);
  CHECK(both->timing.keep_firing_for_ms == 1'800'000);
}

TEST_CASE("a missing alert, an expression on no promewma output and a file "
          "that is not a rules file are refused") {
  CHECK(ParseAlertRule(kRules, "Nope").status().message() ==
        "no alert named Nope");
  CHECK(ParseAlertRule(kRules, "Other").status().message().find(
            "compares with none of") != std::string::npos);
  CHECK_FALSE(ParseAlertRule("a: 1\n", "Above").ok());
}

TEST_CASE("the shipped CPUAboveAdaptiveThreshold compares the CPU with its "
          "upper threshold") {
  std::ifstream in(std::string(PROMEWMA_SOURCE_DIR) +
                   "/deploy/prometheus/rules/promewma.rules.yml");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  Result<AlertRule> rule =
      ParseAlertRule(text.str(), "CPUAboveAdaptiveThreshold");
  REQUIRE(rule.ok());
  CHECK(rule->expression == AlertExpression::kUpperThreshold);
}

}  // namespace
}  // namespace promewma::backtest
