#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "common/duration.h"
#include "common/key_path.h"
#include "common/one_line.h"
#include "remote/client_config.h"
#include "remote/remote_read_client.h"
#include "writeback/target_config.h"

namespace promewma::config {
namespace {

// (key, value) pairs of a YAML map in file order.
using Entries = std::vector<std::pair<std::string, YAML::Node>>;

// ---------------------------------------------------------------------------
// Error messages. Functions below return "<path>: <problem>"; ParseConfig
// puts the source name in front.

// What a node is, for "expected X, got Y".
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return QuotedOneLine(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// ---------------------------------------------------------------------------
// Typed access to YAML nodes. yaml-cpp's as<T>() would accept more than we
// want (and throw); these say which key was wrong and what it held.

// A null node (`ewma:` with nothing after it) counts as an empty map, as it
// does for Prometheus' YAML decoder.
Result<Entries> MapEntries(const YAML::Node& node, const std::string& path) {
  Entries entries;
  if (node.IsNull()) return entries;
  if (!node.IsMap()) {
    return ProblemAt(path, "expected a map, got " + Describe(node));
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) {
      return ProblemAt(path,
                       "keys must be strings, got " + Describe(it->first));
    }
    std::string key = it->first.Scalar();
    // yaml-cpp keeps duplicate keys; refuse them so that which one wins is
    // never a surprise.
    for (const auto& [seen, unused] : entries) {
      if (seen == key) {
        return ProblemAt(JoinKeyPath(path, key), "duplicate key");
      }
    }
    entries.emplace_back(std::move(key), it->second);
  }
  return entries;
}

Result<std::string> ScalarText(const YAML::Node& node, const std::string& path,
                               std::string_view expected) {
  if (!node.IsScalar()) {
    return ProblemAt(
        path, "expected " + std::string(expected) + ", got " + Describe(node));
  }
  return node.Scalar();
}

Result<double> ScalarDouble(const YAML::Node& node, const std::string& path) {
  Result<std::string> text = ScalarText(node, path, "a number");
  if (!text.ok()) return text.status();
  std::string_view digits = *text;
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  double value = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (digits.empty() || ec != std::errc() || ptr != end) {
    return ProblemAt(path, "expected a number, got " + QuotedOneLine(*text));
  }
  return value;
}

Result<int64_t> ScalarInteger(const YAML::Node& node, const std::string& path,
                              std::string_view requirement) {
  Result<std::string> text = ScalarText(node, path, "an integer");
  if (!text.ok()) return text.status();
  int64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (text->empty() || ec != std::errc() || ptr != end) {
    return ProblemAt(path, std::string(requirement) + ", got " + *text);
  }
  return value;
}

Result<int64_t> ScalarDurationMs(const YAML::Node& node,
                                 const std::string& path) {
  Result<std::string> text = ScalarText(node, path, "a duration like 1h30m");
  if (!text.ok()) return text.status();
  Result<int64_t> ms = ParseDurationMs(*text);
  if (!ms.ok()) return ProblemAt(path, ms.status().message());
  return ms;
}

Status ScalarDurationMsInto(const YAML::Node& node, const std::string& path,
                            int64_t* out) {
  Result<int64_t> ms = ScalarDurationMs(node, path);
  if (!ms.ok()) return ms.status();
  *out = *ms;
  return Status::Ok();
}

Result<uint64_t> ScalarByteSize(const YAML::Node& node,
                                const std::string& path) {
  Result<std::string> text = ScalarText(node, path, "a size like 16MiB");
  if (!text.ok()) return text.status();
  Result<uint64_t> bytes = ParseByteSize(*text);
  if (!bytes.ok()) return ProblemAt(path, bytes.status().message());
  return bytes;
}

// ---------------------------------------------------------------------------
// The estimator keys, shared by `ewma:` and every rule.

Status ParseAlpha(const YAML::Node& node, const std::string& path,
                  ewma::EstimatorParams* params) {
  Result<double> alpha = ScalarDouble(node, path);
  if (!alpha.ok()) return alpha.status();
  if (!(*alpha > 0 && *alpha <= 1)) {  // also refuses NaN
    return ProblemAt(path, "must be in (0, 1], got " + node.Scalar());
  }
  params->alpha = *alpha;
  params->half_life_ms = 0;
  return Status::Ok();
}

Status ParseSpan(const YAML::Node& node, const std::string& path,
                 ewma::EstimatorParams* params) {
  Result<double> span = ScalarDouble(node, path);
  if (!span.ok()) return span.status();
  if (!(*span >= 1) || !std::isfinite(*span)) {
    return ProblemAt(path, "must be >= 1, got " + node.Scalar());
  }
  // pandas' definition, so that span: 10 reproduces ewm(span=10).
  params->alpha = 2.0 / (*span + 1.0);
  params->half_life_ms = 0;
  return Status::Ok();
}

Status ParseHalfLife(const YAML::Node& node, const std::string& path,
                     ewma::EstimatorParams* params) {
  Result<int64_t> ms = ScalarDurationMs(node, path);
  if (!ms.ok()) return ms.status();
  if (*ms <= 0) return ProblemAt(path, "must be > 0, got " + node.Scalar());
  params->half_life_ms = *ms;
  return Status::Ok();
}

Status ParseK(const YAML::Node& node, const std::string& path,
              ewma::EstimatorParams* params) {
  Result<double> k = ScalarDouble(node, path);
  if (!k.ok()) return k.status();
  if (!(*k > 0) || !std::isfinite(*k)) {
    return ProblemAt(path, "must be a finite number > 0, got " + node.Scalar());
  }
  params->k = *k;
  return Status::Ok();
}

Status ParseMinSamples(const YAML::Node& node, const std::string& path,
                       ewma::EstimatorParams* params) {
  Result<int64_t> n = ScalarInteger(node, path, "must be an integer >= 1");
  if (!n.ok()) return n.status();
  if (*n < 1) {
    return ProblemAt(path, "must be an integer >= 1, got " + node.Scalar());
  }
  constexpr int64_t kMax = std::numeric_limits<uint32_t>::max();
  if (*n > kMax) {
    return ProblemAt(path, "must be at most " + std::to_string(kMax) +
                               ", got " + node.Scalar());
  }
  params->min_samples = static_cast<uint32_t>(*n);
  return Status::Ok();
}

Status ParseResetAfter(const YAML::Node& node, const std::string& path,
                       ewma::EstimatorParams* params) {
  Result<int64_t> ms = ScalarDurationMs(node, path);
  if (!ms.ok()) return ms.status();
  params->reset_after_ms = *ms;  // 0 disables resets
  return Status::Ok();
}

// A key whose value is one of `choices` (name, value), e.g.
// threshold_basis: prior | posterior. The error lists the names.
template <typename Enum>
Status ParseChoice(const YAML::Node& node, const std::string& path,
                   std::initializer_list<std::pair<const char*, Enum>> choices,
                   Enum* out) {
  std::string names;  // "a, b or c"
  size_t i = 0;
  for (const auto& choice : choices) {
    if (i > 0) names += i + 1 == choices.size() ? " or " : ", ";
    names += choice.first;
    ++i;
  }
  Result<std::string> text = ScalarText(node, path, names);
  if (!text.ok()) return text.status();
  for (const auto& [name, value] : choices) {
    if (*text == name) {
      *out = value;
      return Status::Ok();
    }
  }
  return ProblemAt(path, "must be " + names + ", got " + QuotedOneLine(*text));
}

Status ParseThresholdBasis(const YAML::Node& node, const std::string& path,
                           ewma::EstimatorParams* params) {
  return ParseChoice<ewma::ThresholdBasis>(
      node, path,
      {{"prior", ewma::ThresholdBasis::kPrior},
       {"posterior", ewma::ThresholdBasis::kPosterior}},
      &params->threshold_basis);
}

Status ParseSpread(const YAML::Node& node, const std::string& path,
                   ewma::EstimatorParams* params) {
  return ParseChoice<ewma::SpreadKind>(
      node, path,
      {{"ewm_std", ewma::SpreadKind::kEwmStd},
       {"error_rms", ewma::SpreadKind::kErrorRms},
       {"error_mean_abs", ewma::SpreadKind::kErrorMeanAbs}},
      &params->spread);
}

Status ParseSpreadAlpha(const YAML::Node& node, const std::string& path,
                        ewma::EstimatorParams* params) {
  Result<double> alpha = ScalarDouble(node, path);
  if (!alpha.ok()) return alpha.status();
  if (!(*alpha > 0 && *alpha <= 1)) {
    return ProblemAt(path, "must be in (0, 1], got " + node.Scalar());
  }
  params->spread_alpha = *alpha;
  return Status::Ok();
}

Status ParseSpreadSpan(const YAML::Node& node, const std::string& path,
                       ewma::EstimatorParams* params) {
  Result<double> span = ScalarDouble(node, path);
  if (!span.ok()) return span.status();
  if (!(*span >= 1) || !std::isfinite(*span)) {
    return ProblemAt(path, "must be >= 1, got " + node.Scalar());
  }
  params->spread_alpha = 2.0 / (*span + 1.0);  // as span
  return Status::Ok();
}

Status ParseTransform(const YAML::Node& node, const std::string& path,
                      ewma::EstimatorParams* params) {
  return ParseChoice<ewma::Transform>(
      node, path,
      {{"none", ewma::Transform::kNone}, {"log1p", ewma::Transform::kLog1p}},
      &params->transform);
}

// season: {slots: N, span: S | alpha: A, min_history: DURATION}; keys not
// given keep what the map inherits (the `ewma:` defaults, for a rule).
Status ParseSeason(const YAML::Node& node, const std::string& path,
                   ewma::EstimatorParams* params) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  std::string_view smoothing_key;
  for (const auto& [name, value] : *entries) {
    const std::string key_path = JoinKeyPath(path, name);
    if (name == "slots") {
      Result<int64_t> n = ScalarInteger(
          value, key_path,
          "must be an integer from 0 (off) to " +
              std::to_string(ewma::kMaxSeasonSlots));
      if (!n.ok()) return n.status();
      if (*n < 0 || *n > ewma::kMaxSeasonSlots) {
        return ProblemAt(key_path, "must be an integer from 0 (off) to " +
                                       std::to_string(ewma::kMaxSeasonSlots) +
                                       ", got " + value.Scalar());
      }
      params->season_slots = static_cast<uint16_t>(*n);
      continue;
    }
    if (name == "min_history") {
      Result<int64_t> ms = ScalarDurationMs(value, key_path);
      if (!ms.ok()) return ms.status();
      params->season_min_history_ms = *ms;
      continue;
    }
    if (name != "span" && name != "alpha") {
      return ProblemAt(key_path,
                       "unknown key (season keys: slots, span, alpha, "
                       "min_history)");
    }
    if (!smoothing_key.empty()) {
      return ProblemAt(key_path, "set only one of alpha, span (" +
                                     std::string(smoothing_key) +
                                     " is already set)");
    }
    smoothing_key = name == "span" ? "span" : "alpha";
    Result<double> x = ScalarDouble(value, key_path);
    if (!x.ok()) return x.status();
    if (name == "span") {
      if (!(*x >= 1) || !std::isfinite(*x)) {
        return ProblemAt(key_path, "must be >= 1, got " + value.Scalar());
      }
      params->season_alpha = 2.0 / (*x + 1.0);  // as span
    } else {
      if (!(*x > 0 && *x <= 1)) {
        return ProblemAt(key_path, "must be in (0, 1], got " + value.Scalar());
      }
      params->season_alpha = *x;
    }
  }
  return Status::Ok();
}

std::string OutputNameList() {
  std::string names;
  for (int i = 0; i < ewma::kOutputCount; ++i) {
    if (i > 0) names += ", ";
    names += ewma::OutputName(static_cast<ewma::Output>(i));
  }
  return names;
}

Status ParseOutputs(const YAML::Node& node, const std::string& path,
                    ewma::EstimatorParams* params) {
  if (!node.IsSequence()) {
    return ProblemAt(path, "expected a list of outputs (" + OutputNameList() +
                               "), got " + Describe(node));
  }
  if (node.size() == 0) {
    return ProblemAt(path, "must list at least one of " + OutputNameList());
  }
  ewma::OutputMask mask = 0;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string item_path = IndexKeyPath(path, i);
    Result<std::string> name = ScalarText(node[i], item_path, "an output name");
    if (!name.ok()) return name.status();
    ewma::OutputMask bit = 0;
    for (int o = 0; o < ewma::kOutputCount; ++o) {
      const auto output = static_cast<ewma::Output>(o);
      if (*name == ewma::OutputName(output)) bit = ewma::OutputBit(output);
    }
    if (bit == 0) {
      return ProblemAt(item_path, "unknown output " + QuotedOneLine(*name) +
                                      " (one of " + OutputNameList() + ")");
    }
    if (mask & bit) {
      return ProblemAt(item_path, "duplicate output " + QuotedOneLine(*name));
    }
    mask |= bit;
  }
  params->outputs = mask;
  return Status::Ok();
}

