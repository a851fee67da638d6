#include "notify/alertmanager_payload.h"

#include <nlohmann/json.hpp>

#include "common/key_path.h"
#include "common/one_line.h"

namespace promewma::notify {
namespace {

using nlohmann::json;

const char* TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    default:
      break;
  }
  return "something else";
}

Status WrongType(const std::string& path, const char* expected, const json& j) {
  return ProblemAt(
      path, std::string("expected ") + expected + ", got " + TypeName(j));
}

// A string field; `required` fields must be present. null reads as absent,
// as Go's encoder never writes it for these fields anyway.
Status ReadString(const json& object, const char* key, const std::string& path,
                  bool required, std::string* out) {
  const std::string key_path = JoinKeyPath(path, key);
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return required ? ProblemAt(key_path, "missing") : Status::Ok();
  }
  if (!it->is_string()) return WrongType(key_path, "a string", *it);
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadStringMap(const json& object, const char* key,
                     const std::string& path, bool required, StringMap* out) {
  const std::string key_path = JoinKeyPath(path, key);
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return required ? ProblemAt(key_path, "missing") : Status::Ok();
  }
  if (!it->is_object()) return WrongType(key_path, "an object of strings", *it);
  for (auto& [name, value] : it->items()) {
    if (!value.is_string()) {
      return WrongType(JoinKeyPath(key_path, name), "a string", value);
    }
    (*out)[name] = value.get<std::string>();
  }
  return Status::Ok();
}

Result<Alert> ReadAlert(const json& j, const std::string& path) {
  if (!j.is_object()) return WrongType(path, "an object", j);
  Alert alert;
  Status s = ReadString(j, "status", path, true, &alert.status);
  if (s.ok() && alert.status != "firing" && alert.status != "resolved") {
    s = ProblemAt(
        JoinKeyPath(path, "status"),
        "must be firing or resolved, got " + QuotedOneLine(alert.status));
  }
  if (s.ok()) s = ReadStringMap(j, "labels", path, true, &alert.labels);
  if (s.ok()) {
    s = ReadStringMap(j, "annotations", path, false, &alert.annotations);
  }
  if (s.ok()) s = ReadString(j, "startsAt", path, false, &alert.starts_at);
  if (s.ok()) s = ReadString(j, "endsAt", path, false, &alert.ends_at);
  if (s.ok()) {
    s = ReadString(j, "generatorURL", path, false, &alert.generator_url);
  }
  if (s.ok()) s = ReadString(j, "fingerprint", path, false, &alert.fingerprint);
  if (!s.ok()) return s;
  return alert;
}

}  // namespace

Result<AlertmanagerPayload> ParseAlertmanagerPayload(std::string_view body) {
  json root;
  try {
    root = json::parse(body.begin(), body.end());
  } catch (const json::parse_error& e) {
    // Where it broke, without echoing the body.
    return Status::InvalidArgument(
        "not valid JSON at byte " + std::to_string(e.byte) +
        " (expected Alertmanager's webhook payload, version 4)");
  }
  if (!root.is_object()) {
    return WrongType("payload", "a JSON object", root);
  }
  AlertmanagerPayload p;
  Status s = ReadString(root, "version", "", true, &p.version);
  if (s.ok() && p.version != "4") {
    s = ProblemAt("version",
                  "must be \"4\" (Alertmanager's webhook format), "
                  "got " +
                      QuotedOneLine(p.version));
  }
  if (s.ok()) s = ReadString(root, "status", "", true, &p.status);
  if (s.ok()) s = ReadString(root, "groupKey", "", false, &p.group_key);
  if (s.ok()) s = ReadString(root, "receiver", "", false, &p.receiver);
  if (s.ok()) s = ReadString(root, "externalURL", "", false, &p.external_url);
  if (s.ok())
    s = ReadStringMap(root, "groupLabels", "", false, &p.group_labels);
  if (s.ok()) {
    s = ReadStringMap(root, "commonLabels", "", false, &p.common_labels);
  }
  if (s.ok()) {
    s = ReadStringMap(root, "commonAnnotations", "", false,
                      &p.common_annotations);
  }
  if (!s.ok()) return s;
  if (auto it = root.find("truncatedAlerts");
      it != root.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      return WrongType("truncatedAlerts", "an integer", *it);
    }
    p.truncated_alerts = it->get<int64_t>();
  }
  auto alerts = root.find("alerts");
  if (alerts == root.end()) return ProblemAt("alerts", "missing");
  if (!alerts->is_array()) return WrongType("alerts", "an array", *alerts);
  for (size_t i = 0; i < alerts->size(); ++i) {
    Result<Alert> alert = ReadAlert((*alerts)[i], IndexKeyPath("alerts", i));
    if (!alert.ok()) return alert.status();
    p.alerts.push_back(std::move(alert).value());
  }
  return p;
}

}  // namespace promewma::notify
