// AlertmanagerPayload: the body Alertmanager POSTs to a webhook receiver,
// version 4 (Alertmanager 0.x, `webhook_configs`), parsed and checked.
//
//   {"version": "4", "groupKey": "{}:{alertname=\"CPU\"}",
//    "truncatedAlerts": 0, "status": "firing", "receiver": "teams",
//    "groupLabels": {"alertname": "CPU"}, "commonLabels": {...},
//    "commonAnnotations": {...}, "externalURL": "http://am:9093",
//    "alerts": [{"status": "firing", "labels": {...}, "annotations": {...},
//                "startsAt": "2026-12-04T13:00:00Z",
//                "endsAt": "0001-01-01T00:00:00Z",
//                "generatorURL": "http://prom:9090/graph?...",
//                "fingerprint": "c0ffee"}]}
//
// Required: `version` "4", `status`, `alerts` (a list), and each alert's
// `status` and `labels`; every other field may be missing (it is then
// empty). A field that is present must have its type: labels and
// annotations are maps of strings.
//
// Thread-safety: pure function over bytes.

#ifndef PROMEWMA_NOTIFY_ALERTMANAGER_PAYLOAD_H_
#define PROMEWMA_NOTIFY_ALERTMANAGER_PAYLOAD_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "promewma/status.h"

namespace promewma::notify {

using StringMap = std::map<std::string, std::string>;

struct Alert {
  std::string status;  // "firing" | "resolved"
  StringMap labels;
  StringMap annotations;
  std::string starts_at;  // RFC 3339, as Alertmanager wrote it
  std::string ends_at;    // "0001-01-01T00:00:00Z" while firing
  std::string generator_url;
  std::string fingerprint;

  bool resolved() const { return status == "resolved"; }
};

struct AlertmanagerPayload {
  std::string version;
  std::string group_key;
  int64_t truncated_alerts = 0;  // alerts left out by max_alerts
  std::string status;            // the group's: firing if any alert fires
  std::string receiver;
  StringMap group_labels;
  StringMap common_labels;
  StringMap common_annotations;
  std::string external_url;  // Alertmanager's own URL
  std::vector<Alert> alerts;
};

// Parses a webhook body. InvalidArgument with a one-line reason naming the
// field ("alerts[2].labels: expected an object of strings") for bad JSON,
// another version, a missing required field or a field of the wrong type.
Result<AlertmanagerPayload> ParseAlertmanagerPayload(std::string_view body);

}  // namespace promewma::notify

#endif  // PROMEWMA_NOTIFY_ALERTMANAGER_PAYLOAD_H_
