#include "notify/adaptive_card.h"

#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace promewma::notify {
namespace {

using nlohmann::json;

Alert MakeAlert(const std::string& status, const std::string& instance) {
  Alert a;
  a.status = status;
  a.labels = {{"alertname", "CPUAboveAdaptiveThreshold"},
              {"instance", instance},
              {"severity", "warning"}};
  a.annotations = {{"summary", "CPU above its adaptive threshold"},
                   {"description", "CPU of " + instance + " is 93% > 71%"},
                   {"value", "93%"},
                   {"threshold", "71%"}};
  a.starts_at = "2026-12-04T13:00:00.123Z";
  a.ends_at =
      status == "resolved" ? "2026-12-04T13:20:00Z" : "0001-01-01T00:00:00Z";
  a.generator_url = "http://prometheus:9090/graph?g0.expr=cpu";
  return a;
}

AlertmanagerPayload MakePayload(std::vector<Alert> alerts) {
  AlertmanagerPayload p;
  p.version = "4";
  p.status = "resolved";
  for (const Alert& a : alerts) {
    if (!a.resolved()) p.status = "firing";
  }
  p.external_url = "http://alertmanager:9093/";
  p.group_labels = {{"alertname", "CPUAboveAdaptiveThreshold"}};
  p.alerts = std::move(alerts);
  return p;
}

// The card of one message, checking the Teams envelope on the way.
json CardOf(const std::string& message) {
  json m = json::parse(message);
  REQUIRE(m["type"] == "message");
  REQUIRE(m["attachments"].size() == 1);
  const json& attachment = m["attachments"][0];
  REQUIRE(attachment["contentType"] ==
          "application/vnd.microsoft.card.adaptive");
  REQUIRE(attachment.contains("contentUrl"));
  CHECK(attachment["contentUrl"].is_null());
  const json& card = attachment["content"];
  REQUIRE(card["type"] == "AdaptiveCard");
  REQUIRE(card["version"] == "1.4");
  return card;
}

// The alert containers of a card (every body item after the header with a
// FactSet).
std::vector<json> AlertContainers(const json& card) {
  std::vector<json> out;
  for (const json& item : card["body"]) {
    if (item["type"] != "Container") continue;
    for (const json& inner : item["items"]) {
      if (inner["type"] == "FactSet") out.push_back(item);
    }
  }
  return out;
}

std::map<std::string, std::string> FactsOf(const json& container) {
  std::map<std::string, std::string> facts;
  for (const json& inner : container["items"]) {
    if (inner["type"] != "FactSet") continue;
    for (const json& f : inner["facts"]) facts[f["title"]] = f["value"];
  }
  return facts;
}

std::map<std::string, std::string> LinksOf(const json& container) {
  std::map<std::string, std::string> links;
  for (const json& inner : container["items"]) {
    if (inner["type"] != "ActionSet") continue;
    for (const json& a : inner["actions"]) {
      CHECK(a["type"] == "Action.OpenUrl");
      links[a["title"]] = a["url"];
    }
  }
  return links;
}

std::string AllText(const json& card) {
  std::string text;
  for (const json& item : card["body"]) text += item.dump() + "\n";
  return text;
}

TEST_CASE("A firing alert's card holds its facts, texts and links",
          "[notify]") {
  CardOptions options;
  options.title = "Production CPU";
  std::vector<std::string> messages = BuildTeamsMessages(
      MakePayload({MakeAlert("firing", "web-1:9100")}), options);
  REQUIRE(messages.size() == 1);
  json card = CardOf(messages[0]);
  const json& header = card["body"][0];
  CHECK(header["style"] == "attention");
  CHECK(header["items"][0]["text"] == "Production CPU");
  CHECK_THAT(header["items"][1]["text"].get<std::string>(),
             Catch::StartsWith("FIRING: 1 alert") &&
                 Catch::Contains("alertname=CPUAboveAdaptiveThreshold"));
  CHECK_THAT(header["items"][1]["text"].get<std::string>(),
             !Catch::Contains("part"));
  std::vector<json> alerts = AlertContainers(card);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0]["style"] == "attention");
  CHECK(alerts[0]["items"][0]["text"] == "FIRING: CPUAboveAdaptiveThreshold");
  CHECK(alerts[0]["items"][0]["color"] == "Attention");
  const std::string text = AllText(card);
  CHECK_THAT(text, Catch::Contains("CPU above its adaptive threshold"));
  CHECK_THAT(text, Catch::Contains("CPU of web-1:9100 is 93% > 71%"));
  auto facts = FactsOf(alerts[0]);
  CHECK(facts == std::map<std::string, std::string>{
                     {"alertname", "CPUAboveAdaptiveThreshold"},
                     {"instance", "web-1:9100"},
                     {"value", "93%"},
                     {"threshold", "71%"},
                     {"severity", "warning"},
                     {"since", "2026-12-04 13:00:00 UTC"}});
  auto links = LinksOf(alerts[0]);
  CHECK(links["Source"] == "http://prometheus:9090/graph?g0.expr=cpu");
  CHECK(links["Silence"] ==
        "http://alertmanager:9093/#/silences/new?filter="
        "%7Balertname%3D%22CPUAboveAdaptiveThreshold%22%2C"
        "instance%3D%22web-1%3A9100%22%2Cseverity%3D%22warning%22%7D");
  REQUIRE(card["actions"].size() == 1);
  CHECK(card["actions"][0]["type"] == "Action.OpenUrl");
  CHECK(card["actions"][0]["url"] == "http://alertmanager:9093/");
}

