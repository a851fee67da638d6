#include "config/config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "model/labels.h"

namespace promewma::config {
namespace {

using ewma::EstimatorParams;
using ewma::Output;
using ewma::OutputBit;
using ewma::ThresholdBasis;
using ewma::SpreadKind;
using ewma::Transform;
using ParamsEdit = std::function<void(EstimatorParams*)>;

constexpr char kSource[] = "promewma.yml";

Config MustParse(const std::string& yaml) {
  Result<Config> config = ParseConfig(yaml, kSource);
  INFO(yaml << "\n=> " << config.status().message());
  REQUIRE(config.ok());
  return std::move(config).value();
}

void CheckParamsEqual(const EstimatorParams& got, const EstimatorParams& want) {
  CHECK(got.alpha == want.alpha);
  CHECK(got.half_life_ms == want.half_life_ms);
  CHECK(got.k == want.k);
  CHECK(got.min_samples == want.min_samples);
  CHECK(got.reset_after_ms == want.reset_after_ms);
  CHECK(got.threshold_basis == want.threshold_basis);
  CHECK(static_cast<int>(got.outputs) == static_cast<int>(want.outputs));
  CHECK(got.spread == want.spread);
  CHECK(got.spread_alpha == want.spread_alpha);
  CHECK(got.transform == want.transform);
  CHECK(got.season_slots == want.season_slots);
  CHECK(got.season_alpha == want.season_alpha);
  CHECK(got.season_min_history_ms == want.season_min_history_ms);
}

EstimatorParams Edited(const ParamsEdit& edit) {
  EstimatorParams params;
  edit(&params);
  return params;
}

// A scratch directory under the system temp dir, removed afterwards.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("promewma_config_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST_CASE("An empty or comment-only file is the default config", "[config]") {
  auto yaml = GENERATE(as<std::string>{}, "", "\n\n", "# nothing here\n",
                       "---\n", "# a\n---\n# b\n", "{}\n");
  Config config = MustParse(yaml);
  CHECK(config.listen == "127.0.0.1:9201");
  CHECK(config.log_level == "info");
  CHECK(config.rules.empty());
  CHECK(config.limits.max_request_bytes == 16u << 20);
  CHECK(config.limits.max_decoded_bytes == 64u << 20);
  CheckParamsEqual(config.ewma, EstimatorParams());
}

TEST_CASE("The defaults are the documented ones", "[config]") {
  const EstimatorParams params = MustParse("").ewma;
  CHECK(params.alpha == 2.0 / 11.0);  // span: 10
  CHECK(params.half_life_ms == 0);
  CHECK(params.k == 4.5);
  CHECK(params.min_samples == 10);
  CHECK(params.reset_after_ms == 3600 * 1000);
  CHECK(params.threshold_basis == ThresholdBasis::kPrior);
  CHECK(params.outputs ==
        (OutputBit(Output::kEwma) | OutputBit(Output::kUpperThreshold)));
  CHECK(params.spread == SpreadKind::kErrorRms);
  CHECK(params.spread_alpha == 2.0 / 10001.0);  // spread_span: 10000
  CHECK(params.transform == Transform::kNone);
  CHECK(params.season_slots == 96);
  CHECK(params.season_alpha == 2.0 / 15.0);  // season.span: 14
  CHECK(params.season_min_history_ms == 24 * 3600 * 1000);
}

TEST_CASE("Each ewma key sets its parameter", "[config]") {
  auto [yaml, edit] = GENERATE(table<std::string, ParamsEdit>({
      {"alpha: 0.3", [](EstimatorParams* p) { p->alpha = 0.3; }},
      {"alpha: 1", [](EstimatorParams* p) { p->alpha = 1.0; }},
      {"span: 20", [](EstimatorParams* p) { p->alpha = 2.0 / 21.0; }},
      {"span: 1", [](EstimatorParams* p) { p->alpha = 1.0; }},
      {"span: 2.5", [](EstimatorParams* p) { p->alpha = 2.0 / 3.5; }},
      {"half_life: 5m", [](EstimatorParams* p) { p->half_life_ms = 300000; }},
      {"half_life: 1500ms", [](EstimatorParams* p) { p->half_life_ms = 1500; }},
      {"k: 2.5", [](EstimatorParams* p) { p->k = 2.5; }},
      {"k: \"4\"", [](EstimatorParams* p) { p->k = 4; }},
      {"min_samples: 1", [](EstimatorParams* p) { p->min_samples = 1; }},
      {"min_samples: 4294967295",
       [](EstimatorParams* p) { p->min_samples = 4294967295u; }},
      {"reset_after: 0", [](EstimatorParams* p) { p->reset_after_ms = 0; }},
      {"reset_after: 1d12h",
       [](EstimatorParams* p) { p->reset_after_ms = 36 * 3600 * 1000; }},
      {"threshold_basis: posterior",
       [](EstimatorParams*
              p) { p->threshold_basis = ThresholdBasis::kPosterior; }},
      {"threshold_basis: prior",
       [](EstimatorParams* p) { p->threshold_basis = ThresholdBasis::kPrior; }},
      {"outputs: [stddev]",
       [](EstimatorParams* p) { p->outputs = OutputBit(Output::kStddev); }},
      {"outputs: [ewma, upper_threshold, lower_threshold, stddev, "
       "anomaly_score]",
       [](EstimatorParams* p) { p->outputs = 0x1f; }},
      {"spread: error_rms",
       [](EstimatorParams* p) { p->spread = SpreadKind::kErrorRms; }},
      {"spread: error_mean_abs",
       [](EstimatorParams* p) { p->spread = SpreadKind::kErrorMeanAbs; }},
      {"spread: ewm_std",
       [](EstimatorParams* p) { p->spread = SpreadKind::kEwmStd; }},
      {"spread_span: 3000",
       [](EstimatorParams* p) { p->spread_alpha = 2.0 / 3001.0; }},
      {"spread_alpha: 0.01", [](EstimatorParams* p) { p->spread_alpha = 0.01; }},
      {"transform: log1p",
       [](EstimatorParams* p) { p->transform = Transform::kLog1p; }},
      {"transform: none",
       [](EstimatorParams* p) { p->transform = Transform::kNone; }},
      {"season: {slots: 48}",
       [](EstimatorParams* p) { p->season_slots = 48; }},
      {"season: {slots: 0}", [](EstimatorParams* p) { p->season_slots = 0; }},
      {"season: {slots: 96, span: 21, min_history: 2d}",
       [](EstimatorParams* p) {
         p->season_slots = 96;
         p->season_alpha = 2.0 / 22.0;
         p->season_min_history_ms = 2 * 86400 * 1000;
       }},
      {"season: {alpha: 0.25}",
       [](EstimatorParams* p) { p->season_alpha = 0.25; }},
      {"season:\n    min_history: 0",
       [](EstimatorParams* p) { p->season_min_history_ms = 0; }},
      {"outputs:\n    - anomaly_score\n    - lower_threshold",
       [](EstimatorParams* p) {
         p->outputs = OutputBit(Output::kAnomalyScore) |
                      OutputBit(Output::kLowerThreshold);
       }},
  }));
  Config config = MustParse("ewma:\n  " + yaml + "\n");
  INFO(yaml);
  CheckParamsEqual(config.ewma, Edited(edit));
}

TEST_CASE("Top-level keys", "[config]") {
  SECTION("listen") {
    auto listen = GENERATE(as<std::string>{}, "0.0.0.0:9201", "localhost:0",
                           "example.com:65535", "\"[::1]:9201\"", "'[::]:80'");
    Config config = MustParse("listen: " + listen + "\n");
    std::string want = listen;
    if (want[0] == '"' || want[0] == '\'')
      want = want.substr(1, want.size() - 2);
    CHECK(config.listen == want);
  }
  SECTION("log_level") {
    auto level = GENERATE(as<std::string>{}, "debug", "info", "warn", "error");
    CHECK(MustParse("log_level: " + level).log_level == level);
  }
  SECTION("max_samples_per_query") {
    CHECK(MustParse("").limits.max_samples_per_query == 50000000);
    CHECK(MustParse("limits: {max_samples_per_query: 1000}\n")
              .limits.max_samples_per_query == 1000);
  }
  SECTION("max_series_per_request") {
    CHECK(MustParse("").limits.max_series_per_request == 100000);
    CHECK(MustParse("limits: {max_series_per_request: 5000}\n")
              .limits.max_series_per_request == 5000);
  }
  SECTION("series_idle_timeout") {
    CHECK(MustParse("").series_idle_timeout_ms ==
          head::HeadOptions::kIdleTimeoutResetAfter);
    CHECK(MustParse("series_idle_timeout: 10m\n").series_idle_timeout_ms ==
          600000);
    CHECK(MustParse("series_idle_timeout: 0s\n").series_idle_timeout_ms == 0);
  }
  SECTION("max_concurrent_reads") {
    CHECK(MustParse("").limits.max_concurrent_reads == 10);
    CHECK(MustParse("limits: {max_concurrent_reads: 0}\n")
              .limits.max_concurrent_reads == 0);
  }
  SECTION("min_free_disk_bytes") {
    CHECK(MustParse("").limits.min_free_disk_bytes == 256u << 20);
    CHECK(MustParse("limits: {min_free_disk_bytes: 1GiB}\n")
              .limits.min_free_disk_bytes == 1u << 30);
    CHECK(MustParse("limits: {min_free_disk_bytes: 0}\n")
              .limits.min_free_disk_bytes == 0);
  }
  SECTION("series limits") {
    const head::SeriesLimits defaults = MustParse("").limits.series;
    CHECK(defaults.max_labels_per_series == 30);
    CHECK(defaults.max_label_name_length == 1024);
    CHECK(defaults.max_label_value_length == 2048);
    CHECK(defaults.max_active_series == 2000000);
    const head::SeriesLimits set =
        MustParse(
            "limits: {max_labels_per_series: 8, max_label_name_length: 64, "
            "max_label_value_length: 256, max_active_series: 0}\n")
            .limits.series;
    CHECK(set.max_labels_per_series == 8);
    CHECK(set.max_label_name_length == 64);
    CHECK(set.max_label_value_length == 256);
    CHECK(set.max_active_series == 0);
  }
  SECTION("max_connections") {
    CHECK(MustParse("").limits.max_connections == 1024);
    CHECK(MustParse("limits: {max_connections: 4096}\n")
              .limits.max_connections == 4096);
  }
  SECTION("memory") {
    const Config defaults = MustParse("");
    CHECK(defaults.memory.memtables == 64u << 20);
    CHECK(defaults.memory.block_cache == 8u << 20);
    CHECK(defaults.memory.malloc_arenas == 2);
    CHECK(defaults.memory.free_heap == 32u << 20);
    CHECK_FALSE(defaults.memory.cache_reads);
    const Config set = MustParse(
        "memory: {memtables: 16MiB, block_cache: 0, malloc_arenas: 0, "
        "free_heap: 1MiB, cache_reads: true}\n");
    CHECK(set.memory.memtables == 16u << 20);
    CHECK(set.memory.block_cache == 0);
    CHECK(set.memory.malloc_arenas == 0);
    CHECK(set.memory.free_heap == 1u << 20);
    CHECK(set.memory.cache_reads);
  }
  SECTION("retention and checkpoint_interval") {
    Config defaults = MustParse("");
    CHECK(defaults.retention_ms == 15LL * 24 * 3600 * 1000);
    CHECK(defaults.checkpoint_interval_ms == 300000);
    Config config = MustParse("retention: 30d\ncheckpoint_interval: 30s\n");
    CHECK(config.retention_ms == 30LL * 24 * 3600 * 1000);
    CHECK(config.checkpoint_interval_ms == 30000);
  }
  SECTION("data_dir and durability") {
    Config defaults = MustParse("");
    CHECK(defaults.data_dir == "./data");
    CHECK(defaults.durability == promewma::wal::Durability::kOs);
    Config config =
        MustParse("data_dir: /var/lib/promewma\ndurability: fsync\n");
    CHECK(config.data_dir == "/var/lib/promewma");
    CHECK(config.durability == promewma::wal::Durability::kFsync);
  }
  SECTION("limits") {
    auto [yaml, want_request,
          want_decoded] = GENERATE(table<std::string, uint64_t, uint64_t>({
        {"{max_request_bytes: 1024}", 1024, 64u << 20},
        {"{max_request_bytes: 1MiB}", 1u << 20, 64u << 20},
        {"{max_decoded_bytes: 2GB}", 16u << 20, 2ull << 30},
        {"{max_request_bytes: 10KB, max_decoded_bytes: 100KiB}", 10240, 102400},
    }));
    Config config = MustParse("limits: " + yaml + "\n");
    CHECK(config.limits.max_request_bytes == want_request);
    CHECK(config.limits.max_decoded_bytes == want_decoded);
  }
}

TEST_CASE("Rules inherit the top-level ewma values", "[config]") {
  auto [yaml, want_default, want_rule] =
      GENERATE(table<std::string, ParamsEdit, ParamsEdit>({
          // Nothing set in the rule: everything inherited.
          {"ewma: {k: 2, min_samples: 5}\n"
           "rules:\n  - match: cpu_utilization\n",
           [](EstimatorParams* p) {
             p->k = 2;
             p->min_samples = 5;
           },
           [](EstimatorParams* p) {
             p->k = 2;
             p->min_samples = 5;
           }},
          // rules before ewma in the file: still inherited.
          {"rules:\n  - match: cpu_utilization\n    k: 4\n"
           "ewma:\n  span: 20\n  reset_after: 5m\n",
           [](EstimatorParams* p) {
             p->alpha = 2.0 / 21;
             p->reset_after_ms = 300000;
           },
           [](EstimatorParams* p) {
             p->alpha = 2.0 / 21;
             p->reset_after_ms = 300000;
             p->k = 4;
           }},
          // A rule's alpha replaces an inherited half_life ...
          {"ewma: {half_life: 10m}\n"
           "rules: [{match: cpu_utilization, alpha: 0.5}]\n",
           [](EstimatorParams* p) { p->half_life_ms = 600000; },
           [](EstimatorParams* p) { p->alpha = 0.5; }},
          // ... and a span too.
          {"ewma: {span: 3}\n"
           "rules: [{match: cpu_utilization, span: 4}]\n",
           [](EstimatorParams* p) { p->alpha = 0.5; },
           [](EstimatorParams* p) { p->alpha = 0.4; }},
          // A rule's half_life replaces an inherited alpha.
          {"ewma: {alpha: 0.5}\n"
           "rules: [{match: cpu_utilization, half_life: 1h}]\n",
           [](EstimatorParams* p) { p->alpha = 0.5; },
           [](EstimatorParams* p) {
             p->alpha = 0.5;
             p->half_life_ms = 3600000;
           }},
          // A rule's season keys change only what they name.
          {"ewma: {season: {slots: 48, span: 14}}\n"
           "rules: [{match: cpu_utilization, season: {min_history: 2h}}]\n",
           [](EstimatorParams* p) {
             p->season_slots = 48;
             p->season_alpha = 2.0 / 15.0;
           },
           [](EstimatorParams* p) {
             p->season_slots = 48;
             p->season_alpha = 2.0 / 15.0;
             p->season_min_history_ms = 2 * 3600 * 1000;
           }},
          {"ewma: {outputs: [ewma], threshold_basis: posterior}\n"
           "rules: [{match: cpu_utilization, outputs: [stddev]}]\n",
           [](EstimatorParams* p) {
             p->outputs = OutputBit(Output::kEwma);
             p->threshold_basis = ThresholdBasis::kPosterior;
           },
           [](EstimatorParams* p) {
             p->outputs = OutputBit(Output::kStddev);
             p->threshold_basis = ThresholdBasis::kPosterior;
           }},
      }));
  INFO(yaml);
  Config config = MustParse(yaml);
  CheckParamsEqual(config.ewma, Edited(want_default));
  REQUIRE(config.rules.size() == 1);
  CheckParamsEqual(config.rules[0].params, Edited(want_rule));
}

TEST_CASE("Rules keep their order, text and parsed selector", "[config]") {
  Config config = MustParse(R"(
rules:
  - match: 'cpu_utilization{job="batch"}'
    half_life: 5m
  - match: '{__name__=~"cpu_.*", env!=""}'
    k: 2
)");
  REQUIRE(config.rules.size() == 2);
  CHECK(config.rules[0].match == R"(cpu_utilization{job="batch"})");
  CHECK(config.rules[1].match == R"({__name__=~"cpu_.*", env!=""})");
  CHECK(config.rules[1].selector.ToString() ==
        R"({__name__=~"cpu_.*",env!=""})");

  std::vector<model::Label> labels = {{"__name__", "cpu_utilization"},
                                      {"job", "batch"}};
  std::string series;
  REQUIRE(model::EncodeLabelSet(&labels, &series).ok());
  CHECK(config.rules[0].selector.Matches(model::LabelSetView(series)));
  CHECK_FALSE(config.rules[1].selector.Matches(model::LabelSetView(series)));
}

TEST_CASE("warm_start takes a remote-read source with the client keys and "
          "its bounds", "[config]") {
  Config none = MustParse("listen: 127.0.0.1:1\n");
  CHECK_FALSE(none.warm_start.has_value());
  Config c = MustParse(
      "warm_start:\n"
      "  url: http://127.0.0.1:9090/api/v1/read\n"
      "  remote_timeout: 5s\n"
      "  headers: {X-Scope-OrgID: team-a}\n"
      "  lookback: 2h\n"
      "  budget: 10s\n"
      "  max_held_samples: 5000\n"
      "  concurrency: 4\n");
  REQUIRE(c.warm_start.has_value());
  CHECK(c.warm_start->client.url == "http://127.0.0.1:9090/api/v1/read");
  CHECK(c.warm_start->client.remote_timeout == std::chrono::seconds(5));
  REQUIRE(c.warm_start->client.headers.size() == 1);
  CHECK(c.warm_start->lookback == std::chrono::hours(2));
  CHECK(c.warm_start->budget == std::chrono::seconds(10));
  CHECK(c.warm_start->max_held_samples == 5000);
  CHECK(c.warm_start->concurrency == 4);
  Config defaults = MustParse("warm_start: {url: 'http://a:1/api/v1/read'}\n");
  CHECK(defaults.warm_start->lookback == std::chrono::hours(6));
  CHECK(defaults.warm_start->budget == std::chrono::seconds(30));
}

TEST_CASE("write_back targets with Prometheus' queue_config keys",
          "[config]") {
  TempDir dir;
  const std::string token = dir.Write("token", "t0ken\n");
  Config c = MustParse(R"(
write_back:
  - url: http://127.0.0.1:8428/api/v1/write
  - url: https://mimir.example.net/api/v1/push
    remote_timeout: 10s
    headers: {X-Scope-OrgID: team-a}
    authorization: {credentials_file: )" + token + R"(}
    queue_config:
      capacity: 5000
      min_shards: 2
      max_shards: 8
      max_samples_per_send: 1000
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 10s
      retry_on_http_429: false
      max_retry_duration: 2m
)");
  using std::chrono::milliseconds;
  REQUIRE(c.write_back.size() == 2);
  const writeback::TargetConfig& vm = c.write_back[0];
  CHECK(vm.client.url == "http://127.0.0.1:8428/api/v1/write");
  CHECK(vm.client.remote_timeout == milliseconds(30000));
  CHECK(vm.client.retry_on_http_429);
  CHECK_FALSE(vm.client.basic_auth.has_value());
  CHECK_FALSE(vm.client.authorization.has_value());
  CHECK_FALSE(vm.client.tls_config.has_value());
  CHECK(vm.queue.capacity == 10000);
  CHECK(vm.queue.max_shards == 4);
  CHECK(vm.queue.max_samples_per_send == 2000);
  CHECK(vm.queue.max_retry_duration == std::chrono::minutes(5));
  const writeback::TargetConfig& mimir = c.write_back[1];
  CHECK(mimir.client.remote_timeout == milliseconds(10000));
  REQUIRE(mimir.client.headers.size() == 1);
  CHECK(mimir.client.headers[0].first == "X-Scope-OrgID");
  CHECK(mimir.client.headers[0].second == "team-a");
  REQUIRE(mimir.client.authorization.has_value());
  CHECK(mimir.client.authorization->type == "Bearer");
  CHECK(mimir.client.authorization->credentials_file == token);
  CHECK_FALSE(mimir.client.retry_on_http_429);
  CHECK(mimir.queue.capacity == 5000);
  CHECK(mimir.queue.min_shards == 2);
  CHECK(mimir.queue.max_shards == 8);
  CHECK(mimir.queue.max_samples_per_send == 1000);
  CHECK(mimir.queue.batch_send_deadline == milliseconds(1000));
  CHECK(mimir.queue.min_backoff == milliseconds(100));
  CHECK(mimir.queue.max_backoff == milliseconds(10000));
  CHECK(mimir.queue.max_retry_duration == milliseconds(120000));
}

TEST_CASE("write_back secret files are relative to the config file",
          "[config]") {
  TempDir dir;
  dir.Write("secret", "pass\n");
  const std::string path = dir.Write(
      "promewma.yml",
      "write_back:\n  - url: http://a\n    basic_auth: {username: u, "
      "password_file: secret}\n");
  Result<Config> c = LoadConfigFile(path);
  INFO(c.status().message());
  REQUIRE(c.ok());
  REQUIRE(c->write_back[0].client.basic_auth.has_value());
  CHECK(c->write_back[0].client.basic_auth->username == "u");
  CHECK(c->write_back[0].client.basic_auth->password_file ==
        (std::filesystem::path(dir.path()) / "secret").string());

  // And they must be readable, as the client will read them.
  const std::string bad = dir.Write(
      "bad.yml",
      "write_back:\n  - url: http://a\n    authorization: "
      "{credentials_file: absent}\n");
  CHECK(LoadConfigFile(bad).status().message() ==
        bad + ": write_back[0].authorization.credentials_file: cannot read " +
            dir.path() + "/absent: No such file or directory");
}

TEST_CASE("write_back tls_config takes Prometheus' keys", "[config]") {
  TempDir dir;
  const std::string not_pem = dir.Write("ca.pem", "not a PEM\n");
  Config c = MustParse(R"(
write_back:
  - url: https://a.example/api/v1/write
  - url: https://b.example/api/v1/write
    tls_config:
      server_name: prom.internal
      insecure_skip_verify: true
      min_version: TLS13
  - url: https://c.example/api/v1/write
    tls_config:
)");
  REQUIRE(c.write_back.size() == 3);
  CHECK_FALSE(c.write_back[0].client.tls_config.has_value());
  REQUIRE(c.write_back[1].client.tls_config.has_value());
  const remote::TlsConfig& tls = *c.write_back[1].client.tls_config;
  CHECK(tls.ca_file.empty());
  CHECK(tls.cert_file.empty());
  CHECK(tls.key_file.empty());
  CHECK(tls.server_name == "prom.internal");
  CHECK(tls.insecure_skip_verify);
  CHECK(tls.min_version == remote::TlsConfig::Version::kTls13);
  REQUIRE(c.write_back[2].client.tls_config.has_value());
  const remote::TlsConfig& empty = *c.write_back[2].client.tls_config;
  CHECK_FALSE(empty.insecure_skip_verify);
  CHECK(empty.min_version == remote::TlsConfig::Version::kTls12);

  // The files are loaded as the client loads them; their OpenSSL reasons
  // are in tests/remote/remote_write_client_tls_test.cc.
  Result<Config> bad = ParseConfig(
      "write_back: [{url: 'https://a', tls_config: {ca_file: '" + not_pem +
          "'}}]\n",
      kSource);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(),
             Catch::StartsWith("promewma.yml: write_back[0].tls_config."
                               "ca_file: " +
                               not_pem + ": no PEM CA certificate loaded"));
}

