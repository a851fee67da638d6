#include "notify/teams_relay.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/one_line.h"
#include "common/redacted_url.h"
#include "notify/adaptive_card.h"
#include "notify/alertmanager_payload.h"

namespace promewma::notify {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct TeamsRelay::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : requests(prometheus::BuildCounter()
                     .Name("promewma_notify_requests_total")
                     .Help("Alertmanager notifications received per Teams "
                           "channel, by the HTTP status answered.")
                     .Register(registry)),
        messages(prometheus::BuildCounter()
                     .Name("promewma_notify_messages_total")
                     .Help("Teams messages posted to a workflow per channel; "
                           "result is sent (2xx) or failed.")
                     .Register(registry)),
        duration(prometheus::BuildHistogram()
                     .Name("promewma_notify_send_duration_seconds")
                     .Help("Time to deliver one Teams message to its "
                           "workflow, retry included.")
                     .Register(registry)) {}

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Counter>& messages;
  prometheus::Family<prometheus::Histogram>& duration;
};

struct TeamsRelay::Channel {
  Channel(const config::TeamsChannel& c, std::string label_value,
          Metrics& metrics)
      : config(c),
        label(std::move(label_value)),
        sent(metrics.messages.Add({{"channel", label}, {"result", "sent"}})),
        failed(
            metrics.messages.Add({{"channel", label}, {"result", "failed"}})),
        // Power Automate usually answers in 0.1-1 s; the top buckets reach
        // the timeout.
        duration(metrics.duration.Add(
            {{"channel", label}}, prometheus::Histogram::BucketBoundaries{
                                      0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {}

  const config::TeamsChannel config;
  const std::string label;  // the metrics' channel label
  prometheus::Counter& sent;
  prometheus::Counter& failed;
  prometheus::Histogram& duration;
};

namespace {

http::HttpResponse Ok(std::string body) {
  http::HttpResponse r;
  r.body = std::move(body);
  return r;
}

std::string ChannelNames(const config::MsTeamsConfig& config) {
  std::string names;
  for (const auto& [name, unused] : config.channels) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names.empty() ? "none" : names;
}

}  // namespace

TeamsRelay::TeamsRelay(config::MsTeamsConfig config, WorkflowClient* client,
                       prometheus::Registry& registry)
    : config_(std::move(config)),
      client_(client),
      metrics_(std::make_unique<Metrics>(registry)) {
  if (config_.default_channel) {
    channels_.emplace("", std::make_unique<Channel>(
                              *config_.default_channel,
                              std::string(kDefaultChannelLabel), *metrics_));
  }
  for (const auto& [name, channel] : config_.channels) {
    channels_.emplace(name,
                      std::make_unique<Channel>(channel, name, *metrics_));
  }
}

TeamsRelay::~TeamsRelay() = default;

http::HttpResponse TeamsRelay::Handle(std::string_view path,
                                      std::string_view body,
                                      Clock::time_point received) {
  // "/api/v1/notify/msteams" is the default channel (stored under ""),
  // "/api/v1/notify/msteams/NAME" a named one; "/api/v1/notify/msteams/"
  // names none.
  const bool named = path.size() > kTeamsRelayPath.size();
  const std::string_view name =
      named ? path.substr(kTeamsRelayPath.size() + 1) : std::string_view();
  auto it = named && name.empty() ? channels_.end() : channels_.find(name);
  if (it == channels_.end()) {
    if (!named) {
      return http::ErrorResponse(
          404,
          "no default Teams channel: notify.msteams has no webhook URL of its "
          "own; post to /api/v1/notify/msteams/{channel} (channels: " +
              ChannelNames(config_) + ")");
    }
    return http::ErrorResponse(
        404, "no Teams channel named " + QuotedOneLine(name) +
                 " (channels: " + ChannelNames(config_) + ")");
  }
  Channel& channel = *it->second;
  http::HttpResponse r = Deliver(channel, body, received);
  metrics_->requests
      .Add({{"channel", channel.label}, {"code", std::to_string(r.status)}})
      .Increment();
  return r;
}

http::HttpResponse TeamsRelay::Deliver(Channel& channel, std::string_view body,
                                       Clock::time_point received) {
  const Clock::time_point deadline =
      received + milliseconds(channel.config.timeout_ms);
  if (body.size() > kMaxBodyBytes) {
    return http::ErrorResponse(
        413, "request body over the size limit of " +
                 std::to_string(kMaxBodyBytes) +
                 " bytes (lower max_alerts in Alertmanager's webhook_config)");
  }
  Result<AlertmanagerPayload> parsed = ParseAlertmanagerPayload(body);
  if (!parsed.ok()) {
    return http::ErrorResponse(
        400, "bad Alertmanager payload: " + parsed.status().message());
  }
  AlertmanagerPayload& payload = *parsed;
  if (!channel.config.send_resolved) {
    std::vector<Alert> firing;
    for (Alert& a : payload.alerts) {
      if (!a.resolved()) firing.push_back(std::move(a));
    }
    payload.alerts = std::move(firing);
    if (payload.alerts.empty()) {
      return Ok(
          "nothing to send: only resolved alerts, and send_resolved is "
          "false for Teams channel " +
          channel.label + "\n");
    }
    payload.status = "firing";
  }
  CardOptions options;
  options.title = channel.config.title;
  const std::vector<std::string> messages =
      BuildTeamsMessages(payload, options);
  if (messages.empty())
    return Ok("nothing to send: the payload has no alerts\n");
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto budget =
        std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    DeliveryResult result;
    if (budget.count() <= 0) {
      result.outcome = DeliveryResult::Outcome::kTimeout;
      result.reason = "the " + std::to_string(channel.config.timeout_ms) +
                      "ms timeout ran out before this message";
    } else {
      const Clock::time_point start = Clock::now();
      result = client_->Post(channel.config.webhook_url, messages[i], budget);
      channel.duration.Observe(
          std::chrono::duration<double>(Clock::now() - start).count());
    }
    if (result.ok()) {
      channel.sent.Increment();
      continue;
    }
    channel.failed.Increment();
    const int status =
        result.outcome == DeliveryResult::Outcome::kTimeout ? 504 : 502;
    std::string message = "Teams channel " + channel.label + ": message " +
                          std::to_string(i + 1) + " of " +
                          std::to_string(messages.size()) +
                          " not delivered: " + result.reason;
    log::Warn("notify", "Teams message not delivered",
              {{"channel", channel.label},
               {"endpoint", RedactedUrl(channel.config.webhook_url)},
               {"message", i + 1},
               {"messages", messages.size()},
               {"err", result.reason}});
    return http::ErrorResponse(status, message);
  }
  log::Debug("notify", "alerts sent to Teams",
             {{"channel", channel.label},
              {"endpoint", RedactedUrl(channel.config.webhook_url)},
              {"alerts", payload.alerts.size()},
              {"messages", messages.size()}});
  return Ok("sent " + std::to_string(messages.size()) +
            (messages.size() == 1 ? " message" : " messages") +
            " to Teams channel " + channel.label + "\n");
}

}  // namespace promewma::notify
