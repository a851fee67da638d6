// RuleFile: the timing and expression of one alerting rule, read from a
// Prometheus rules file (groups[].rules[] with `alert:`), so that a backtest
// runs the rule as shipped (deploy/prometheus/rules/promewma.rules.yml).
//
// The expression is classified by the promewma outputs it compares with:
// `:anomaly_score` -> score; both `:upper_threshold` and `:lower_threshold`
// -> two-sided; `:upper_threshold` -> upper. Anything else is refused: the
// backtest evaluates those three forms only, on the input series itself
// (label matching such as `on (instance, job)` does not matter for one
// series).
//
// Thread-safety: a pure function of the file's contents.

#ifndef PROMEWMA_TOOLS_BACKTEST_RULE_FILE_H_
#define PROMEWMA_TOOLS_BACKTEST_RULE_FILE_H_

#include <string>
#include <string_view>

#include "backtest/alert_episodes.h"
#include "backtest/replay.h"
#include "promewma/status.h"

namespace promewma::backtest {

struct AlertRule {
  AlertExpression expression;
  AlertTiming timing;
  std::string for_text = "0s";              // as written, for reports
  std::string keep_firing_for_text = "0s";  // as written, for reports
};

// Parses the rules file text and returns the alert named `alert`.
// InvalidArgument (one line) when the text is not a rules file, the alert
// is missing, or its expression or durations cannot be used.
Result<AlertRule> ParseAlertRule(std::string_view yaml_text,
                                 std::string_view alert);

}  // namespace promewma::backtest

#endif  // PROMEWMA_TOOLS_BACKTEST_RULE_FILE_H_