TEST_CASE("write_back TLS files are relative to the config file and must be "
          "readable",
          "[config]") {
  TempDir dir;
  auto [tls_config, want] = GENERATE(table<std::string, std::string>({
      {"{ca_file: absent.pem}",
       "tls_config.ca_file: cannot read {dir}/absent.pem: No such file or "
       "directory"},
      {"{ca_file: .}",
       "tls_config.ca_file: cannot read {dir}/.: Is a directory"},
      {"{cert_file: absent.pem, key_file: client.key}",
       "tls_config.cert_file: cannot read {dir}/absent.pem: No such file"},
      {"{cert_file: client.pem, key_file: absent.key}",
       "tls_config.key_file: cannot read {dir}/absent.key: No such file"},
  }));
  dir.Write("client.pem", "cert");
  dir.Write("client.key", "key");
  const std::string bad = dir.Write(
      "bad.yml", "write_back:\n  - url: https://a\n  - url: https://b\n"
                 "    tls_config: " + tls_config + "\n");
  Result<Config> failed = LoadConfigFile(bad);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == StatusCode::kInvalidArgument);
  std::string expanded = want;
  expanded.replace(expanded.find("{dir}"), 5, dir.path());
  CHECK_THAT(failed.status().message(),
             Catch::StartsWith(bad + ": write_back[1]." + expanded));
}

