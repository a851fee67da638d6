// The Teams messages for one Alertmanager notification: Adaptive Cards
// (schema 1.4) wrapped the way a Power Automate workflow triggered by
// "When a Teams webhook request is received" expects them:
//
//   {"type": "message",
//    "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
//                     "contentUrl": null,
//                     "content": {"type": "AdaptiveCard", "version": "1.4",
//                                 "body": [...], "actions": [...]}}]}
//
// The card's body:
//   - a header container, style "attention" while any of the alerts
//     fires, "good" once all are resolved: the title, "FIRING: 2 alerts" (or
//     RESOLVED), the group labels, and "part i of n" when split;
//   - one container per alert in the same colours: its status and
//     alertname, the summary and description annotations, a FactSet
//     (alertname, instance, value, threshold, severity, since, and ends
//     for a resolved alert; value and threshold from the annotations of
//     those names), and links: the alert's generatorURL ("Source") and a
//     silence for exactly its labels in Alertmanager ("Silence");
//   - a note when Alertmanager left alerts out (max_alerts);
//   - a card action opening Alertmanager (externalURL).
// Long texts are cut (kMaxTextBytes, kMaxFactBytes) and overlong links left
// out (kMaxLinkBytes) so that one alert always fits a message.
//
// Teams refuses a message over about 28 KB. A notification whose message
// would exceed `max_message_bytes` is split into several, each holding a
// run of its alerts (every alert in exactly one) and each under the limit.
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_NOTIFY_ADAPTIVE_CARD_H_
#define PROMEWMA_NOTIFY_ADAPTIVE_CARD_H_

#include <cstddef>
#include <string>
#include <vector>

#include "notify/alertmanager_payload.h"

namespace promewma::notify {

// Below Teams' ~28 KB message limit with room for what Power Automate
// wraps around the card.
inline constexpr size_t kMaxMessageBytes = 24 * 1024;
// Summary and description are cut to this many bytes (UTF-8 safe)...
inline constexpr size_t kMaxTextBytes = 2000;
// ...and fact values (label values, annotations) to this many.
inline constexpr size_t kMaxFactBytes = 500;
// A link longer than this is left out (a cut URL would be wrong). A
// Prometheus generatorURL holds the rule's expression and stays far below.
inline constexpr size_t kMaxLinkBytes = 4000;

struct CardOptions {
  std::string title = "Prometheus alert";
  size_t max_message_bytes = kMaxMessageBytes;
};

// The JSON messages to post, in order; none when `payload` has no alerts.
// REQUIRES: options.max_message_bytes leaves room for one alert (>= 8 KiB).
std::vector<std::string> BuildTeamsMessages(const AlertmanagerPayload& payload,
                                            const CardOptions& options);

// Alertmanager's "new silence" page, prefilled with a matcher per label:
// <external_url>/#/silences/new?filter=%7Balertname%3D%22CPU%22%2C...%7D
// ("" when external_url is empty). Label values are escaped as in a
// PromQL string, then the filter is percent-encoded.
std::string SilenceUrl(const std::string& external_url,
                       const StringMap& labels);

}  // namespace promewma::notify

#endif  // PROMEWMA_NOTIFY_ADAPTIVE_CARD_H_