struct EstimatorKey {
  std::string_view name;
  Status (*parse)(const YAML::Node&, const std::string&,
                  ewma::EstimatorParams*);
  // Keys of one group are mutually exclusive: kSmoothing (alpha, span,
  // half_life), kSpreadSmoothing (spread_alpha, spread_span); kAlone: none.
  enum Group { kAlone, kSmoothing, kSpreadSmoothing } group;
};
constexpr EstimatorKey kEstimatorKeys[] = {
    {"alpha", ParseAlpha, EstimatorKey::kSmoothing},
    {"span", ParseSpan, EstimatorKey::kSmoothing},
    {"half_life", ParseHalfLife, EstimatorKey::kSmoothing},
    {"k", ParseK, EstimatorKey::kAlone},
    {"min_samples", ParseMinSamples, EstimatorKey::kAlone},
    {"reset_after", ParseResetAfter, EstimatorKey::kAlone},
    {"threshold_basis", ParseThresholdBasis, EstimatorKey::kAlone},
    {"outputs", ParseOutputs, EstimatorKey::kAlone},
    {"spread", ParseSpread, EstimatorKey::kAlone},
    {"spread_alpha", ParseSpreadAlpha, EstimatorKey::kSpreadSmoothing},
    {"spread_span", ParseSpreadSpan, EstimatorKey::kSpreadSmoothing},
    {"transform", ParseTransform, EstimatorKey::kAlone},
    {"season", ParseSeason, EstimatorKey::kAlone},
};