TEST_CASE("A resolved alert is green with its end time and no silence link",
          "[notify]") {
  AlertmanagerPayload p = MakePayload({MakeAlert("resolved", "web-1:9100")});
  p.status = "firing";  // the colour follows the alerts
  std::vector<std::string> messages = BuildTeamsMessages(p, CardOptions());
  REQUIRE(messages.size() == 1);
  json card = CardOf(messages[0]);
  CHECK(card["body"][0]["style"] == "good");
  CHECK(card["body"][0]["items"][0]["text"] == "Prometheus alert");
  CHECK_THAT(card["body"][0]["items"][1]["text"].get<std::string>(),
             Catch::StartsWith("RESOLVED: 1 alert"));
  std::vector<json> alerts = AlertContainers(card);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0]["style"] == "good");
  CHECK(alerts[0]["items"][0]["color"] == "Good");
  CHECK(FactsOf(alerts[0])["ends"] == "2026-12-04 13:20:00 UTC");
  auto links = LinksOf(alerts[0]);
  CHECK(links.count("Silence") == 0);
  CHECK(links.count("Source") == 1);
}

TEST_CASE("Facts without a value and links without a URL are left out",
          "[notify]") {
  Alert a;
  a.status = "firing";
  a.labels = {{"alertname", "Down"}};
  AlertmanagerPayload p = MakePayload({a});
  p.external_url.clear();
  std::vector<std::string> messages = BuildTeamsMessages(p, CardOptions());
  REQUIRE(messages.size() == 1);
  json card = CardOf(messages[0]);
  CHECK_FALSE(card.contains("actions"));
  std::vector<json> alerts = AlertContainers(card);
  REQUIRE(alerts.size() == 1);
  CHECK(FactsOf(alerts[0]) ==
        std::map<std::string, std::string>{{"alertname", "Down"}});
  CHECK(LinksOf(alerts[0]).empty());
}

TEST_CASE("Alerts Alertmanager left out are mentioned", "[notify]") {
  AlertmanagerPayload p = MakePayload({MakeAlert("firing", "a")});
  p.truncated_alerts = 7;
  std::vector<std::string> messages = BuildTeamsMessages(p, CardOptions());
  REQUIRE(messages.size() == 1);
  CHECK_THAT(AllText(CardOf(messages[0])),
             Catch::Contains("7 more alerts in this group are not shown"));
}

TEST_CASE("The silence link escapes quotes, backslashes and URL characters",
          "[notify]") {
  CHECK(SilenceUrl("", {{"a", "b"}}).empty());
  CHECK(SilenceUrl("http://am:9093",
                   {{"job", "a\"b\\c"}, {"path", "/x?y=1&z"}}) ==
        "http://am:9093/#/silences/new?filter="
        "%7Bjob%3D%22a%5C%22b%5C%5Cc%22%2Cpath%3D%22%2Fx%3Fy%3D1%26z%22%7D");
  CHECK(SilenceUrl("http://am:9093/prefix//", {{"a", "ü b"}}) ==
        "http://am:9093/prefix/#/silences/new?filter="
        "%7Ba%3D%22%C3%BC%20b%22%7D");
}

TEST_CASE("A payload without alerts makes no message", "[notify]") {
  CHECK(BuildTeamsMessages(MakePayload({}), CardOptions()).empty());
}

TEST_CASE(
    "A 200-alert group is split into messages under 24 KiB with every "
    "alert once",
    "[notify]") {
  std::vector<Alert> alerts;
  for (int i = 0; i < 200; ++i) {
    alerts.push_back(MakeAlert(i % 3 == 0 ? "resolved" : "firing",
                               "host-" + std::to_string(i) + ":9100"));
  }
  std::vector<std::string> messages =
      BuildTeamsMessages(MakePayload(alerts), CardOptions());
  REQUIRE(messages.size() > 1);
  std::map<std::string, int> seen;
  for (size_t m = 0; m < messages.size(); ++m) {
    INFO("message " << m);
    CHECK(messages[m].size() < kMaxMessageBytes);
    json card = CardOf(messages[m]);
    CHECK_THAT(card["body"][0]["items"][1]["text"].get<std::string>(),
               Catch::EndsWith("part " + std::to_string(m + 1) + " of " +
                               std::to_string(messages.size())));
    for (const json& c : AlertContainers(card)) seen[FactsOf(c)["instance"]]++;
  }
  REQUIRE(seen.size() == 200);
  for (const auto& [instance, count] : seen) {
    INFO(instance);
    CHECK(count == 1);
  }
}

TEST_CASE("Overlong texts are cut so that one alert fits a message",
          "[notify]") {
  Alert a = MakeAlert("firing", std::string(20000, 'i'));
  a.annotations["description"] = std::string(30000, 'd');
  a.annotations["summary"] = std::string(1999, 's') + "ü";  // cut inside ü
  a.generator_url = "http://prometheus/" + std::string(10000, 'g');
  std::vector<std::string> messages =
      BuildTeamsMessages(MakePayload({a, a}), CardOptions());
  REQUIRE_FALSE(messages.empty());
  for (const std::string& m : messages) {
    CHECK(m.size() < kMaxMessageBytes);
    json card = CardOf(m);  // valid JSON, valid UTF-8
    for (const json& c : AlertContainers(card)) {
      CHECK(FactsOf(c)["instance"].size() <= kMaxFactBytes + 3);
      CHECK(LinksOf(c).count("Source") == 0);
    }
  }
}

}  // namespace
}  // namespace promewma::notify
