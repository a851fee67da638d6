// The Teams relay's configuration: the `notify: msteams:` section.
//
//   notify:
//     msteams:
//       webhook_url_file: /etc/promewma/teams-url   # the default channel,
//       title: Prometheus alert                     # served at
//       send_resolved: true                         # /api/v1/notify/msteams
//       timeout: 8s
//       channels:                 # served at /api/v1/notify/msteams/{name}
//         database:
//           webhook_url_env: TEAMS_DB_URL
//           title: Database alert
//
// A webhook URL comes from exactly one of `webhook_url_file` (preferred:
// the file is read when the config is loaded, surrounding whitespace
// trimmed; relative to the config file's directory), `webhook_url_env` (the
// name of an environment variable) or `webhook_url` (inline, so the secret
// lands in the config file). The URL must be http:// or https://. A channel
// inherits `title`, `send_resolved` and `timeout` from the msteams section
// when it does not set them. Channel names are [A-Za-z0-9_-]+ and not
// `default` (the label the default channel's metrics carry). The section
// needs a URL of its own, or at least one channel.
//
// `timeout` bounds one notification's whole outbound time, retry
// included; it must be below Alertmanager's webhook timeout (10 s), so a
// slow workflow gets a 504 that Alertmanager sees and retries.
//
// Webhook URLs are secrets (they carry their signature): no error message
// here shows one, only its RedactedUrl (common/redacted_url.h).
//
// Thread-safety: plain values and pure functions (plus the file and the
// environment variable a channel names).

#ifndef PROMEWMA_CONFIG_RELAY_CONFIG_H_
#define PROMEWMA_CONFIG_RELAY_CONFIG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "promewma/status.h"

namespace promewma::config {

// One Teams destination: a Power Automate workflow and how cards for it
// are made.
struct TeamsChannel {
  // Where the URL comes from, as written (at most one is set).
  std::string webhook_url_file;  // resolved against the config's directory
  std::string webhook_url_env;
  std::string webhook_url;  // inline; after ResolveTeamsChannel, the URL
                            // itself, whichever key gave it
  std::string title = "Prometheus alert";
  bool send_resolved = true;
  // Outbound time budget for one notification, retry included. Below
  // Alertmanager's default webhook timeout of 10 s, with room for our own
  // handling, so that Alertmanager sees our 504 and not its own timeout.
  int64_t timeout_ms = 8000;
};

// Longest timeout accepted: Alertmanager gives up on a webhook after 10 s.
inline constexpr int64_t kMaxTeamsTimeoutMs = 10000;

struct MsTeamsConfig {
  // The channel served at /api/v1/notify/msteams; none when the section
  // has no URL of its own (only named channels).
  std::optional<TeamsChannel> default_channel;
  // Named channels, served at /api/v1/notify/msteams/{name}.
  std::map<std::string, TeamsChannel> channels;
};

struct NotifyConfig {
  std::optional<MsTeamsConfig> msteams;  // `notify: msteams:` given
};

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// getenv.
std::optional<std::string> ProcessEnv(const std::string& name);

// True for [A-Za-z0-9_-]+.
bool IsValidChannelName(std::string_view name);

// Checks that exactly one URL source is set, reads it (file or env) into
// channel->webhook_url, and checks that it is an http(s) URL; also checks
// the timeout. `path` is the channel's key path
// ("notify.msteams.channels.db"); relative files are resolved against
// `config_dir`. InvalidArgument "<path>.<key>: <problem>", never showing
// the URL itself.
Status ResolveTeamsChannel(const std::string& path,
                           const std::string& config_dir, const EnvLookup& env,
                           TeamsChannel* channel);

}  // namespace promewma::config

#endif  // PROMEWMA_CONFIG_RELAY_CONFIG_H_