const EstimatorKey* FindEstimatorKey(std::string_view name) {
  for (const EstimatorKey& key : kEstimatorKeys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

// Applies the estimator keys of one map (`ewma:` or a rule) on top of
// *params. `own_key` is the one other key the map may hold ("match" in a
// rule, none for `ewma:`), handled by the caller.
Status ApplyEstimatorKeys(const Entries& entries, const std::string& path,
                          std::string_view own_key,
                          ewma::EstimatorParams* params) {
  std::string_view smoothing_key;
  std::string_view spread_smoothing_key;
  for (const auto& [name, value] : entries) {
    if (!own_key.empty() && name == own_key) continue;
    const std::string key_path = JoinKeyPath(path, name);
    const EstimatorKey* key = FindEstimatorKey(name);
    if (key == nullptr) return ProblemAt(key_path, "unknown key");
    if (key->group == EstimatorKey::kSmoothing) {
      if (!smoothing_key.empty()) {
        return ProblemAt(key_path, "set only one of alpha, span, half_life (" +
                                       std::string(smoothing_key) +
                                       " is already set)");
      }
      smoothing_key = key->name;
    }
    if (key->group == EstimatorKey::kSpreadSmoothing) {
      if (!spread_smoothing_key.empty()) {
        return ProblemAt(key_path, "set only one of spread_alpha, spread_span (" +
                                       std::string(spread_smoothing_key) +
                                       " is already set)");
      }
      spread_smoothing_key = key->name;
    }
    Status status = key->parse(value, key_path, params);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Top-level keys.

bool IsAllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

Status ValidateListenAddress(std::string_view address,
                             const std::string& path) {
  std::string host;
  int port;
  Status s = SplitListenAddress(address, &host, &port);
  return s.ok() ? s : ProblemAt(path, s.message());
}

Status ParseListen(const YAML::Node& node, Config* config) {
  if (node.IsSequence()) {
    // `listen: [::1]:9201` unquoted reads as a YAML list.
    return ProblemAt("listen",
                     "expected HOST:PORT, got a list (quote IPv6 "
                     "addresses: \"[::1]:9201\")");
  }
  Result<std::string> text = ScalarText(node, "listen", "HOST:PORT");
  if (!text.ok()) return text.status();
  Status status = ValidateListenAddress(*text, "listen");
  if (!status.ok()) return status;
  config->listen = std::move(text).value();
  return Status::Ok();
}

Status ParseDataDir(const YAML::Node& node, Config* config) {
  Result<std::string> text = ScalarText(node, "data_dir", "a directory path");
  if (!text.ok()) return text.status();
  if (text->empty()) return ProblemAt("data_dir", "must not be empty");
  config->data_dir = std::move(text).value();
  return Status::Ok();
}

// A duration that must be > 0 (retention, checkpoint_interval).
Status ParsePositiveDuration(const YAML::Node& node, const char* key,
                             int64_t* out) {
  Result<int64_t> ms = ScalarDurationMs(node, key);
  if (!ms.ok()) return ms.status();
  if (*ms <= 0)
    return ProblemAt(key, "must be > 0, got " + QuotedOneLine(node.Scalar()));
  *out = *ms;
  return Status::Ok();
}

Status ParseRetention(const YAML::Node& node, Config* config) {
  return ParsePositiveDuration(node, "retention", &config->retention_ms);
}

Status ParseCheckpointInterval(const YAML::Node& node, Config* config) {
  return ParsePositiveDuration(node, "checkpoint_interval",
                               &config->checkpoint_interval_ms);
}

Status ParseSeriesIdleTimeout(const YAML::Node& node, Config* config) {
  // 0 keeps every series; absent: each series' reset_after.
  Result<int64_t> ms = ScalarDurationMs(node, "series_idle_timeout");
  if (!ms.ok()) return ms.status();
  if (*ms < 0) {
    return ProblemAt("series_idle_timeout",
                     "must be >= 0, got " + QuotedOneLine(node.Scalar()));
  }
  config->series_idle_timeout_ms = *ms;
  return Status::Ok();
}

Status ParseDurability(const YAML::Node& node, Config* config) {
  Result<std::string> text = ScalarText(node, "durability", "os or fsync");
  if (!text.ok()) return text.status();
  if (*text != "os" && *text != "fsync") {
    return ProblemAt("durability", "must be os or fsync, got " + QuotedOneLine(*text));
  }
  config->durability =
      *text == "os" ? wal::Durability::kOs : wal::Durability::kFsync;
  return Status::Ok();
}

Status ParseLogLevel(const YAML::Node& node, Config* config) {
  Result<std::string> text =
      ScalarText(node, "log_level", "one of debug, info, warn, error");
  if (!text.ok()) return text.status();
  if (*text != "debug" && *text != "info" && *text != "warn" &&
      *text != "error") {
    return ProblemAt(
        "log_level",
        "must be one of debug, info, warn, error, got " + QuotedOneLine(*text));
  }
  config->log_level = std::move(text).value();
  return Status::Ok();
}

Status ParseEwma(const YAML::Node& node, Config* config) {
  Result<Entries> entries = MapEntries(node, "ewma");
  if (!entries.ok()) return entries.status();
  return ApplyEstimatorKeys(*entries, "ewma", "", &config->ewma);
}

// `defaults` are the finished top-level ewma values; the rule's own keys
// are applied on top of them.
Result<Rule> ParseRule(const YAML::Node& node, const std::string& path,
                       const ewma::EstimatorParams& defaults) {
  if (!node.IsMap()) {
    return ProblemAt(path,
                     "expected a map with a match key, got " + Describe(node));
  }
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();

  const YAML::Node* match = nullptr;
  for (const auto& [name, value] : *entries) {
    if (name == "match") match = &value;
  }
  if (match == nullptr)
    return ProblemAt(path, "missing required key \"match\"");

  Rule rule;
  const std::string match_path = JoinKeyPath(path, "match");
  Result<std::string> text = ScalarText(*match, match_path, "a selector");
  if (!text.ok()) return text.status();
  Result<model::Selector> selector = model::Selector::Parse(*text);
  if (!selector.ok()) return ProblemAt(match_path, selector.status().message());
  rule.match = std::move(text).value();
  rule.selector = std::move(selector).value();

  rule.params = defaults;
  Status status = ApplyEstimatorKeys(*entries, path, "match", &rule.params);
  if (!status.ok()) return status;
  return rule;
}

Status ParseRules(const YAML::Node& node, Config* config) {
  if (node.IsNull()) return Status::Ok();
  if (!node.IsSequence()) {
    return ProblemAt("rules", "expected a list, got " + Describe(node));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    Result<Rule> rule =
        ParseRule(node[i], IndexKeyPath("rules", i), config->ewma);
    if (!rule.ok()) return rule.status();
    config->rules.push_back(std::move(rule).value());
  }
  return Status::Ok();
}

Status ParseLimitBytes(const YAML::Node& node, const std::string& path,
                       uint64_t* out) {
  Result<uint64_t> bytes = ScalarByteSize(node, path);
  if (!bytes.ok()) return bytes.status();
  if (*bytes == 0) return ProblemAt(path, "must be > 0, got " + node.Scalar());
  *out = *bytes;
  return Status::Ok();
}

// A count limit: an integer > 0.
Status ParseLimitCount(const YAML::Node& node, const std::string& path,
                       uint64_t* out) {
  Result<int64_t> n = ScalarInteger(node, path, "expected an integer > 0");
  if (!n.ok()) return n.status();
  if (*n <= 0) return ProblemAt(path, "must be > 0, got " + node.Scalar());
  *out = static_cast<uint64_t>(*n);
  return Status::Ok();
}

// A label limit: an integer in [1, 2^32).
Status ParseLimitUint32(const YAML::Node& node, const std::string& path,
                        uint32_t* out) {
  uint64_t n = 0;
  Status s = ParseLimitCount(node, path, &n);
  if (!s.ok()) return s;
  if (n > std::numeric_limits<uint32_t>::max()) {
    return ProblemAt(path, "must be below 4294967296, got " + node.Scalar());
  }
  *out = static_cast<uint32_t>(n);
  return Status::Ok();
}

Status ParseLimits(const YAML::Node& node, Config* config) {
  Result<Entries> entries = MapEntries(node, "limits");
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    const std::string path = JoinKeyPath("limits", name);
    Status status;
    if (name == "max_request_bytes") {
      status = ParseLimitBytes(value, path, &config->limits.max_request_bytes);
    } else if (name == "max_decoded_bytes") {
      status = ParseLimitBytes(value, path, &config->limits.max_decoded_bytes);
    } else if (name == "max_samples_per_query") {
      status = ParseLimitCount(value, path,
                               &config->limits.max_samples_per_query);
    } else if (name == "max_series_per_request") {
      status = ParseLimitCount(value, path,
                               &config->limits.max_series_per_request);
    } else if (name == "max_labels_per_series") {
      status = ParseLimitUint32(value, path,
                                &config->limits.series.max_labels_per_series);
    } else if (name == "max_label_name_length") {
      status = ParseLimitUint32(value, path,
                                &config->limits.series.max_label_name_length);
    } else if (name == "max_label_value_length") {
      status = ParseLimitUint32(value, path,
                                &config->limits.series.max_label_value_length);
    } else if (name == "max_active_series") {
      // 0 turns the limit off.
      Result<int64_t> n =
          ScalarInteger(value, path, "expected an integer >= 0 (0: no limit)");
      if (n.ok() && *n < 0) {
        status = ProblemAt(path, "must be >= 0 (0: no limit), got " +
                                     value.Scalar());
      } else if (n.ok()) {
        config->limits.series.max_active_series = static_cast<uint64_t>(*n);
      } else {
        status = n.status();
      }
    } else if (name == "min_free_disk_bytes") {
      // 0 turns the guard off.
      Result<uint64_t> bytes = ScalarByteSize(value, path);
      if (bytes.ok()) {
        config->limits.min_free_disk_bytes = *bytes;
      } else {
        status = bytes.status();
      }
    } else if (name == "max_concurrent_reads") {
      Result<int64_t> n =
          ScalarInteger(value, path, "expected an integer >= 0 (0: no limit)");
      if (n.ok() && (*n < 0 || *n > 1'000'000)) {
        status = ProblemAt(path, "must be in [0, 1000000] (0: no limit), got " +
                                     value.Scalar());
      } else if (n.ok()) {
        config->limits.max_concurrent_reads = static_cast<int>(*n);
      } else {
        status = n.status();
      }
    } else if (name == "max_connections") {
      Result<int64_t> n = ScalarInteger(value, path, "expected an integer > 0");
      if (n.ok() && (*n <= 0 || *n > 1'000'000)) {
        status = ProblemAt(path, "must be in [1, 1000000], got " + value.Scalar());
      } else if (n.ok()) {
        config->limits.max_connections = static_cast<int>(*n);
      } else {
        status = n.status();
      }
    } else {
      status = ProblemAt(path, "unknown key");
    }
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// memory

// A size of at least 1MiB.
Status ParseAtLeastOneMiB(const YAML::Node& node, const std::string& path,
                          uint64_t* out) {
  Status status = ParseLimitBytes(node, path, out);
  if (status.ok() && *out < (1ull << 20)) {
    return ProblemAt(path, "must be at least 1MiB, got " + node.Scalar());
  }
  return status;
}

Status ParseBool(const YAML::Node& node, const std::string& path, bool* out);

Status ParseMemory(const YAML::Node& node, Config* config) {
  Result<Entries> entries = MapEntries(node, "memory");
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    const std::string path = JoinKeyPath("memory", name);
    Status status;
    if (name == "memtables") {
      // RocksDB needs room for a memtable per column family.
      status = ParseAtLeastOneMiB(value, path, &config->memory.memtables);
    } else if (name == "block_cache") {
      Result<uint64_t> bytes = ScalarByteSize(value, path);
      if (bytes.ok()) {
        config->memory.block_cache = *bytes;
      } else {
        status = bytes.status();
      }
    } else if (name == "cache_reads") {
      status = ParseBool(value, path, &config->memory.cache_reads);
    } else if (name == "free_heap") {
      // Below a megabyte a trim would run every 2 s for nothing.
      status = ParseAtLeastOneMiB(value, path, &config->memory.free_heap);
    } else if (name == "malloc_arenas") {
      Result<int64_t> n =
          ScalarInteger(value, path, "expected an integer in [0, 64]");
      if (n.ok() && (*n < 0 || *n > 64)) {
        status = ProblemAt(path, "must be in [0, 64], got " + value.Scalar());
      } else if (n.ok()) {
        config->memory.malloc_arenas = static_cast<int>(*n);
      } else {
        status = n.status();
      }
    } else {
      status = ProblemAt(path, "unknown key");
    }
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// write_back

// An int; its range is ValidateQueueConfig's to check.
Status ParseInt(const YAML::Node& node, const std::string& path, int* out) {
  Result<int64_t> n = ScalarInteger(node, path, "expected an integer");
  if (!n.ok()) return n.status();
  if (*n < std::numeric_limits<int>::min() ||
      *n > std::numeric_limits<int>::max()) {
    return ProblemAt(path, "out of range, got " + node.Scalar());
  }
  *out = static_cast<int>(*n);
  return Status::Ok();
}

Status ParseMilliseconds(const YAML::Node& node, const std::string& path,
                         std::chrono::milliseconds* out) {
  Result<int64_t> ms = ScalarDurationMs(node, path);
  if (!ms.ok()) return ms.status();
  *out = std::chrono::milliseconds(*ms);
  return Status::Ok();
}

Status ParseBool(const YAML::Node& node, const std::string& path, bool* out) {
  Result<std::string> text = ScalarText(node, path, "true or false");
  if (!text.ok()) return text.status();
  if (*text == "true") {
    *out = true;
  } else if (*text == "false") {
    *out = false;
  } else {
    return ProblemAt(path, "expected true or false, got " + QuotedOneLine(*text));
  }
  return Status::Ok();
}

Status ParseString(const YAML::Node& node, const std::string& path,
                   std::string* out) {
  Result<std::string> text = ScalarText(node, path, "a string");
  if (!text.ok()) return text.status();
  *out = std::move(text).value();
  return Status::Ok();
}

// Fills `target` from queue_config; retry_on_http_429 is the client's.
Status ParseQueueConfig(const YAML::Node& node, const std::string& path,
                        writeback::TargetConfig* target) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  writeback::QueueConfig& q = target->queue;
  for (const auto& [name, value] : *entries) {
    const std::string key = JoinKeyPath(path, name);
    Status st;
    if (name == "capacity") {
      st = ParseInt(value, key, &q.capacity);
    } else if (name == "min_shards") {
      st = ParseInt(value, key, &q.min_shards);
    } else if (name == "max_shards") {
      st = ParseInt(value, key, &q.max_shards);
    } else if (name == "max_samples_per_send") {
      st = ParseInt(value, key, &q.max_samples_per_send);
    } else if (name == "batch_send_deadline") {
      st = ParseMilliseconds(value, key, &q.batch_send_deadline);
    } else if (name == "min_backoff") {
      st = ParseMilliseconds(value, key, &q.min_backoff);
    } else if (name == "max_backoff") {
      st = ParseMilliseconds(value, key, &q.max_backoff);
    } else if (name == "retry_on_http_429") {
      st = ParseBool(value, key, &target->client.retry_on_http_429);
    } else if (name == "max_retry_duration") {
      st = ParseMilliseconds(value, key, &q.max_retry_duration);
    } else {
      st = ProblemAt(key, "unknown key");
    }
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status ParseStringMap(const YAML::Node& node, const std::string& path,
                      std::vector<std::pair<std::string, std::string>>* out) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    Result<std::string> text =
        ScalarText(value, JoinKeyPath(path, name), "a string");
    if (!text.ok()) return text.status();
    out->emplace_back(name, *text);
  }
  return Status::Ok();
}

// A map of string keys, each stored in the field `fields` gives for it.
Status ParseStringFields(
    const YAML::Node& node, const std::string& path,
    std::initializer_list<std::pair<std::string_view, std::string*>> fields) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    const std::string key = JoinKeyPath(path, name);
    std::string* field = nullptr;
    for (const auto& [known, target] : fields) {
      if (known == name) field = target;
    }
    if (field == nullptr) return ProblemAt(key, "unknown key");
    if (Status st = ParseString(value, key, field); !st.ok()) return st;
  }
  return Status::Ok();
}

Status ParseTlsVersion(const YAML::Node& node, const std::string& path,
                       remote::TlsConfig::Version* out) {
  std::string version;
  if (Status st = ParseString(node, path, &version); !st.ok()) return st;
  if (version == "TLS12") {
    *out = remote::TlsConfig::Version::kTls12;
  } else if (version == "TLS13") {
    *out = remote::TlsConfig::Version::kTls13;
  } else if (version == "TLS10" || version == "TLS11") {
    return ProblemAt(path,
                     "TLS10 and TLS11 are not supported; use TLS12 or TLS13");
  } else {
    return ProblemAt(path, "must be TLS12 or TLS13, got " + QuotedOneLine(version));
  }
  return Status::Ok();
}

Status ParseTlsConfig(const YAML::Node& node, const std::string& path,
                      remote::TlsConfig* tls) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    const std::string key = JoinKeyPath(path, name);
    Status st;
    if (name == "insecure_skip_verify") {
      st = ParseBool(value, key, &tls->insecure_skip_verify);
    } else if (name == "min_version") {
      st = ParseTlsVersion(value, key, &tls->min_version);
    } else if (name == "ca" || name == "cert" || name == "key") {
      st = ProblemAt(key, "inline PEM is not supported; use " + name + "_file");
    } else if (name == "ca_file") {
      st = ParseString(value, key, &tls->ca_file);
    } else if (name == "cert_file") {
      st = ParseString(value, key, &tls->cert_file);
    } else if (name == "key_file") {
      st = ParseString(value, key, &tls->key_file);
    } else if (name == "server_name") {
      st = ParseString(value, key, &tls->server_name);
    } else {
      st = ProblemAt(key, "unknown key");
    }
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

// One of a remote client's keys (client_config.h), the ones write_back
// targets and warm_start share; false when `name` is not one of them.
// What they must hold is ValidateClientConfig's to say, once the whole
// file is read.
bool ParseClientKey(const std::string& name, const YAML::Node& value,
                    const std::string& key, remote::ClientConfig* client,
                    Status* st) {
  if (name == "url") {
    *st = ParseString(value, key, &client->url);
  } else if (name == "remote_timeout") {
    *st = ParseMilliseconds(value, key, &client->remote_timeout);
  } else if (name == "headers") {
    *st = ParseStringMap(value, key, &client->headers);
  } else if (name == "basic_auth") {
    remote::BasicAuth& basic = client->basic_auth.emplace();
    *st = ParseStringFields(value, key,
                            {{"username", &basic.username},
                             {"password", &basic.password},
                             {"password_file", &basic.password_file}});
  } else if (name == "authorization") {
    remote::Authorization& auth = client->authorization.emplace();
    *st = ParseStringFields(value, key,
                            {{"type", &auth.type},
                             {"credentials", &auth.credentials},
                             {"credentials_file", &auth.credentials_file}});
  } else if (name == "tls_config") {
    *st = ParseTlsConfig(value, key, &client->tls_config.emplace());
  } else {
    return false;
  }
  return true;
}

// The target's keys and their types; what they must hold is
// writeback::ValidateTarget's to say, once the whole file is read.
Result<writeback::TargetConfig> ParseWriteBackTarget(const YAML::Node& node,
                                                     const std::string& path) {
  writeback::TargetConfig target;
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  bool has_url = false;
  for (const auto& [name, value] : *entries) {
    const std::string key = JoinKeyPath(path, name);
    Status st;
    has_url |= name == "url";
    if (ParseClientKey(name, value, key, &target.client, &st)) {
      // parsed
    } else if (name == "queue_config") {
      st = ParseQueueConfig(value, key, &target);
    } else {
      st = ProblemAt(key, "unknown key");
    }
    if (!st.ok()) return st;
  }
  if (!has_url) return ProblemAt(JoinKeyPath(path, "url"), "is required");
  return target;
}

Status ParseWriteBack(const YAML::Node& node, Config* config) {
  if (node.IsNull()) return Status::Ok();
  if (!node.IsSequence()) {
    return ProblemAt("write_back", "expected a list, got " + Describe(node));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    Result<writeback::TargetConfig> t =
        ParseWriteBackTarget(node[i], IndexKeyPath("write_back", i));
    if (!t.ok()) return t.status();
    config->write_back.push_back(std::move(t).value());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// warm_start

Status ParseWarmStart(const YAML::Node& node, Config* config) {
  if (node.IsNull()) return Status::Ok();
  const std::string path = "warm_start";
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  WarmStartConfig warm;
  bool has_url = false;
  for (const auto& [name, value] : *entries) {
    const std::string key = JoinKeyPath(path, name);
    Status st;
    has_url |= name == "url";
    if (ParseClientKey(name, value, key, &warm.client, &st)) {
      // parsed
    } else if (name == "lookback") {
      st = ParseMilliseconds(value, key, &warm.lookback);
      if (st.ok() && warm.lookback.count() <= 0) {
        st = ProblemAt(key, "must be positive");
      }
    } else if (name == "budget") {
      st = ParseMilliseconds(value, key, &warm.budget);
      if (st.ok() && warm.budget.count() <= 0) {
        st = ProblemAt(key, "must be positive");
      }
    } else if (name == "max_held_samples") {
      Result<int64_t> n = ScalarInteger(value, key, "expected an integer");
      st = n.status();
      if (st.ok() && *n <= 0) st = ProblemAt(key, "must be positive");
      if (st.ok()) warm.max_held_samples = static_cast<uint64_t>(*n);
    } else if (name == "concurrency") {
      st = ParseInt(value, key, &warm.concurrency);
      if (st.ok() && (warm.concurrency < 1 || warm.concurrency > 64)) {
        st = ProblemAt(key, "must be 1 to 64");
      }
    } else {
      st = ProblemAt(key, "unknown key");
    }
    if (!st.ok()) return st;
  }
  if (!has_url) return ProblemAt(JoinKeyPath(path, "url"), "is required");
  config->warm_start = std::move(warm);
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// notify

// The keys a Teams channel and the msteams section share; their values
// are checked by ResolveTeamsChannel once the whole file is read.
Status ParseTeamsChannelKey(const std::string& name, const YAML::Node& value,
                            const std::string& key, TeamsChannel* channel) {
  if (name == "webhook_url_file") {
    return ParseString(value, key, &channel->webhook_url_file);
  }
  if (name == "webhook_url_env") {
    return ParseString(value, key, &channel->webhook_url_env);
  }
  if (name == "webhook_url")
    return ParseString(value, key, &channel->webhook_url);
  if (name == "title") {
    Status st = ParseString(value, key, &channel->title);
    if (st.ok() && channel->title.empty()) {
      return ProblemAt(key, "must not be empty");
    }
    return st;
  }
  if (name == "send_resolved") {
    return ParseBool(value, key, &channel->send_resolved);
  }
  if (name == "timeout")
    return ScalarDurationMsInto(value, key, &channel->timeout_ms);
  return ProblemAt(key, "unknown key");
}

bool HasWebhookUrl(const TeamsChannel& c) {
  return !c.webhook_url_file.empty() || !c.webhook_url_env.empty() ||
         !c.webhook_url.empty();
}

Status ParseMsTeams(const YAML::Node& node, const std::string& path,
                    MsTeamsConfig* msteams) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  TeamsChannel top;
  const YAML::Node* channels = nullptr;
  for (const auto& [name, value] : *entries) {
    if (name == "channels") {
      channels = &value;
      continue;
    }
    Status st =
        ParseTeamsChannelKey(name, value, JoinKeyPath(path, name), &top);
    if (!st.ok()) return st;
  }
  // A channel starts from the section's title, send_resolved and timeout.
  TeamsChannel inherited = top;
  inherited.webhook_url_file.clear();
  inherited.webhook_url_env.clear();
  inherited.webhook_url.clear();
  if (channels != nullptr) {
    const std::string channels_path = JoinKeyPath(path, "channels");
    Result<Entries> named = MapEntries(*channels, channels_path);
    if (!named.ok()) return named.status();
    for (const auto& [channel_name, channel_node] : *named) {
      const std::string channel_path = JoinKeyPath(channels_path, channel_name);
      if (!IsValidChannelName(channel_name)) {
        return ProblemAt(channel_path,
                         "channel names are [A-Za-z0-9_-]+ (they are the "
                         "last part of the endpoint's path)");
      }
      if (channel_name == "default") {
        return ProblemAt(channel_path,
                         "the name \"default\" is taken by the unnamed "
                         "channel (/api/v1/notify/msteams); choose another");
      }
      if (!channel_node.IsMap()) {
        return ProblemAt(
            channel_path,
            "expected a map with a webhook URL, got " + Describe(channel_node));
      }
      Result<Entries> keys = MapEntries(channel_node, channel_path);
      if (!keys.ok()) return keys.status();
      TeamsChannel channel = inherited;
      for (const auto& [name, value] : *keys) {
        Status st = ParseTeamsChannelKey(
            name, value, JoinKeyPath(channel_path, name), &channel);
        if (!st.ok()) return st;
      }
      msteams->channels.emplace(channel_name, std::move(channel));
    }
  }
  if (HasWebhookUrl(top)) {
    msteams->default_channel = std::move(top);
  } else if (msteams->channels.empty()) {
    return ProblemAt(path,
                     "needs a webhook URL (webhook_url_file, webhook_url_env "
                     "or webhook_url) or at least one entry in channels");
  } else if (top.timeout_ms <= 0 || top.timeout_ms >= kMaxTeamsTimeoutMs) {
    return ProblemAt(JoinKeyPath(path, "timeout"),
                     "must be > 0 and below Alertmanager's 10s webhook "
                     "timeout, got " +
                         std::to_string(top.timeout_ms) + "ms");
  }
  return Status::Ok();
}

Status ParseNotify(const YAML::Node& node, Config* config) {
  Result<Entries> entries = MapEntries(node, "notify");
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    const std::string path = JoinKeyPath("notify", name);
    if (name != "msteams")
      return ProblemAt(path, "unknown key (msteams is the one receiver)");
    Status st = ParseMsTeams(value, path, &config->notify.msteams.emplace());
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

// Reads each channel's URL and checks it, as start-up would.
Status ResolveNotify(const std::string& config_dir, NotifyConfig* notify) {
  if (!notify->msteams) return Status::Ok();
  MsTeamsConfig& msteams = *notify->msteams;
  const std::string path = "notify.msteams";
  if (msteams.default_channel) {
    Status s = ResolveTeamsChannel(path, config_dir, ProcessEnv,
                                   &*msteams.default_channel);
    if (!s.ok()) return s;
  }
  for (auto& [name, channel] : msteams.channels) {
    Status s = ResolveTeamsChannel(JoinKeyPath(path + ".channels", name),
                                   config_dir, ProcessEnv, &channel);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// Secret and TLS files are relative to the config file, as in Prometheus.
void ResolveFilesAgainst(const std::filesystem::path& dir,
                         remote::ClientConfig* client) {
  remote::ClientConfig& c = *client;
  std::vector<std::string*> files;
  if (c.basic_auth) files.push_back(&c.basic_auth->password_file);
  if (c.authorization) files.push_back(&c.authorization->credentials_file);
  if (c.tls_config) {
    files.insert(files.end(), {&c.tls_config->ca_file,
                               &c.tls_config->cert_file,
                               &c.tls_config->key_file});
  }
  for (std::string* file : files) {
    if (!file->empty() && std::filesystem::path(*file).is_relative()) {
      *file = (dir / *file).string();
    }
  }
}

using TopLevelParser = Status (*)(const YAML::Node&, Config*);
struct TopLevelKey {
  std::string_view name;
  TopLevelParser parse;
};
// In the order they are applied, which need not be the order in the file:
// rules start from the finished top-level `ewma:` values.
constexpr TopLevelKey kTopLevelKeys[] = {
    {"listen", ParseListen},
    {"log_level", ParseLogLevel},
    {"data_dir", ParseDataDir},
    {"retention", ParseRetention},
    {"checkpoint_interval", ParseCheckpointInterval},
    {"series_idle_timeout", ParseSeriesIdleTimeout},
    {"durability", ParseDurability},
    {"ewma", ParseEwma},
    {"rules", ParseRules},
    {"limits", ParseLimits},
    {"memory", ParseMemory},
    {"write_back", ParseWriteBack},
    {"warm_start", ParseWarmStart},
    {"notify", ParseNotify},
};

Result<Config> ParseRoot(const YAML::Node& root) {
  if (!root.IsNull() && !root.IsMap()) {
    return ProblemAt("", "expected a map of settings at the top level, got " +
                             Describe(root));
  }
  Result<Entries> entries = MapEntries(root, "");
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    bool known = false;
    for (const TopLevelKey& key : kTopLevelKeys) known |= key.name == name;
    if (!known) return ProblemAt(name, "unknown key");
  }

  Config config;
  for (const TopLevelKey& key : kTopLevelKeys) {
    for (const auto& [name, value] : *entries) {
      if (name != key.name) continue;
      Status status = key.parse(value, &config);
      if (!status.ok()) return status;
    }
  }
  return config;
}

// The document's root node. A YAML syntax error is reported by line (the
// key path is unknown at that point); a file of only comments is null.
Result<YAML::Node> LoadDocument(std::string_view yaml_text) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml_text));
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument("line " + std::to_string(e.mark.line + 1) +
                                   ": " + e.msg);
  }
  if (documents.size() > 1) {
    return Status::InvalidArgument("expected one YAML document, found " +
                                   std::to_string(documents.size()) +
                                   " (remove the extra '---')");
  }
  if (documents.empty()) return YAML::Node(YAML::NodeType::Null);
  return documents[0];
}

Status WithSource(std::string_view source_name, const Status& status) {
  std::string msg(source_name);
  msg += ": ";
  msg += EscapeToOneLine(status.message());
  return status.code() == StatusCode::kInvalidArgument
             ? Status::InvalidArgument(std::move(msg))
             : Status::Internal(std::move(msg));
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Whole file into *out; the message names the OS error.
Status ReadFile(const std::string& path, std::string* out) {
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    const int err = errno;
    std::string msg = path + ": cannot read config file: " +
                      std::generic_category().message(err);
    return err == ENOENT ? Status::NotFound(std::move(msg))
                         : Status::InvalidArgument(std::move(msg));
  }
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    out->append(buffer, n);
  }
  if (std::ferror(file.get())) {
    // fopen succeeds on a directory; the read reports EISDIR.
    const int err = errno;
    return Status::InvalidArgument(path + ": cannot read config file: " +
                                   std::generic_category().message(err));
  }
  return Status::Ok();
}

}  // namespace

Status SplitListenAddress(std::string_view address, std::string* host,
                          int* port) {
  std::string_view h;
  std::string_view p;
  if (!address.empty() && address[0] == '[') {
    const size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return Status::InvalidArgument("expected [IPV6]:PORT, got " +
                                     QuotedOneLine(address));
    }
    h = address.substr(1, close - 1);
    p = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("expected HOST:PORT, got " +
                                     QuotedOneLine(address));
    }
    h = address.substr(0, colon);
    p = address.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) {
      return Status::InvalidArgument(
          "an IPv6 host goes in brackets, e.g. \"[::1]:9201\", got " +
          QuotedOneLine(address));
    }
  }
  if (h.empty()) {
    return Status::InvalidArgument(
        "host must not be empty (use 0.0.0.0:PORT for all interfaces), got " +
        QuotedOneLine(address));
  }
  if (!IsAllDigits(p) || p.size() > 5 || std::stoi(std::string(p)) > 65535) {
    return Status::InvalidArgument("port must be a number in 0..65535, got " +
                                   QuotedOneLine(address));
  }
  *host = std::string(h);
  *port = std::stoi(std::string(p));
  return Status::Ok();
}

