#include "notify/adaptive_card.h"

#include <nlohmann/json.hpp>

namespace promewma::notify {
namespace {

using nlohmann::json;

// What a message's JSON text is: invalid UTF-8 cannot come from a parsed
// payload, but a cut text could end inside a character; replace, never
// throw.
std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// At most `max` bytes of `text`, cut at a character boundary, "…" added.
std::string Cut(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return text.substr(0, end) + "…";
}

std::string Lookup(const StringMap& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? std::string() : it->second;
}

// "2026-12-04T13:00:00.123Z" -> "2026-12-04 13:00:00 UTC"; other text as is.
std::string ReadableTime(const std::string& rfc3339) {
  if (rfc3339.size() < 19 || rfc3339[10] != 'T') return rfc3339;
  std::string out = rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 8);
  if (rfc3339.back() == 'Z') {
    out += " UTC";
  } else {
    // +02:00 and the like, after the optional fraction.
    const size_t zone = rfc3339.find_first_of("+-", 19);
    if (zone != std::string::npos) out += " " + rfc3339.substr(zone);
  }
  return out;
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string PercentEncode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (IsUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

json OpenUrl(const std::string& title, const std::string& url) {
  return {{"type", "Action.OpenUrl"}, {"title", title}, {"url", url}};
}

json Text(const std::string& text) {
  return {{"type", "TextBlock"}, {"text", text}, {"wrap", true}};
}

json Fact(const std::string& title, const std::string& value) {
  return {{"title", title}, {"value", Cut(value, kMaxFactBytes)}};
}

json AlertContainer(const Alert& alert, const std::string& external_url) {
  const bool resolved = alert.resolved();
  const std::string alertname = Lookup(alert.labels, "alertname");
  json items = json::array();
  json heading = Text(
      std::string(resolved ? "RESOLVED" : "FIRING") + ": " +
      Cut(alertname.empty() ? "(no alertname)" : alertname, kMaxFactBytes));
  heading["weight"] = "Bolder";
  heading["color"] = resolved ? "Good" : "Attention";
  items.push_back(std::move(heading));
  const std::string summary = Lookup(alert.annotations, "summary");
  if (!summary.empty()) items.push_back(Text(Cut(summary, kMaxTextBytes)));
  const std::string description = Lookup(alert.annotations, "description");
  if (!description.empty()) {
    json block = Text(Cut(description, kMaxTextBytes));
    block["isSubtle"] = true;
    items.push_back(std::move(block));
  }
  json facts = json::array();
  auto add = [&facts](const std::string& title, const std::string& value) {
    if (!value.empty()) facts.push_back(Fact(title, value));
  };
  add("alertname", alertname);
  add("instance", Lookup(alert.labels, "instance"));
  add("value", Lookup(alert.annotations, "value"));
  add("threshold", Lookup(alert.annotations, "threshold"));
  add("severity", Lookup(alert.labels, "severity"));
  add("since", ReadableTime(alert.starts_at));
  if (resolved) add("ends", ReadableTime(alert.ends_at));
  items.push_back({{"type", "FactSet"}, {"facts", std::move(facts)}});
  json actions = json::array();
  if (!alert.generator_url.empty() &&
      alert.generator_url.size() <= kMaxLinkBytes) {
    actions.push_back(OpenUrl("Source", alert.generator_url));
  }
  const std::string silence = SilenceUrl(external_url, alert.labels);
  if (!silence.empty() && silence.size() <= kMaxLinkBytes && !resolved) {
    actions.push_back(OpenUrl("Silence", silence));
  }
  if (!actions.empty()) {
    items.push_back({{"type", "ActionSet"}, {"actions", std::move(actions)}});
  }
  return {{"type", "Container"},
          {"style", resolved ? "good" : "attention"},
          {"separator", true},
          {"items", std::move(items)}};
}

// "FIRING: 2 alerts, 1 resolved" and the like.
std::string StatusLine(const AlertmanagerPayload& payload) {
  size_t firing = 0;
  size_t resolved = 0;
  for (const Alert& a : payload.alerts) (a.resolved() ? resolved : firing)++;
  auto count = [](size_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  if (firing == 0) return "RESOLVED: " + count(resolved, "alert");
  std::string line = "FIRING: " + count(firing, "alert");
  if (resolved > 0) line += ", " + std::to_string(resolved) + " resolved";
  return line;
}

std::string GroupLine(const StringMap& group_labels) {
  std::string line;
  for (const auto& [name, value] : group_labels) {
    if (!line.empty()) line += ", ";
    line += name + "=" + value;
  }
  return Cut(line, kMaxTextBytes);
}

// The whole message for alert items [begin, end); `part` is "" or
// "part i of n".
json Message(const AlertmanagerPayload& payload, const CardOptions& options,
             const std::vector<json>& alert_items, size_t begin, size_t end,
             const std::string& part, bool last) {
  // From the alerts rather than the payload's status, which send_resolved
  // filtering may have left behind.
  bool firing = false;
  for (const Alert& a : payload.alerts) firing |= !a.resolved();
  json header_items = json::array();
  json title = Text(Cut(options.title, kMaxFactBytes));
  title["size"] = "Large";
  title["weight"] = "Bolder";
  header_items.push_back(std::move(title));
  std::string line = StatusLine(payload);
  const std::string group = GroupLine(payload.group_labels);
  if (!group.empty()) line += " · " + group;
  if (!part.empty()) line += " · " + part;
  json status = Text(line);
  status["spacing"] = "None";
  header_items.push_back(std::move(status));
  json body = json::array();
  body.push_back({{"type", "Container"},
                  {"style", firing ? "attention" : "good"},
                  {"bleed", true},
                  {"items", std::move(header_items)}});
  for (size_t i = begin; i < end; ++i) body.push_back(alert_items[i]);
  if (last && payload.truncated_alerts > 0) {
    json note = Text(std::to_string(payload.truncated_alerts) +
                     " more alerts in this group are not shown "
                     "(Alertmanager's max_alerts)");
    note["isSubtle"] = true;
    body.push_back(std::move(note));
  }
  json card = {
      {"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
      {"type", "AdaptiveCard"},
      {"version", "1.4"},
      {"msteams", {{"width", "Full"}}},
      {"body", std::move(body)}};
  if (!payload.external_url.empty()) {
    card["actions"] =
        json::array({OpenUrl("Open Alertmanager", payload.external_url)});
  }
  return {
      {"type", "message"},
      {"attachments",
       json::array({{{"contentType", "application/vnd.microsoft.card.adaptive"},
                     {"contentUrl", nullptr},
                     {"content", std::move(card)}}})}};
}

}  // namespace

std::string SilenceUrl(const std::string& external_url,
                       const StringMap& labels) {
  if (external_url.empty()) return "";
  std::string filter = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) filter += ",";
    first = false;
    filter += name + "=\"";
    for (char c : value) {
      if (c == '"' || c == '\\') {
        filter += '\\';
        filter += c;
      } else if (c == '\n') {
        filter += "\\n";
      } else {
        filter += c;
      }
    }
    filter += '"';
  }
  filter += "}";
  std::string base = external_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/#/silences/new?filter=" + PercentEncode(filter);
}

std::vector<std::string> BuildTeamsMessages(const AlertmanagerPayload& payload,
                                            const CardOptions& options) {
  std::vector<std::string> messages;
  if (payload.alerts.empty()) return messages;
  std::vector<json> items;
  std::vector<size_t> item_bytes;
  items.reserve(payload.alerts.size());
  for (const Alert& alert : payload.alerts) {
    items.push_back(AlertContainer(alert, payload.external_url));
    item_bytes.push_back(Dump(items.back()).size() + 1);  // and a comma
  }
  // The message without alerts, with the longest part marker it can get.
  const std::string widest_part =
      "part " + std::to_string(payload.alerts.size()) + " of " +
      std::to_string(payload.alerts.size());
  const size_t frame =
      Dump(Message(payload, options, items, 0, 0, widest_part, true)).size();
  // Runs of alerts that fit; each run holds at least one alert.
  std::vector<std::pair<size_t, size_t>> runs;
  size_t begin = 0;
  size_t bytes = frame;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > begin && bytes + item_bytes[i] > options.max_message_bytes) {
      runs.emplace_back(begin, i);
      begin = i;
      bytes = frame;
    }
    bytes += item_bytes[i];
  }
  runs.emplace_back(begin, items.size());
  for (size_t r = 0; r < runs.size(); ++r) {
    const std::string part = runs.size() == 1
                                 ? std::string()
                                 : "part " + std::to_string(r + 1) + " of " +
                                       std::to_string(runs.size());
    messages.push_back(
        Dump(Message(payload, options, items, runs[r].first, runs[r].second,
                     part, r + 1 == runs.size())));
  }
  return messages;
}

}  // namespace promewma::notify
