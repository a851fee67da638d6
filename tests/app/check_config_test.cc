// `promewma --check-config FILE` and `promewma --config FILE` agree: for
// each bad config both exit 1 with the same one-line message, and every
// config the check passes starts (and stops cleanly on SIGTERM). Run on the
// real binary, since agreeing is what the two command paths must do.

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "testing/subprocess.h"

namespace promewma::app {
namespace {

using namespace std::chrono_literals;
using testing::RunCommand;
using testing::Subprocess;
using testing::TempDir;

const std::string kBinary = std::string(PROMEWMA_BINARY_DIR) + "/bin/promewma";

// "{dir}" in `text` replaced by `dir`.
std::string Expand(std::string text, const std::string& dir) {
  for (size_t at; (at = text.find("{dir}")) != std::string::npos;) {
    text.replace(at, 5, dir);
  }
  return text;
}

// Starts promewma on `config` (on a free port, in a fresh data directory);
// true when it came up listening and exited 0 on SIGTERM.
bool StartsAndStops(const TempDir& dir, const std::string& config,
                    std::string* log) {
  Subprocess p({kBinary, "--config", config, "--listen", "127.0.0.1:0",
                "--data-dir", dir.path() + "/data"},
               dir.path());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool listening = false;
  while (!listening && std::chrono::steady_clock::now() < deadline) {
    listening = p.Stderr().find(" msg=listening ") != std::string::npos;
    if (!listening) std::this_thread::sleep_for(20ms);
  }
  p.Signal(SIGTERM);
  const int status = p.Wait(15s);
  *log = p.Stderr();
  return listening && status == 0;
}

TEST_CASE("a config --check-config refuses stops start-up the same way") {
  auto [yaml, want] = GENERATE(table<std::string, std::string>({
      // The two that once passed the check and then failed to start.
      {"write_back:\n  - url: http://127.0.0.1:99999/api/v1/write\n",
       "write_back[0].url: port 99999 out of range"},
      {"write_back:\n  - url: http://127.0.0.1:9/api/v1/write\n"
       "    headers: {Content-Encoding: gzip}\n",
       "write_back[0].headers.Content-Encoding: is reserved: promewma sets "
       "it"},
      {"write_back:\n  - url: http://127.0.0.1:9/api/v1/write\n"
       "    headers: {Authorization: Bearer x}\n",
       "write_back[0].headers.Authorization: set it with basic_auth or "
       "authorization"},
      {"write_back:\n  - url: http://127.0.0.1:9/api/v1/write\n"
       "    basic_auth: {username: u, password_file: absent}\n",
       "write_back[0].basic_auth.password_file: cannot read {dir}/absent: No "
       "such file or directory"},
      {"write_back:\n  - url: http://127.0.0.1:9/api/v1/write\n"
       "    authorization: {credentials_file: two_lines}\n",
       "write_back[0].authorization.credentials_file: {dir}/two_lines holds "
       "more than one line"},
      {"write_back:\n  - url: https://127.0.0.1:9/api/v1/write\n"
       "    tls_config: {ca_file: not.pem}\n",
       "write_back[0].tls_config.ca_file: {dir}/not.pem: no PEM CA "
       "certificate loaded"},
      {"write_back:\n  - url: http://127.0.0.1:9/api/v1/write\n"
       "    tls_config: {insecure_skip_verify: true}\n",
       "write_back[0].tls_config: needs an https:// url"},
      {"write_back:\n  - url: http://127.0.0.1:9/api/v1/write\n"
       "    queue_config: {min_backoff: 10s, max_backoff: 1s}\n",
       "write_back[0].queue_config.min_backoff: must be <= max_backoff"},
      {"write_back:\n  - url: http://127.0.0.1:9/api/v1/write\n"
       "    queue_config: {max_shards: 100000}\n",
       "write_back[0].queue_config.max_shards: must be at most 1000"},
      {"listen: 'localhost:65536'\n", "listen: port must be a number"},
      {"log_level: verbose\n", "log_level: must be one of"},
      {"data_dir: ''\n", "data_dir: must not be empty"},
      {"retention: 0s\n", "retention: must be > 0"},
      {"ewma: {alpha: 0, k: 3}\n", "ewma.alpha: must be in (0, 1]"},
      {"rules:\n  - match: '{job=node}'\n", "rules[0].match: selector"},
      {"limits: {max_request_bytes: 0}\n",
       "limits.max_request_bytes: must be > 0"},
      {"notify: {msteams: {webhook_url_file: absent}}\n",
       "notify.msteams.webhook_url_file: cannot read \"{dir}/absent\": No "
       "such file or directory"},
      {"notify: {msteams: {webhook_url_env: PROMEWMA_NO_SUCH_VARIABLE}}\n",
       "notify.msteams.webhook_url_env: environment variable "
       "\"PROMEWMA_NO_SUCH_VARIABLE\" is not set"},
      {"notify: {msteams: {channels: {default: {webhook_url: "
       "'http://127.0.0.1:9/x'}}}}\n",
       "notify.msteams.channels.default: the name \"default\" is taken"},
      {"notify: {msteams: {webhook_url: 'http://127.0.0.1:9/x', timeout: "
       "12s}}\n",
       "notify.msteams.timeout: must be > 0 and below Alertmanager's 10s"},
  }));
  TempDir dir;
  dir.WriteFile("not.pem", "not a PEM\n");
  dir.WriteFile("two_lines", "a\nb\n");
  const std::string config = dir.WriteFile("promewma.yml", yaml);
  INFO(yaml);

  std::string check_out, check_err;
  CHECK(RunCommand({kBinary, "--check-config", config}, dir.path(), &check_out,
                   &check_err) == 1);
  CHECK_THAT(check_err,
             Catch::StartsWith(config + ": " + Expand(want, dir.path())));
  CHECK(std::count(check_err.begin(), check_err.end(), '\n') == 1);

  std::string start_out, start_err;
  CHECK(RunCommand({kBinary, "--config", config, "--listen", "127.0.0.1:0",
                    "--data-dir", dir.path() + "/data"},
                   dir.path(), &start_out, &start_err) == 1);
  CHECK(start_err == check_err);
}

TEST_CASE("a web config --check-config refuses stops start-up the same way") {
  auto [yaml, want] = GENERATE(table<std::string, std::string>({
      {"tls_server_config: {cert_file: absent.crt, key_file: absent.key}\n",
       "tls_server_config.cert_file: {dir}/absent.crt: cannot load a PEM "
       "certificate"},
      {"tls_server_config: {key_file: a.key}\n",
       "tls_server_config: missing cert_file"},
      {"tls_server_config: {cert_file: a, key_file: b, client_auth_type: "
       "Always}\n",
       "tls_server_config.client_auth_type: invalid client auth type"},
      {"basic_auth_users: {prometheus: plaintext}\n",
       "basic_auth_users.prometheus: not a bcrypt hash"},
      {"rate_limit: {interval: 1s, burst: 2}\n",
       "rate_limit: not supported by promewma"},
  }));
  TempDir dir;
  const std::string web = dir.WriteFile("web.yml", yaml);
  const std::string config = dir.WriteFile("promewma.yml", "");
  INFO(yaml);

  std::string check_out, check_err;
  CHECK(RunCommand({kBinary, "--check-config", config, "--web.config.file",
                    web},
                   dir.path(), &check_out, &check_err) == 1);
  CHECK_THAT(check_err,
             Catch::StartsWith(web + ": " + Expand(want, dir.path())));
  CHECK(std::count(check_err.begin(), check_err.end(), '\n') == 1);

  std::string start_out, start_err;
  CHECK(RunCommand({kBinary, "--web.config.file", web, "--listen",
                    "127.0.0.1:0", "--data-dir", dir.path() + "/data"},
                   dir.path(), &start_out, &start_err) == 1);
  CHECK(start_err == check_err);
}

TEST_CASE("a config --check-config passes starts") {
  const std::string yaml = GENERATE(
      std::string(""),
      std::string("ewma: {half_life: 5m, k: 2.5, outputs: [ewma, "
                  "anomaly_score]}\nrules:\n  - match: cpu_utilization\n"
                  "    span: 20\nlimits: {max_request_bytes: 8MiB}\n"
                  "retention: 2d\ncheckpoint_interval: 1m\n"),
      std::string("write_back:\n"
                  "  - url: http://127.0.0.1:9/api/v1/write\n"
                  "    remote_timeout: 1s\n"
                  "    headers: {X-Scope-OrgID: team-a}\n"
                  "    basic_auth: {username: u, password_file: password}\n"
                  "    queue_config: {capacity: 100, max_shards: 2, "
                  "max_samples_per_send: 50, retry_on_http_429: false}\n"
                  "  - url: http://127.0.0.1:9/other\n"
                  "    authorization: {type: Token, credentials_file: token}\n"
                  "  - url: https://127.0.0.1:9/api/v1/write\n"
                  "    tls_config: {server_name: prom.internal, "
                  "insecure_skip_verify: true, min_version: TLS13}\n"),
      std::string("notify:\n  msteams:\n    webhook_url_file: teams-url\n"
                  "    title: Ops\n    timeout: 5s\n    channels:\n"
                  "      db: {webhook_url: 'https://example.com/w?sig=x', "
                  "send_resolved: false}\n"));
  TempDir dir;
  dir.WriteFile("password", "pass\n");
  dir.WriteFile("token", "t0ken\n");
  dir.WriteFile("teams-url", "http://127.0.0.1:9/workflows/x?sig=s\n");
  const std::string config = dir.WriteFile("promewma.yml", yaml);
  INFO(yaml);

  std::string out, err;
  CHECK(RunCommand({kBinary, "--check-config", config}, dir.path(), &out,
                   &err) == 0);
  CHECK_THAT(out, Catch::StartsWith(config + ": valid ("));
  std::string log;
  CHECK(StartsAndStops(dir, config, &log));
  INFO(log);
  CHECK(log.find(" level=error ") == std::string::npos);
}

TEST_CASE("flags that override the file are checked like its keys") {
  TempDir dir;
  auto [flags, want] = GENERATE(table<std::vector<std::string>, std::string>({
      {{"--listen", "nowhere"},
       "--listen: expected HOST:PORT, got \"nowhere\"\n"},
      {{"--write-back-url", "http://127.0.0.1:99999/api/v1/write"},
       "--write-back-url: port 99999 out of range\n"},
      {{"--write-back-url", "localhost:8428"},
       "--write-back-url: must start with http:// or https://, got "
       "\"localhost:8428\"\n"},
  }));
  std::vector<std::string> argv = {kBinary, "--data-dir", dir.path() + "/data"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  std::string out, err;
  CHECK(RunCommand(argv, dir.path(), &out, &err) == 1);
  CHECK(err == want);
}

}  // namespace
}  // namespace promewma::app
