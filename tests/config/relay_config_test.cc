#include "config/relay_config.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"

namespace promewma::config {
namespace {

constexpr char kSecretUrl[] =
    "https://prod-1.westeurope.logic.azure.com:443/workflows/abc/triggers/"
    "manual/paths/invoke?api-version=2016-06-01&sig=SECRETSIG";

class ScratchDir {
 public:
  ScratchDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("promewma_relay_config_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }
  std::string Source() const { return (path_ / "promewma.yml").string(); }

 private:
  std::filesystem::path path_;
};

TEST_CASE("notify.msteams reads the URL from a file, the environment or inline",
          "[config]") {
  ScratchDir dir;
  dir.Write("teams-url", std::string("  \n") + kSecretUrl + "\n\n");
  ::setenv("PROMEWMA_TEST_TEAMS_URL", " http://127.0.0.1:9/db ", 1);
  Result<Config> c = ParseConfig(
      "notify:\n"
      "  msteams:\n"
      "    webhook_url_file: teams-url\n"
      "    title: Production\n"
      "    send_resolved: false\n"
      "    timeout: 3s\n"
      "    channels:\n"
      "      database:\n"
      "        webhook_url_env: PROMEWMA_TEST_TEAMS_URL\n"
      "      web_team-2:\n"
      "        webhook_url: http://127.0.0.1:9/web\n"
      "        title: Web\n"
      "        send_resolved: true\n"
      "        timeout: 1500ms\n",
      dir.Source());
  INFO(c.status().message());
  REQUIRE(c.ok());
  REQUIRE(c->notify.msteams);
  const MsTeamsConfig& m = *c->notify.msteams;
  REQUIRE(m.default_channel);
  CHECK(m.default_channel->webhook_url == kSecretUrl);  // trimmed
  CHECK(m.default_channel->title == "Production");
  CHECK_FALSE(m.default_channel->send_resolved);
  CHECK(m.default_channel->timeout_ms == 3000);
  REQUIRE(m.channels.size() == 2);
  const TeamsChannel& db = m.channels.at("database");
  CHECK(db.webhook_url == "http://127.0.0.1:9/db");
  // Inherited from the section.
  CHECK(db.title == "Production");
  CHECK_FALSE(db.send_resolved);
  CHECK(db.timeout_ms == 3000);
  const TeamsChannel& web = m.channels.at("web_team-2");
  CHECK(web.webhook_url == "http://127.0.0.1:9/web");
  CHECK(web.title == "Web");
  CHECK(web.send_resolved);
  CHECK(web.timeout_ms == 1500);
  ::unsetenv("PROMEWMA_TEST_TEAMS_URL");
}

TEST_CASE("Without notify there is no relay, and the defaults are documented",
          "[config]") {
  CHECK_FALSE(ParseConfig("listen: 127.0.0.1:9201\n", "p.yml")->notify.msteams);
  Result<Config> c = ParseConfig(
      "notify: {msteams: {webhook_url: 'https://example.com/x'}}\n", "p.yml");
  REQUIRE(c.ok());
  const TeamsChannel& ch = *c->notify.msteams->default_channel;
  CHECK(ch.title == "Prometheus alert");
  CHECK(ch.send_resolved);
  CHECK(ch.timeout_ms == 8000);
  CHECK(c->notify.msteams->channels.empty());
}

TEST_CASE("Only named channels and no default one is allowed", "[config]") {
  Result<Config> c = ParseConfig(
      "notify: {msteams: {channels: {ops: {webhook_url: 'http://h/x'}}}}\n",
      "p.yml");
  INFO(c.status().message());
  REQUIRE(c.ok());
  CHECK_FALSE(c->notify.msteams->default_channel);
  CHECK(c->notify.msteams->channels.count("ops") == 1);
}

TEST_CASE("Each notify rule is enforced with its key path and no secret",
          "[config]") {
  ScratchDir dir;
  dir.Write("empty-url", "\n  \n");
  ::unsetenv("PROMEWMA_TEST_UNSET_URL");
  ::setenv("PROMEWMA_TEST_EMPTY_URL", "", 1);
  auto [yaml, want] = GENERATE(table<std::string, std::string>({
      {"notify: {slack: {}}", "notify.slack: unknown key"},
      {"notify: {msteams: []}", "notify.msteams: expected a map"},
      {"notify: {msteams: {}}", "notify.msteams: needs a webhook URL"},
      {"notify: {msteams: {title: x}}", "notify.msteams: needs a webhook URL"},
      {"notify: {msteams: {webhook_url: 'http://h/x', colour: red}}",
       "notify.msteams.colour: unknown key"},
      {"notify: {msteams: {webhook_url: 'http://h/x', webhook_url_env: X}}",
       "notify.msteams: set only one of webhook_url_file, webhook_url_env, "
       "webhook_url"},
      {"notify: {msteams: {webhook_url_file: missing-file}}",
       "notify.msteams.webhook_url_file: cannot read"},
      {"notify: {msteams: {webhook_url_file: empty-url}}",
       "notify.msteams.webhook_url_file: "},
      {"notify: {msteams: {webhook_url_env: PROMEWMA_TEST_UNSET_URL}}",
       "notify.msteams.webhook_url_env: environment variable "
       "\"PROMEWMA_TEST_UNSET_URL\" is not set"},
      {"notify: {msteams: {webhook_url_env: PROMEWMA_TEST_EMPTY_URL}}",
       "notify.msteams.webhook_url_env: environment variable "
       "\"PROMEWMA_TEST_EMPTY_URL\" is empty"},
      {"notify: {msteams: {webhook_url: 'ftp://h/SECRETSIG'}}",
       "notify.msteams.webhook_url: webhook URL ftp://h/…: scheme must be"},
      {"notify: {msteams: {webhook_url: 'h/SECRETSIG'}}",
       "notify.msteams.webhook_url: the webhook URL must start with http:// "
       "or https://"},
      {"notify: {msteams: {webhook_url: 'http://h:99999/SECRETSIG'}}",
       "notify.msteams.webhook_url: webhook URL http://h:99999/…: port 99999"},
      {"notify: {msteams: {webhook_url: 'http://h/x', timeout: 10s}}",
       "notify.msteams.timeout: must be > 0 and below Alertmanager's 10s"},
      {"notify: {msteams: {webhook_url: 'http://h/x', timeout: 0s}}",
       "notify.msteams.timeout: must be > 0"},
      {"notify: {msteams: {webhook_url: 'http://h/x', timeout: soon}}",
       "notify.msteams.timeout: "},
      {"notify: {msteams: {webhook_url: 'http://h/x', send_resolved: maybe}}",
       "notify.msteams.send_resolved: expected true or false"},
      {"notify: {msteams: {webhook_url: 'http://h/x', title: ''}}",
       "notify.msteams.title: must not be empty"},
      {"notify: {msteams: {channels: {default: {webhook_url: 'http://h/x'}}}}",
       "notify.msteams.channels.default: the name \"default\" is taken"},
      {"notify: {msteams: {channels: {'a/b': {webhook_url: 'http://h/x'}}}}",
       "notify.msteams.channels.a/b: channel names are [A-Za-z0-9_-]+"},
      {"notify: {msteams: {channels: {'': {webhook_url: 'http://h/x'}}}}",
       "notify.msteams.channels.: channel names are [A-Za-z0-9_-]+"},
      {"notify: {msteams: {channels: {ops: {title: x}}}}",
       "notify.msteams.channels.ops: needs a webhook URL"},
      {"notify: {msteams: {channels: {ops: 'http://h/x'}}}",
       "notify.msteams.channels.ops: expected a map with a webhook URL"},
      {"notify: {msteams: {channels: {ops: {webhook_url: 'http://h/x', "
       "channels: {}}}}}",
       "notify.msteams.channels.ops.channels: unknown key"},
      {"notify: {msteams: {channels: {ops: {webhook_url: 'SECRETSIG'}}}}",
       "notify.msteams.channels.ops.webhook_url: the webhook URL must start"},
      {"notify: {msteams: {webhook_url: 'http://h/x', channels: {ops: "
       "{webhook_url: 'http://h/y', timeout: 20s}}}}",
       "notify.msteams.channels.ops.timeout: must be > 0 and below"},
  }));
  Result<Config> c = ParseConfig(yaml, dir.Source());
  INFO(yaml);
  REQUIRE_FALSE(c.ok());
  const std::string& msg = c.status().message();
  CHECK_THAT(msg, Catch::StartsWith(dir.Source() + ": " + want));
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(msg.find("SECRETSIG") == std::string::npos);
  ::unsetenv("PROMEWMA_TEST_EMPTY_URL");
}

TEST_CASE("IsValidChannelName takes letters, digits, _ and -", "[config]") {
  CHECK(IsValidChannelName("ops"));
  CHECK(IsValidChannelName("Team_2-db"));
  CHECK_FALSE(IsValidChannelName(""));
  CHECK_FALSE(IsValidChannelName("a b"));
  CHECK_FALSE(IsValidChannelName("a.b"));
  CHECK_FALSE(IsValidChannelName("ü"));
}

}  // namespace
}  // namespace promewma::config