Result<Config> ParseConfig(std::string_view yaml_text,
                           std::string_view source_name) {
  // yaml-cpp reports through exceptions (node access included); they stop
  // here so that callers only ever see a Status.
  try {
    Result<YAML::Node> root = LoadDocument(yaml_text);
    if (!root.ok()) return WithSource(source_name, root.status());
    Result<Config> config = ParseRoot(*root);
    if (!config.ok()) return WithSource(source_name, config.status());
    // Checked once the whole file is read, with the check start-up runs.
    const std::filesystem::path dir =
        std::filesystem::path(source_name).parent_path();
    for (size_t i = 0; i < config->write_back.size(); ++i) {
      writeback::TargetConfig& target = config->write_back[i];
      ResolveFilesAgainst(dir, &target.client);
      Status s =
          writeback::ValidateTarget(target, IndexKeyPath("write_back", i));
      if (!s.ok()) return WithSource(source_name, s);
    }
    if (config->warm_start) {
      ResolveFilesAgainst(dir, &config->warm_start->client);
      Status s = remote::ValidateReadClientConfig(config->warm_start->client,
                                                  "warm_start");
      if (!s.ok()) return WithSource(source_name, s);
    }
    if (Status s = ResolveNotify(dir.string(), &config->notify); !s.ok()) {
      return WithSource(source_name, s);
    }
    return config;
  } catch (const YAML::Exception& e) {
    std::string msg = e.msg;
    if (!e.mark.is_null()) {
      msg = "line " + std::to_string(e.mark.line + 1) + ": " + msg;
    }
    return WithSource(source_name, Status::InvalidArgument(msg));
  } catch (const std::exception& e) {
    return WithSource(source_name, Status::Internal(e.what()));
  }
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::string text;
  Status status = ReadFile(path, &text);
  if (!status.ok()) return status;
  return ParseConfig(text, path);
}

}  // namespace promewma::config
