#include "config/relay_config.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "common/key_path.h"
#include "common/one_line.h"
#include "common/redacted_url.h"
#include "remote/url.h"

namespace promewma::config {
namespace {

std::string_view Trim(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const size_t last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// The URL checks, worded without the URL: it is a secret.
Status ValidateWebhookUrl(std::string_view url, const std::string& path) {
  if (url.empty()) return ProblemAt(path, "the webhook URL is empty");
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return ProblemAt(path,
                     "the webhook URL must start with http:// or https:// "
                     "(the value is not shown: it is a secret)");
  }
  Result<remote::ParsedUrl> parsed = remote::ParseUrl(url);
  if (!parsed.ok()) {
    return ProblemAt(path, "webhook URL " + RedactedUrl(url) + ": " +
                               parsed.status().message());
  }
  return Status::Ok();
}

}  // namespace

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

bool IsValidChannelName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status ResolveTeamsChannel(const std::string& path,
                           const std::string& config_dir, const EnvLookup& env,
                           TeamsChannel* channel) {
  const int sources = !channel->webhook_url_file.empty() +
                      !channel->webhook_url_env.empty() +
                      !channel->webhook_url.empty();
  if (sources == 0) {
    return ProblemAt(path,
                     "needs a webhook URL: set webhook_url_file (preferred), "
                     "webhook_url_env or webhook_url");
  }
  if (sources > 1) {
    return ProblemAt(path,
                     "set only one of webhook_url_file, webhook_url_env, "
                     "webhook_url");
  }
  std::string key_path;
  if (!channel->webhook_url_file.empty()) {
    key_path = JoinKeyPath(path, "webhook_url_file");
    std::filesystem::path file(channel->webhook_url_file);
    if (file.is_relative() && !config_dir.empty()) {
      file = std::filesystem::path(config_dir) / file;
    }
    channel->webhook_url_file = file.string();
    errno = 0;
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (!in || in.bad()) {
      const int err = errno;
      return ProblemAt(
          key_path, "cannot read " + QuotedOneLine(file.string()) + ": " +
                        std::generic_category().message(err != 0 ? err : EIO));
    }
    channel->webhook_url = std::string(Trim(text.str()));
    if (channel->webhook_url.empty()) {
      return ProblemAt(key_path,
                       QuotedOneLine(file.string()) + " holds no URL");
    }
  } else if (!channel->webhook_url_env.empty()) {
    key_path = JoinKeyPath(path, "webhook_url_env");
    std::optional<std::string> value = env(channel->webhook_url_env);
    if (!value) {
      return ProblemAt(key_path, "environment variable " +
                                     QuotedOneLine(channel->webhook_url_env) +
                                     " is not set");
    }
    channel->webhook_url = std::string(Trim(*value));
    if (channel->webhook_url.empty()) {
      return ProblemAt(key_path, "environment variable " +
                                     QuotedOneLine(channel->webhook_url_env) +
                                     " is empty");
    }
  } else {
    key_path = JoinKeyPath(path, "webhook_url");
  }
  if (Status s = ValidateWebhookUrl(channel->webhook_url, key_path); !s.ok()) {
    return s;
  }
  if (channel->timeout_ms <= 0 || channel->timeout_ms >= kMaxTeamsTimeoutMs) {
    return ProblemAt(JoinKeyPath(path, "timeout"),
                     "must be > 0 and below Alertmanager's 10s webhook "
                     "timeout, got " +
                         std::to_string(channel->timeout_ms) + "ms");
  }
  return Status::Ok();
}

}  // namespace promewma::config