TEST_CASE("write_back targets pass only what start-up accepts", "[config]") {
  // Each of these once passed the config check and then stopped start-up.
  auto [yaml, want] = GENERATE(table<std::string, std::string>({
      {"write_back: [{url: 'http://127.0.0.1:99999/api/v1/write'}]\n",
       "promewma.yml: write_back[0].url: port 99999 out of range"},
      {"write_back: [{url: 'http://a', headers: {Content-Encoding: gzip}}]\n",
       "promewma.yml: write_back[0].headers.Content-Encoding: is reserved: "
       "promewma sets it"},
      {"write_back: [{url: 'http://a', headers: {authorization: x}}]\n",
       "promewma.yml: write_back[0].headers.authorization: set it with "
       "basic_auth or authorization"},
      {"write_back: [{url: 'http://a', headers: {'X A': x}}]\n",
       "promewma.yml: write_back[0].headers: header name \"X A\" is not a "
       "valid HTTP token"},
      {"write_back: [{url: 'http://a', authorization: {type: Basic, "
       "credentials: x}}]\n",
       "promewma.yml: write_back[0].authorization.type: Basic is not allowed "
       "here; use basic_auth"},
      {"write_back: [{url: 'https://a', tls_config: {server_name: 'a b'}}]\n",
       "promewma.yml: write_back[0].tls_config.server_name: must be a DNS "
       "name or an IPv4 address, got \"a b\""},
      {"write_back: [{url: 'http://a', queue_config: {max_shards: 5000}}]\n",
       "promewma.yml: write_back[0].queue_config.max_shards: must be at most "
       "1000, got 5000"},
  }));
  INFO(yaml);
  Result<Config> config = ParseConfig(yaml, kSource);
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().message() == want);
}

