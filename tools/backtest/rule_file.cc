#include "backtest/rule_file.h"

#include <yaml-cpp/yaml.h>

#include "common/duration.h"

namespace promewma::backtest {
namespace {

Result<int64_t> Duration(const YAML::Node& rule, const char* key,
                         std::string* text) {
  const YAML::Node node = rule[key];
  if (!node) return int64_t{0};
  if (!node.IsScalar()) {
    return Status::InvalidArgument(std::string(key) + ": expected a duration");
  }
  *text = node.Scalar();
  Result<int64_t> ms = ParseDurationMs(*text);
  if (!ms.ok()) {
    return Status::InvalidArgument(std::string(key) + ": " +
                                   ms.status().message());
  }
  return ms;
}

}  // namespace

Result<AlertRule> ParseAlertRule(std::string_view yaml_text,
                                 std::string_view alert) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("not YAML: " + std::string(e.what()));
  }
  const YAML::Node groups = doc["groups"];
  if (!groups || !groups.IsSequence()) {
    return Status::InvalidArgument("no groups: list, not a rules file");
  }
  for (const YAML::Node& group : groups) {
    const YAML::Node rules = group["rules"];
    if (!rules || !rules.IsSequence()) continue;
    for (const YAML::Node& rule : rules) {
      const YAML::Node name = rule["alert"];
      if (!name || !name.IsScalar() || name.Scalar() != alert) continue;
      const YAML::Node expr_node = rule["expr"];
      if (!expr_node || !expr_node.IsScalar()) {
        return Status::InvalidArgument("alert " + std::string(alert) +
                                       " has no expr");
      }
      const std::string expr = expr_node.Scalar();
      AlertRule out;
      const bool upper = expr.find(":upper_threshold") != std::string::npos;
      const bool lower = expr.find(":lower_threshold") != std::string::npos;
      if (expr.find(":anomaly_score") != std::string::npos) {
        out.expression = AlertExpression::kAnomalyScore;
      } else if (upper && lower) {
        out.expression = AlertExpression::kTwoSided;
      } else if (upper) {
        out.expression = AlertExpression::kUpperThreshold;
      } else {
        return Status::InvalidArgument(
            "alert " + std::string(alert) +
            ": its expr compares with none of :upper_threshold, "
            ":lower_threshold, :anomaly_score");
      }
      Result<int64_t> for_ms = Duration(rule, "for", &out.for_text);
      if (!for_ms.ok()) return for_ms.status();
      Result<int64_t> keep_ms =
          Duration(rule, "keep_firing_for", &out.keep_firing_for_text);
      if (!keep_ms.ok()) return keep_ms.status();
      out.timing = AlertTiming{*for_ms, *keep_ms};
      return out;
    }
  }
  return Status::InvalidArgument("no alert named " + std::string(alert));
}

}  // namespace promewma::backtest
