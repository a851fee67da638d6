#include "notify/alertmanager_payload.h"

#include <catch2/catch.hpp>
#include <string>

namespace promewma::notify {
namespace {

// What Alertmanager 0.25 posts for a group of one firing and one resolved
// alert (fields as its webhook notifier writes them).
constexpr char kSample[] = R"({
  "receiver": "teams",
  "status": "firing",
  "alerts": [
    {"status": "firing",
     "labels": {"alertname": "CPUAboveAdaptiveThreshold", "instance": "web-1:9100", "severity": "warning"},
     "annotations": {"summary": "CPU above its adaptive threshold", "description": "CPU 93% > 71%", "value": "93%", "threshold": "71%"},
     "startsAt": "2026-12-04T13:00:00.123Z",
     "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "http://prometheus:9090/graph?g0.expr=cpu",
     "fingerprint": "0123456789abcdef"},
    {"status": "resolved",
     "labels": {"alertname": "CPUAboveAdaptiveThreshold", "instance": "web-2:9100"},
     "annotations": {},
     "startsAt": "2026-12-04T12:00:00Z",
     "endsAt": "2026-12-04T12:30:00Z",
     "generatorURL": "",
     "fingerprint": "fedcba9876543210"}
  ],
  "groupLabels": {"alertname": "CPUAboveAdaptiveThreshold"},
  "commonLabels": {"alertname": "CPUAboveAdaptiveThreshold"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093",
  "version": "4",
  "groupKey": "{}:{alertname=\"CPUAboveAdaptiveThreshold\"}",
  "truncatedAlerts": 2
})";

TEST_CASE("A version 4 payload is parsed field by field", "[notify]") {
  Result<AlertmanagerPayload> p = ParseAlertmanagerPayload(kSample);
  INFO(p.status().message());
  REQUIRE(p.ok());
  CHECK(p->version == "4");
  CHECK(p->status == "firing");
  CHECK(p->receiver == "teams");
  CHECK(p->external_url == "http://alertmanager:9093");
  CHECK(p->group_key == "{}:{alertname=\"CPUAboveAdaptiveThreshold\"}");
  CHECK(p->truncated_alerts == 2);
  CHECK(p->group_labels.at("alertname") == "CPUAboveAdaptiveThreshold");
  REQUIRE(p->alerts.size() == 2);
  const Alert& a = p->alerts[0];
  CHECK_FALSE(a.resolved());
  CHECK(a.labels.at("instance") == "web-1:9100");
  CHECK(a.annotations.at("value") == "93%");
  CHECK(a.starts_at == "2026-12-04T13:00:00.123Z");
  CHECK(a.generator_url == "http://prometheus:9090/graph?g0.expr=cpu");
  CHECK(a.fingerprint == "0123456789abcdef");
  CHECK(p->alerts[1].resolved());
  CHECK(p->alerts[1].ends_at == "2026-12-04T12:30:00Z");
}

TEST_CASE("Optional fields may be missing", "[notify]") {
  Result<AlertmanagerPayload> p = ParseAlertmanagerPayload(
      R"({"version":"4","status":"resolved","alerts":[{"status":"resolved","labels":{}}]})");
  INFO(p.status().message());
  REQUIRE(p.ok());
  CHECK(p->external_url.empty());
  CHECK(p->truncated_alerts == 0);
  REQUIRE(p->alerts.size() == 1);
  CHECK(p->alerts[0].annotations.empty());
}

TEST_CASE("Each bad payload is refused with a one-line reason naming the field",
          "[notify]") {
  auto [body, reason] = GENERATE(table<std::string, std::string>({
      {"", "not valid JSON at byte"},
      {"{\"version\": \"4\",", "not valid JSON at byte"},
      {"[1,2]", "payload: expected a JSON object, got an array"},
      {R"({"status":"firing","alerts":[]})", "version: missing"},
      {R"({"version":"3","status":"firing","alerts":[]})",
       "version: must be \"4\""},
      {R"({"version":4,"status":"firing","alerts":[]})",
       "version: expected a string, got a number"},
      {R"({"version":"4","alerts":[]})", "status: missing"},
      {R"({"version":"4","status":"firing"})", "alerts: missing"},
      {R"({"version":"4","status":"firing","alerts":{}})",
       "alerts: expected an array, got an object"},
      {R"({"version":"4","status":"firing","alerts":[{"labels":{}}]})",
       "alerts[0].status: missing"},
      {R"({"version":"4","status":"firing","alerts":[{"status":"pending","labels":{}}]})",
       "alerts[0].status: must be firing or resolved"},
      {R"({"version":"4","status":"firing","alerts":[{"status":"firing","labels":{}},{"status":"firing"}]})",
       "alerts[1].labels: missing"},
      {R"({"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":1}}]})",
       "alerts[0].labels.a: expected a string, got a number"},
      {R"({"version":"4","status":"firing","alerts":[{"status":"firing","labels":{},"annotations":[]}]})",
       "alerts[0].annotations: expected an object of strings, got an array"},
      {R"({"version":"4","status":"firing","truncatedAlerts":"2","alerts":[]})",
       "truncatedAlerts: expected an integer, got a string"},
      {"{\"version\":\"4\",\"status\":\"fir\xff\",\"alerts\":[]}",
       "not valid JSON at byte"},
  }));
  Result<AlertmanagerPayload> p = ParseAlertmanagerPayload(body);
  INFO(body);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(p.status().message(), Catch::Contains(reason));
  CHECK(p.status().message().find('\n') == std::string::npos);
}

}  // namespace
}  // namespace promewma::notify
