#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "common/one_line.h"
#include "common/duration.h"

namespace promewma::config {
namespace {

// (key, value) pairs of a YAML map in file order.
using Entries = std::vector<std::pair<std::string, YAML::Node>>;

// ---------------------------------------------------------------------------
// Error messages. Functions below return "<path>: <problem>"; ParseConfig
// puts the source name in front.

std::string ChildPath(const std::string& parent, std::string_view key) {
  std::string path = parent;
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

std::string IndexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

Status ProblemAt(const std::string& path, std::string_view problem) {
  std::string msg = path;
  if (!msg.empty()) msg += ": ";
  msg += problem;
  return Status::InvalidArgument(std::move(msg));
}

std::string Quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// What a node is, for "expected X, got Y".
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return Quoted(node.Scalar());
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
      if (seen == key) return ProblemAt(ChildPath(path, key), "duplicate key");
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
    return ProblemAt(path, "expected a number, got " + Quoted(*text));
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

Status ParseThresholdBasis(const YAML::Node& node, const std::string& path,
                           ewma::EstimatorParams* params) {
  Result<std::string> text = ScalarText(node, path, "prior or posterior");
  if (!text.ok()) return text.status();
  if (*text == "prior") {
    params->threshold_basis = ewma::ThresholdBasis::kPrior;
  } else if (*text == "posterior") {
    params->threshold_basis = ewma::ThresholdBasis::kPosterior;
  } else {
    return ProblemAt(path, "must be prior or posterior, got " + Quoted(*text));
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
    const std::string item_path = IndexPath(path, i);
    Result<std::string> name = ScalarText(node[i], item_path, "an output name");
    if (!name.ok()) return name.status();
    ewma::OutputMask bit = 0;
    for (int o = 0; o < ewma::kOutputCount; ++o) {
      const auto output = static_cast<ewma::Output>(o);
      if (*name == ewma::OutputName(output)) bit = ewma::OutputBit(output);
    }
    if (bit == 0) {
      return ProblemAt(item_path, "unknown output " + Quoted(*name) +
                                      " (one of " + OutputNameList() + ")");
    }
    if (mask & bit) {
      return ProblemAt(item_path, "duplicate output " + Quoted(*name));
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
  bool is_smoothing;  // one of the mutually exclusive alpha/span/half_life
};
constexpr EstimatorKey kEstimatorKeys[] = {
    {"alpha", ParseAlpha, true},
    {"span", ParseSpan, true},
    {"half_life", ParseHalfLife, true},
    {"k", ParseK, false},
    {"min_samples", ParseMinSamples, false},
    {"reset_after", ParseResetAfter, false},
    {"threshold_basis", ParseThresholdBasis, false},
    {"outputs", ParseOutputs, false},
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
  for (const auto& [name, value] : entries) {
    if (!own_key.empty() && name == own_key) continue;
    const std::string key_path = ChildPath(path, name);
    const EstimatorKey* key = FindEstimatorKey(name);
    if (key == nullptr) return ProblemAt(key_path, "unknown key");
    if (key->is_smoothing) {
      if (!smoothing_key.empty()) {
        return ProblemAt(key_path, "set only one of alpha, span, half_life (" +
                                       std::string(smoothing_key) +
                                       " is already set)");
      }
      smoothing_key = key->name;
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
    return ProblemAt(key, "must be > 0, got " + Quoted(node.Scalar()));
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

Status ParseDurability(const YAML::Node& node, Config* config) {
  Result<std::string> text = ScalarText(node, "durability", "os or fsync");
  if (!text.ok()) return text.status();
  if (*text != "os" && *text != "fsync") {
    return ProblemAt("durability", "must be os or fsync, got " + Quoted(*text));
  }
  config->durability =
      *text == "os" ? store::Durability::kOs : store::Durability::kFsync;
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
        "must be one of debug, info, warn, error, got " + Quoted(*text));
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
  const std::string match_path = ChildPath(path, "match");
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
    Result<Rule> rule = ParseRule(node[i], IndexPath("rules", i), config->ewma);
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

Status ParseLimits(const YAML::Node& node, Config* config) {
  Result<Entries> entries = MapEntries(node, "limits");
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    const std::string path = ChildPath("limits", name);
    Status status;
    if (name == "max_request_bytes") {
      status = ParseLimitBytes(value, path, &config->limits.max_request_bytes);
    } else if (name == "max_decoded_bytes") {
      status = ParseLimitBytes(value, path, &config->limits.max_decoded_bytes);
    } else if (name == "max_samples_per_query") {
      Result<int64_t> n = ScalarInteger(value, path, "expected an integer > 0");
      if (n.ok() && *n <= 0) {
        status = ProblemAt(path, "must be > 0, got " + value.Scalar());
      } else if (n.ok()) {
        config->limits.max_samples_per_query = static_cast<uint64_t>(*n);
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

Status ParseCount(const YAML::Node& node, const std::string& path, int min,
                  int* out) {
  Result<int64_t> n = ScalarInteger(node, path, "an integer");
  if (!n.ok()) return n.status();
  if (*n < min || *n > (1 << 30)) {
    return ProblemAt(path, "must be >= " + std::to_string(min) + ", got " +
                               node.Scalar());
  }
  *out = static_cast<int>(*n);
  return Status::Ok();
}

Status ParseWriteBackDuration(const YAML::Node& node, const std::string& path,
                              int64_t* out_ms) {
  Result<int64_t> ms = ScalarDurationMs(node, path);
  if (!ms.ok()) return ms.status();
  if (*ms <= 0) return ProblemAt(path, "must be > 0, got " + node.Scalar());
  *out_ms = *ms;
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
    return ProblemAt(path, "expected true or false, got " + Quoted(*text));
  }
  return Status::Ok();
}

Status ParseQueueConfig(const YAML::Node& node, const std::string& path,
                        WriteBackQueueConfig* q) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    const std::string key = ChildPath(path, name);
    Status st;
    if (name == "capacity") {
      st = ParseCount(value, key, 1, &q->capacity);
    } else if (name == "min_shards") {
      st = ParseCount(value, key, 1, &q->min_shards);
    } else if (name == "max_shards") {
      st = ParseCount(value, key, 1, &q->max_shards);
    } else if (name == "max_samples_per_send") {
      st = ParseCount(value, key, 1, &q->max_samples_per_send);
    } else if (name == "batch_send_deadline") {
      st = ParseWriteBackDuration(value, key, &q->batch_send_deadline_ms);
    } else if (name == "min_backoff") {
      st = ParseWriteBackDuration(value, key, &q->min_backoff_ms);
    } else if (name == "max_backoff") {
      st = ParseWriteBackDuration(value, key, &q->max_backoff_ms);
    } else if (name == "retry_on_http_429") {
      st = ParseBool(value, key, &q->retry_on_http_429);
    } else if (name == "max_retry_duration") {
      st = ParseWriteBackDuration(value, key, &q->max_retry_duration_ms);
    } else {
      st = ProblemAt(key, "unknown key");
    }
    if (!st.ok()) return st;
  }
  if (q->min_shards > q->max_shards) {
    return ProblemAt(ChildPath(path, "min_shards"),
                     "must be <= max_shards (" +
                         std::to_string(q->max_shards) + "), got " +
                         std::to_string(q->min_shards));
  }
  if (q->min_backoff_ms > q->max_backoff_ms) {
    return ProblemAt(ChildPath(path, "min_backoff"), "must be <= max_backoff");
  }
  if (q->max_samples_per_send > q->capacity) {
    return ProblemAt(ChildPath(path, "max_samples_per_send"),
                     "must be <= capacity (" + std::to_string(q->capacity) +
                         "), got " + std::to_string(q->max_samples_per_send));
  }
  return Status::Ok();
}

Status ValidateWriteBackUrl(const std::string& url, const std::string& path) {
  const bool http = url.rfind("http://", 0) == 0;
  const bool https = url.rfind("https://", 0) == 0;
  const size_t host_start = http ? 7 : 8;
  if ((!http && !https) || url.size() <= host_start ||
      url[host_start] == '/') {
    return ProblemAt(path, "expected an http:// or https:// URL with a host, "
                           "got " + Quoted(url));
  }
  return Status::Ok();
}

Status ParseStringMap(const YAML::Node& node, const std::string& path,
                      std::vector<std::pair<std::string, std::string>>* out) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    Result<std::string> text =
        ScalarText(value, ChildPath(path, name), "a string");
    if (!text.ok()) return text.status();
    out->emplace_back(name, *text);
  }
  return Status::Ok();
}

Status ParseBasicAuth(const YAML::Node& node, const std::string& path,
                      WriteBackTarget* t) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    const std::string key = ChildPath(path, name);
    std::string* field = name == "username"        ? &t->basic_auth_username
                         : name == "password"      ? &t->basic_auth_password
                         : name == "password_file" ? &t->basic_auth_password_file
                                                   : nullptr;
    if (field == nullptr) return ProblemAt(key, "unknown key");
    Result<std::string> text = ScalarText(value, key, "a string");
    if (!text.ok()) return text.status();
    *field = *text;
  }
  if (!t->basic_auth_password.empty() && !t->basic_auth_password_file.empty()) {
    return ProblemAt(path, "password and password_file are exclusive");
  }
  return Status::Ok();
}

Status ParseAuthorization(const YAML::Node& node, const std::string& path,
                          WriteBackTarget* t) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    const std::string key = ChildPath(path, name);
    std::string* field =
        name == "type"               ? &t->authorization_type
        : name == "credentials"      ? &t->authorization_credentials
        : name == "credentials_file" ? &t->authorization_credentials_file
                                     : nullptr;
    if (field == nullptr) return ProblemAt(key, "unknown key");
    Result<std::string> text = ScalarText(value, key, "a string");
    if (!text.ok()) return text.status();
    *field = *text;
  }
  if (!t->authorization_credentials.empty() &&
      !t->authorization_credentials_file.empty()) {
    return ProblemAt(path, "credentials and credentials_file are exclusive");
  }
  return Status::Ok();
}

Status ParseTlsConfig(const YAML::Node& node, const std::string& path,
                      WriteBackTls* tls) {
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  for (const auto& [name, value] : *entries) {
    const std::string key = ChildPath(path, name);
    if (name == "insecure_skip_verify") {
      if (Status st = ParseBool(value, key, &tls->insecure_skip_verify);
          !st.ok()) {
        return st;
      }
      continue;
    }
    if (name == "ca" || name == "cert" || name == "key") {
      return ProblemAt(key, "inline PEM is not supported; use " + name +
                                "_file");
    }
    std::string* field = name == "ca_file"       ? &tls->ca_file
                         : name == "cert_file"   ? &tls->cert_file
                         : name == "key_file"    ? &tls->key_file
                         : name == "server_name" ? &tls->server_name
                         : name == "min_version" ? &tls->min_version
                                                 : nullptr;
    if (field == nullptr) return ProblemAt(key, "unknown key");
    Result<std::string> text = ScalarText(value, key, "a string");
    if (!text.ok()) return text.status();
    *field = *text;
  }
  if (tls->min_version == "TLS10" || tls->min_version == "TLS11") {
    return ProblemAt(ChildPath(path, "min_version"),
                     "TLS10 and TLS11 are not supported; use TLS12 or TLS13");
  }
  if (tls->min_version != "TLS12" && tls->min_version != "TLS13") {
    return ProblemAt(ChildPath(path, "min_version"),
                     "must be TLS12 or TLS13, got " + Quoted(tls->min_version));
  }
  if (tls->cert_file.empty() != tls->key_file.empty()) {
    return ProblemAt(path, "cert_file and key_file must be set together");
  }
  return Status::Ok();
}

Result<WriteBackTarget> ParseWriteBackTarget(const YAML::Node& node,
                                             const std::string& path) {
  WriteBackTarget t;
  Result<Entries> entries = MapEntries(node, path);
  if (!entries.ok()) return entries.status();
  bool has_basic_auth = false, has_authorization = false, has_tls = false;
  for (const auto& [name, value] : *entries) {
    const std::string key = ChildPath(path, name);
    Status st;
    if (name == "url") {
      Result<std::string> url = ScalarText(value, key, "a URL");
      st = url.ok() ? ValidateWriteBackUrl(*url, key) : url.status();
      if (st.ok()) t.url = *url;
    } else if (name == "remote_timeout") {
      st = ParseWriteBackDuration(value, key, &t.remote_timeout_ms);
    } else if (name == "headers") {
      st = ParseStringMap(value, key, &t.headers);
    } else if (name == "basic_auth") {
      st = ParseBasicAuth(value, key, &t);
      has_basic_auth = true;
    } else if (name == "authorization") {
      st = ParseAuthorization(value, key, &t);
      has_authorization = true;
    } else if (name == "tls_config") {
      st = ParseTlsConfig(value, key, &t.tls);
      has_tls = true;
    } else if (name == "queue_config") {
      st = ParseQueueConfig(value, key, &t.queue);
    } else {
      st = ProblemAt(key, "unknown key");
    }
    if (!st.ok()) return st;
  }
  if (t.url.empty()) return ProblemAt(ChildPath(path, "url"), "is required");
  if (has_basic_auth && has_authorization) {
    return ProblemAt(path, "basic_auth and authorization are exclusive");
  }
  // A tls_config the scheme ignores would be a silent plaintext target.
  if (has_tls && t.url.rfind("https://", 0) != 0) {
    return ProblemAt(ChildPath(path, "tls_config"),
                     "needs an https:// url, got " + Quoted(t.url));
  }
  return t;
}

Status ParseWriteBack(const YAML::Node& node, Config* config) {
  if (node.IsNull()) return Status::Ok();
  if (!node.IsSequence()) {
    return ProblemAt("write_back", "expected a list, got " + Describe(node));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    Result<WriteBackTarget> t =
        ParseWriteBackTarget(node[i], IndexPath("write_back", i));
    if (!t.ok()) return t.status();
    config->write_back.push_back(std::move(t).value());
  }
  return Status::Ok();
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
    {"durability", ParseDurability},
    {"ewma", ParseEwma},
    {"rules", ParseRules},
    {"limits", ParseLimits},
    {"write_back", ParseWriteBack},
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

// Whether `path` can be opened and read; the message names the OS error.
Status CheckReadable(const std::string& path) {
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file != nullptr) {
    std::fgetc(file.get());  // a directory opens, and fails here (EISDIR)
    if (!std::ferror(file.get())) return Status::Ok();
  }
  return Status::InvalidArgument("cannot read " + path + ": " +
                                 std::generic_category().message(errno));
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
                                     Quoted(address));
    }
    h = address.substr(1, close - 1);
    p = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("expected HOST:PORT, got " +
                                     Quoted(address));
    }
    h = address.substr(0, colon);
    p = address.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) {
      return Status::InvalidArgument(
          "an IPv6 host goes in brackets, e.g. \"[::1]:9201\", got " +
          Quoted(address));
    }
  }
  if (h.empty()) {
    return Status::InvalidArgument(
        "host must not be empty (use 0.0.0.0:PORT for all interfaces), got " +
        Quoted(address));
  }
  if (!IsAllDigits(p) || p.size() > 5 || std::stoi(std::string(p)) > 65535) {
    return Status::InvalidArgument("port must be a number in 0..65535, got " +
                                   Quoted(address));
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
  Result<Config> config = ParseConfig(text, path);
  if (!config.ok()) return config;
  // Secret and TLS files are relative to the config file, as in Prometheus.
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  for (size_t i = 0; i < config->write_back.size(); ++i) {
    WriteBackTarget& t = config->write_back[i];
    for (std::string* file :
         {&t.basic_auth_password_file, &t.authorization_credentials_file,
          &t.tls.ca_file, &t.tls.cert_file, &t.tls.key_file}) {
      if (!file->empty() && std::filesystem::path(*file).is_relative()) {
        *file = (dir / *file).string();
      }
    }
    // Checked here so that --check-config catches a wrong TLS path; their
    // content is checked when the target starts.
    const std::pair<const char*, const std::string*> tls_files[] = {
        {"ca_file", &t.tls.ca_file},
        {"cert_file", &t.tls.cert_file},
        {"key_file", &t.tls.key_file}};
    for (const auto& [key, file] : tls_files) {
      if (file->empty()) continue;
      if (Status s = CheckReadable(*file); !s.ok()) {
        return WithSource(
            path, ProblemAt(IndexPath("write_back", i) + ".tls_config." + key,
                            s.message()));
      }
    }
  }
  return config;
}

}  // namespace promewma::config
