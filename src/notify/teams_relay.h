// TeamsRelay: Alertmanager's webhook receiver that forwards to Microsoft
// Teams through Power Automate workflows.
//
//   POST /api/v1/notify/msteams            the default channel (the
//                                          msteams section's own URL)
//   POST /api/v1/notify/msteams/{channel}  a named channel
//
// For each request: parse the payload (alertmanager_payload.h), drop
// resolved alerts when the channel's send_resolved is false, build the
// messages (adaptive_card.h) and post them in order (workflow_client.h),
// all within the channel's timeout. The answer:
//   200  every message was accepted by the workflow (or there was nothing
//        to send: only resolved alerts and send_resolved false)
//   400  not a version 4 Alertmanager payload; nothing is sent
//   404  no such channel
//   413  body over kMaxBodyBytes; nothing is sent
//   502  the workflow refused a message (non-2xx) or could not be reached
//   504  the workflow did not answer within the timeout
// Every failure to deliver is a 5xx so that Alertmanager retries the
// notification (all of its messages: a retry after a partial success
// repeats the parts already posted). Every body is one line; none holds a
// webhook URL beyond its RedactedUrl.
//
// Self-metrics (per configured channel; the default channel is
// channel="default"):
//   promewma_notify_requests_total{channel,code}     requests and answers
//   promewma_notify_messages_total{channel,result}   result sent | failed
//   promewma_notify_send_duration_seconds{channel}   one message's delivery,
//                                                    retry included
//
// Thread-safety: Handle may run on several threads at once. It blocks for
// up to the channel's timeout; run it off the server's event loops.

#ifndef PROMEWMA_NOTIFY_TEAMS_RELAY_H_
#define PROMEWMA_NOTIFY_TEAMS_RELAY_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "config/relay_config.h"
#include "http/http_types.h"
#include "notify/workflow_client.h"

namespace prometheus {
class Registry;
}

namespace promewma::notify {

// The endpoint's path; named channels are below it.
inline constexpr std::string_view kTeamsRelayPath = "/api/v1/notify/msteams";
// Alertmanager's max_alerts keeps real payloads far below (about 2 KB an
// alert); a body this large is a mistake or an attack.
inline constexpr uint64_t kMaxBodyBytes = 1 << 20;
// The channel label of the unnamed channel (a name channels may not take).
inline constexpr std::string_view kDefaultChannelLabel = "default";

class TeamsRelay {
 public:
  // REQUIRES: every channel passed config::ResolveTeamsChannel; `client`
  // and `registry` outlive the relay.
  TeamsRelay(config::MsTeamsConfig config, WorkflowClient* client,
             prometheus::Registry& registry);
  ~TeamsRelay();
  TeamsRelay(const TeamsRelay&) = delete;
  TeamsRelay& operator=(const TeamsRelay&) = delete;

  // Answers one POST to `path` (kTeamsRelayPath or below it) with `body`,
  // read at `received`: the channel's timeout counts from then.
  http::HttpResponse Handle(std::string_view path, std::string_view body,
                            std::chrono::steady_clock::time_point received =
                                std::chrono::steady_clock::now());

 private:
  struct Channel;
  struct Metrics;

  http::HttpResponse Deliver(Channel& channel, std::string_view body,
                             std::chrono::steady_clock::time_point received);

  const config::MsTeamsConfig config_;
  WorkflowClient* const client_;
  std::unique_ptr<Metrics> metrics_;
  // By name; the default channel under "". Fixed after construction.
  std::map<std::string, std::unique_ptr<Channel>, std::less<>> channels_;
};

}  // namespace promewma::notify

#endif  // PROMEWMA_NOTIFY_TEAMS_RELAY_H_