TEST_CASE("Every error is one line naming the source, path and problem",
          "[config]") {
  auto [yaml, want] = GENERATE(table<std::string, std::string>({
      // YAML syntax and document shape.
      {"listen: a\nlog_level: info\newma: [\n", "promewma.yml: line 4: "},
      {"a: 1\n---\nb: 2\n", "promewma.yml: expected one YAML document"},
      {"- 1\n", "promewma.yml: expected a map of settings at the top level"},
      {"just text\n",
       "expected a map of settings at the top level, got "
       "\"just text\""},
      {"spam: 1\n", "promewma.yml: spam: unknown key"},
      // warm_start
      {"warm_start: {lookback: 1h}\n",
       "promewma.yml: warm_start.url: is required"},
      {"warm_start: {url: 'ftp://x'}\n",
       "warm_start.url: scheme must be http or https, got \"ftp\""},
      {"warm_start: {url: 'http://a', lookback: 0s}\n",
       "warm_start.lookback: must be positive"},
      {"warm_start: {url: 'http://a', budget: 0s}\n",
       "warm_start.budget: must be positive"},
      {"warm_start: {url: 'http://a', max_held_samples: 0}\n",
       "warm_start.max_held_samples: must be positive"},
      {"warm_start: {url: 'http://a', concurrency: 0}\n",
       "warm_start.concurrency: must be 1 to 64"},
      {"warm_start: {url: 'http://a', queue_config: {}}\n",
       "warm_start.queue_config: unknown key"},
      {"warm_start: {url: 'https://a', tls_config: {server_name: b}}\n",
       "warm_start.tls_config.server_name: not supported for remote read"},
      // write_back
      {"write_back: {url: x}\n", "promewma.yml: write_back: expected a list"},
      {"write_back: [{remote_timeout: 5s}]\n",
       "promewma.yml: write_back[0].url: is required"},
      {"write_back: [{url: 'ftp://x'}]\n",
       "write_back[0].url: scheme must be http or https, got \"ftp\""},
      {"write_back: [{url: 'http://'}]\n", "write_back[0].url: empty host"},
      {"write_back: [{url: [a]}]\n",
       "write_back[0].url: expected a string, got a list"},
      {"write_back: [{url: 'http://a', spam: 1}]\n",
       "write_back[0].spam: unknown key"},
      {"write_back: [{url: 'http://a', remote_timeout: 0s}]\n",
       "write_back[0].remote_timeout: must be > 0"},
      {"write_back: [{url: 'http://a', queue_config: {capacity: 0}}]\n",
       "write_back[0].queue_config.capacity: must be >= 1, got 0"},
      {"write_back: [{url: 'http://a', queue_config: {capacity: 1.5}}]\n",
       "write_back[0].queue_config.capacity: expected an integer, got 1.5"},
      {"write_back: [{url: 'http://a', queue_config: "
       "{capacity: 99999999999}}]\n",
       "write_back[0].queue_config.capacity: out of range, got 99999999999"},
      {"write_back: [{url: 'http://a', queue_config: {min_backoff: 0s}}]\n",
       "write_back[0].queue_config.min_backoff: must be > 0"},
      {"write_back: [{url: 'http://a', queue_config: {min_backoff: 10s}}]\n",
       "write_back[0].queue_config.min_backoff: must be <= max_backoff"},
      {"write_back: [{url: 'http://a', queue_config: {min_shards: 3, "
       "max_shards: 2}}]\n",
       "write_back[0].queue_config.min_shards: must be <= max_shards (2), "
       "got 3"},
      {"write_back: [{url: 'http://a', queue_config: {capacity: 10, "
       "max_samples_per_send: 20}}]\n",
       "queue_config.max_samples_per_send: must be <= capacity (10), got 20"},
      {"write_back: [{url: 'http://a', queue_config: "
       "{retry_on_http_429: yes}}]\n",
       "queue_config.retry_on_http_429: expected true or false, got \"yes\""},
      {"write_back: [{url: 'http://a', basic_auth: {username: u, password: p, "
       "password_file: f}}]\n",
       "write_back[0].basic_auth: password and password_file are exclusive"},
      {"write_back: [{url: 'http://a', basic_auth: {username: u}, "
       "authorization: {credentials: c}}]\n",
       "write_back[0]: basic_auth and authorization are exclusive"},
      {"write_back: [{url: 'http://a', headers: {X-A: [1]}}]\n",
       "write_back[0].headers.X-A: expected a string, got a list"},
      // write_back tls_config
      {"write_back: [{url: 'http://a', tls_config: {server_name: a}}]\n",
       "promewma.yml: write_back[0].tls_config: needs an https:// url, got "
       "\"http://a\""},
      {"write_back: [{tls_config: {}, url: 'http://a'}]\n",
       "write_back[0].tls_config: needs an https:// url"},
      {"write_back: [{url: 'https://a', tls_config: [a]}]\n",
       "write_back[0].tls_config: expected a map, got a list"},
      {"write_back: [{url: 'https://a', tls_config: {spam: 1}}]\n",
       "write_back[0].tls_config.spam: unknown key"},
      {"write_back: [{url: 'https://a', tls_config: {ca_file: [x]}}]\n",
       "write_back[0].tls_config.ca_file: expected a string, got a list"},
      {"write_back: [{url: 'https://a', tls_config: {ca: PEM}}]\n",
       "write_back[0].tls_config.ca: inline PEM is not supported; use ca_file"},
      {"write_back: [{url: 'https://a', tls_config: {key: PEM}}]\n",
       "tls_config.key: inline PEM is not supported; use key_file"},
      {"write_back: [{url: 'https://a', tls_config: {cert_file: c}}]\n",
       "write_back[0].tls_config: cert_file and key_file must be set "
       "together"},
      {"write_back: [{url: 'https://a', tls_config: {key_file: k}}]\n",
       "write_back[0].tls_config: cert_file and key_file must be set "
       "together"},
      {"write_back: [{url: 'https://a', tls_config: "
       "{insecure_skip_verify: yes}}]\n",
       "tls_config.insecure_skip_verify: expected true or false, got \"yes\""},
      {"write_back: [{url: 'https://a', tls_config: {min_version: TLS11}}]\n",
       "write_back[0].tls_config.min_version: TLS10 and TLS11 are not "
       "supported; use TLS12 or TLS13"},
      {"write_back: [{url: 'https://a', tls_config: {min_version: tls13}}]\n",
       "write_back[0].tls_config.min_version: must be TLS12 or TLS13, got "
       "\"tls13\""},
      {"retention: 0s\n", "promewma.yml: retention: must be > 0"},
      {"checkpoint_interval: soon\n", "promewma.yml: checkpoint_interval: "},
      {"limits: {max_samples_per_query: 0}\n",
       "promewma.yml: limits.max_samples_per_query: must be > 0, got 0"},
      {"limits: {max_series_per_request: -3}\n",
       "promewma.yml: limits.max_series_per_request: must be > 0, got -3"},
      {"series_idle_timeout: soon\n", "promewma.yml: series_idle_timeout: "},
      {"limits: {max_labels_per_series: 0}\n",
       "limits.max_labels_per_series: must be > 0, got 0"},
      {"limits: {max_label_name_length: 5000000000}\n",
       "limits.max_label_name_length: must be below 4294967296"},
      {"limits: {max_label_value_length: long}\n",
       "limits.max_label_value_length: expected an integer > 0"},
      {"limits: {max_concurrent_reads: -2}\n",
       "limits.max_concurrent_reads: must be in [0, 1000000] (0: no limit), "
       "got -2"},
      {"limits: {min_free_disk_bytes: lots}\n",
       "limits.min_free_disk_bytes: "},
      {"limits: {max_active_series: -1}\n",
       "limits.max_active_series: must be >= 0 (0: no limit), got -1"},
      {"limits: {max_connections: 0}\n",
       "promewma.yml: limits.max_connections: must be in [1, 1000000], got 0"},
      {"limits: {max_connections: many}\n",
       "promewma.yml: limits.max_connections: expected an integer > 0"},
      {"memory: {memtables: 512KiB}\n",
       "promewma.yml: memory.memtables: must be at least 1MiB, got 512KiB"},
      {"memory: {block_cache: lots}\n", "promewma.yml: memory.block_cache: "},
      {"memory: {malloc_arenas: 65}\n",
       "promewma.yml: memory.malloc_arenas: must be in [0, 64], got 65"},
      {"memory: {malloc_arenas: -1}\n",
       "promewma.yml: memory.malloc_arenas: must be in [0, 64], got -1"},
      {"memory: {free_heap: 512KiB}\n",
       "promewma.yml: memory.free_heap: must be at least 1MiB, got 512KiB"},
      {"memory: {free_heap: lots}\n", "promewma.yml: memory.free_heap: "},
      {"memory: {cache_reads: yes}\n",
       "promewma.yml: memory.cache_reads: expected true or false, got \"yes\""},
      {"memory: {heap: 1GiB}\n", "promewma.yml: memory.heap: unknown key"},
      // data_dir, durability
      {"data_dir: ''\n", "promewma.yml: data_dir: must not be empty"},
      {"data_dir: [a]\n", "promewma.yml: data_dir: expected a directory path"},
      {"durability: always\n",
       "promewma.yml: durability: must be os or fsync, got \"always\""},
      {"listen: a:1\nlisten: b:2\n", "promewma.yml: listen: duplicate key"},
      {"[a]: 1\n", "keys must be strings"},
      // listen
      {"listen: 9201\n", "listen: expected HOST:PORT, got \"9201\""},
      {"listen: ':9201'\n", "listen: host must not be empty"},
      {"listen: 'localhost:'\n", "listen: port must be a number in 0..65535"},
      {"listen: 'localhost:65536'\n", "listen: port must be a number"},
      {"listen: 'localhost:http'\n", "listen: port must be a number"},
      {"listen: '::1:9201'\n", "listen: an IPv6 host goes in brackets"},
      {"listen: '[::1]9201'\n", "listen: expected [IPV6]:PORT"},
      {"listen: '[]:9201'\n", "listen: host must not be empty"},
      {"listen: [a, b]\n", "listen: expected HOST:PORT, got a list"},
      {"listen: {a: b}\n", "listen: expected HOST:PORT, got a map"},
      {"listen:\n", "listen: expected HOST:PORT, got null"},
      // log_level
      {"log_level: verbose\n",
       "log_level: must be one of debug, info, warn, error, got \"verbose\""},
      {"log_level: INFO\n", "log_level: must be one of"},
      // ewma
      {"ewma: 3\n", "promewma.yml: ewma: expected a map, got \"3\""},
      {"ewma: [1]\n", "ewma: expected a map, got a list"},
      {"ewma:\n  spam: 1\n", "promewma.yml: ewma.spam: unknown key"},
      {"ewma:\n  k: 1\n  k: 2\n", "ewma.k: duplicate key"},
      {"ewma: {alpha: 0}\n", "ewma.alpha: must be in (0, 1], got 0"},
      {"ewma: {alpha: 1.5}\n", "ewma.alpha: must be in (0, 1], got 1.5"},
      {"ewma: {alpha: -0.1}\n", "ewma.alpha: must be in (0, 1], got -0.1"},
      {"ewma: {alpha: nan}\n", "ewma.alpha: must be in (0, 1], got nan"},
      {"ewma: {alpha: high}\n", "ewma.alpha: expected a number, got \"high\""},
      {"ewma: {alpha: {x: 1}}\n", "ewma.alpha: expected a number, got a map"},
      {"ewma: {alpha: }\n", "ewma.alpha: expected a number, got null"},
      {"ewma: {span: 0.5}\n", "ewma.span: must be >= 1, got 0.5"},
      {"ewma: {span: inf}\n", "ewma.span: must be >= 1, got inf"},
      {"ewma: {half_life: 0}\n", "ewma.half_life: must be > 0, got 0"},
      {"ewma: {half_life: 10}\n",
       "ewma.half_life: invalid duration \"10\": missing unit"},
      {"ewma: {half_life: 1.5h}\n", "ewma.half_life: invalid duration"},
      {"ewma: {half_life: [1h]}\n",
       "ewma.half_life: expected a duration like 1h30m, got a list"},
      {"ewma: {alpha: 0.5, span: 3}\n",
       "ewma.span: set only one of alpha, span, half_life (alpha is already "
       "set)"},
      {"ewma: {half_life: 1m, alpha: 0.5}\n",
       "ewma.alpha: set only one of alpha, span, half_life"},
      {"ewma: {spread: mad}\n",
       "ewma.spread: must be ewm_std, error_rms or error_mean_abs, got \"mad\""},
      {"ewma: {spread_span: 0.5}\n", "ewma.spread_span: must be >= 1, got 0.5"},
      {"ewma: {spread_alpha: 0}\n",
       "ewma.spread_alpha: must be in (0, 1], got 0"},
      {"ewma: {spread_alpha: 0.1, spread_span: 30}\n",
       "ewma.spread_span: set only one of spread_alpha, spread_span "
       "(spread_alpha is already set)"},
      {"ewma: {season: {slots: 97}}\n",
       "ewma.season.slots: must be an integer from 0 (off) to 96, got 97"},
      {"ewma: {season: {slots: -1}}\n",
       "ewma.season.slots: must be an integer from 0 (off) to 96, got -1"},
      {"ewma: {season: {slots: 1.5}}\n",
       "ewma.season.slots: must be an integer from 0 (off) to 96, got 1.5"},
      {"ewma: {season: {span: 0.5}}\n",
       "ewma.season.span: must be >= 1, got 0.5"},
      {"ewma: {season: {alpha: 2}}\n",
       "ewma.season.alpha: must be in (0, 1], got 2"},
      {"ewma: {season: {alpha: 0.5, span: 3}}\n",
       "ewma.season.span: set only one of alpha, span (alpha is already set)"},
      {"ewma: {season: {min_history: 10}}\n",
       "ewma.season.min_history: invalid duration \"10\": missing unit"},
      {"ewma: {season: {days: 7}}\n",
       "ewma.season.days: unknown key (season keys: slots, span, alpha, "
       "min_history)"},
      {"ewma: {season: 96}\n", "ewma.season: expected a map"},
      {"ewma: {transform: log}\n",
       "ewma.transform: must be none or log1p, got \"log\""},
      {"ewma: {k: 0}\n", "ewma.k: must be a finite number > 0, got 0"},
      {"ewma: {k: -1}\n", "ewma.k: must be a finite number > 0, got -1"},
      {"ewma: {k: inf}\n", "ewma.k: must be a finite number > 0, got inf"},
      {"ewma: {min_samples: 0}\n",
       "ewma.min_samples: must be an integer >= 1, got 0"},
      {"ewma: {min_samples: 2.5}\n",
       "ewma.min_samples: must be an integer >= 1, got 2.5"},
      {"ewma: {min_samples: -3}\n",
       "ewma.min_samples: must be an integer >= 1, got -3"},
      {"ewma: {min_samples: 4294967296}\n",
       "ewma.min_samples: must be at most 4294967295"},
      {"ewma: {reset_after: forever}\n",
       "ewma.reset_after: invalid duration \"forever\""},
      {"ewma: {reset_after: -1h}\n", "ewma.reset_after: invalid duration"},
      {"ewma: {threshold_basis: after}\n",
       "ewma.threshold_basis: must be prior or posterior, got \"after\""},
      {"ewma: {outputs: []}\n",
       "ewma.outputs: must list at least one of "
       "ewma, upper_threshold, lower_threshold, "
       "stddev, anomaly_score"},
      {"ewma: {outputs: ewma}\n", "ewma.outputs: expected a list of outputs"},
      {"ewma: {outputs: [ewma, bogus]}\n",
       "ewma.outputs[1]: unknown output \"bogus\" (one of ewma,"},
      {"ewma: {outputs: [ewma, stddev, ewma]}\n",
       "ewma.outputs[2]: duplicate output \"ewma\""},
      {"ewma: {outputs: [[ewma]]}\n",
       "ewma.outputs[0]: expected an output name, got a list"},
      // rules
      {"rules: cpu\n", "promewma.yml: rules: expected a list, got \"cpu\""},
      {"rules: {match: cpu}\n", "rules: expected a list, got a map"},
      {"rules:\n  - k: 2\n",
       "promewma.yml: rules[0]: missing required key "
       "\"match\""},
      {"rules:\n  -\n", "rules[0]: expected a map with a match key, got null"},
      {"rules:\n  - cpu\n", "rules[0]: expected a map with a match key"},
      {"rules:\n  - match: cpu\n  - match: mem\n    span: 0.5\n",
       "promewma.yml: rules[1].span: must be >= 1, got 0.5"},
      {"rules:\n  - match: cpu\n    spam: 1\n", "rules[0].spam: unknown key"},
      {"rules:\n  - match: cpu\n    match: mem\n",
       "rules[0].match: duplicate key"},
      {"rules:\n  - match: '{job=node}'\n",
       "promewma.yml: rules[0].match: selector {job=node}: position 5: "
       "expected quoted string"},
      {"rules:\n  - match: '{job=~\".*\"}'\n",
       "rules[0].match: selector {job=~\".*\"}: vector selector must contain "
       "at least one non-empty matcher"},
      {"rules:\n  - match: [cpu]\n",
       "rules[0].match: expected a selector, got a list"},
      {"rules:\n  - match: cpu\n    alpha: 0.1\n    half_life: 1m\n",
       "rules[0].half_life: set only one of alpha, span, half_life"},
      {"rules:\n  - match: cpu\n    outputs: [nope]\n",
       "rules[0].outputs[0]: unknown output \"nope\""},
      // The error names the rule even when ewma: comes later in the file.
      {"rules:\n  - {match: cpu, k: 0}\newma: {k: 2}\n",
       "rules[0].k: must be a finite number > 0"},
      // limits
      {"limits: 1\n", "limits: expected a map, got \"1\""},
      {"limits: {max_request_bytes: 0}\n",
       "limits.max_request_bytes: must be > 0, got 0"},
      {"limits: {max_decoded_bytes: 0KB}\n",
       "limits.max_decoded_bytes: must be > 0, got 0KB"},
      {"limits: {max_request_bytes: 1TB}\n",
       "limits.max_request_bytes: invalid size \"1TB\""},
      {"limits: {max_request_bytes: -1}\n",
       "limits.max_request_bytes: invalid size \"-1\""},
      {"limits: {max_request_bytes: {a: 1}}\n",
       "limits.max_request_bytes: expected a size like 16MiB, got a map"},
      {"limits: {max_series: 10}\n", "limits.max_series: unknown key"},
      // A multi-line value still gives a one-line message.
      {"log_level: |\n  a\n  b\n", "got \"a\\nb\\n\""},
  }));
  INFO(yaml);
  Result<Config> config = ParseConfig(yaml, kSource);
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().code() == StatusCode::kInvalidArgument);
  const std::string& message = config.status().message();
  CHECK_THAT(message, Catch::StartsWith("promewma.yml: "));
  CHECK_THAT(message, Catch::Contains(want));
  CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("A full config file round-trips through LoadConfigFile", "[config]") {
  TempDir dir;
  const std::string path = dir.Write("promewma.yml", R"(# promewma test config
listen: 0.0.0.0:19201
log_level: debug
rules:
  - match: 'cpu_utilization{job="batch"}'
    half_life: 5m
    outputs: [ewma, upper_threshold, lower_threshold]
  - match: cpu_utilization
ewma:
  span: 20
  k: 2.5
  min_samples: 20
  reset_after: 30m
  threshold_basis: posterior
  outputs: [ewma, upper_threshold, anomaly_score]
limits:
  max_request_bytes: 8MiB
  max_decoded_bytes: 33554432
)");
  Result<Config> loaded = LoadConfigFile(path);
  INFO(loaded.status().message());
  REQUIRE(loaded.ok());
  const Config& config = *loaded;
  CHECK(config.listen == "0.0.0.0:19201");
  CHECK(config.log_level == "debug");
  CHECK(config.limits.max_request_bytes == 8u << 20);
  CHECK(config.limits.max_decoded_bytes == 32u << 20);

  EstimatorParams want;
  want.alpha = 2.0 / 21.0;
  want.k = 2.5;
  want.min_samples = 20;
  want.reset_after_ms = 30 * 60 * 1000;
  want.threshold_basis = ThresholdBasis::kPosterior;
  want.outputs = OutputBit(Output::kEwma) | OutputBit(Output::kUpperThreshold) |
                 OutputBit(Output::kAnomalyScore);
  CheckParamsEqual(config.ewma, want);

  REQUIRE(config.rules.size() == 2);
  EstimatorParams want_batch = want;
  want_batch.half_life_ms = 5 * 60 * 1000;
  want_batch.outputs = OutputBit(Output::kEwma) |
                       OutputBit(Output::kUpperThreshold) |
                       OutputBit(Output::kLowerThreshold);
  CheckParamsEqual(config.rules[0].params, want_batch);
  CheckParamsEqual(config.rules[1].params, want);
  CHECK(config.rules[1].selector.ToString() == "cpu_utilization");

  SECTION("errors name the file path") {
    const std::string bad = dir.Write("bad.yml", "ewma:\n  spam: 1\n");
    Result<Config> failed = LoadConfigFile(bad);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.status().message() == bad + ": ewma.spam: unknown key");
  }
}

TEST_CASE("LoadConfigFile reports unreadable files on one line", "[config]") {
  TempDir dir;
  SECTION("missing file") {
    const std::string path = dir.path() + "/absent.yml";
    Result<Config> config = LoadConfigFile(path);
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == StatusCode::kNotFound);
    CHECK(config.status().message() ==
          path + ": cannot read config file: No such file or directory");
  }
  SECTION("a directory") {
    Result<Config> config = LoadConfigFile(dir.path());
    REQUIRE_FALSE(config.ok());
    CHECK(config.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(config.status().message(),
               Catch::StartsWith(dir.path() + ": cannot read config file: "));
  }
  SECTION("an empty file") {
    Result<Config> config = LoadConfigFile(dir.Write("empty.yml", ""));
    REQUIRE(config.ok());
    CHECK(config->rules.empty());
  }
}

}  // namespace
}  // namespace promewma::config
