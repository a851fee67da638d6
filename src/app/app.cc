#include "app/app.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <tuple>

#include "app/disk_metrics.h"
#include "app/memory_metrics.h"
#include "app/write_back.h"
#include "common/allocator_tuning.h"
#include "common/heap_trimmer.h"
#include "common/log.h"
#include "common/redacted_url.h"
#include "common/thread_role.h"
#include "db/database.h"
#include "http/server.h"
#include "notify/teams_relay.h"
#include "notify/workflow_client.h"
#include "promewma/version.h"
#include "warmstart/history_source.h"
#include "warmstart/warm_start.h"
#include "web/web_config.h"
#include "writeback/target_config.h"

namespace promewma::app {
namespace {

struct CommandLine {
  std::string config_path;
  std::string check_config_path;
  std::string listen;
  std::string data_dir;
  std::string log_level;
  std::vector<std::string> write_back_urls;
  std::string web_config_path;
  bool enable_lifecycle = false;  // POST/PUT /-/reload
};

// How long a remote-write request waits for room in the write-back queues
// before it is refused with 503 (well inside Prometheus' 30 s
// remote_timeout).
constexpr std::chrono::seconds kAdmissionWait{5};
// How long a checkpoint waits for the write-back targets to acknowledge
// what it covers before it is postponed (the log keeps the backlog).
constexpr std::chrono::seconds kCheckpointAckWait{30};
// How long shutdown keeps sending the write-back backlog.
constexpr std::chrono::seconds kShutdownDrain{10};

// Blocks SIGINT/SIGTERM (shutdown) and SIGHUP (reload) in this thread and
// every thread it starts later, so that only the waiter thread below
// receives them.
sigset_t BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Every connection is a descriptor, and so is each request log segment and
// RocksDB file: take the hard limit when the soft one (often 1024) would
// not leave room for max_connections beside them.
void RaiseOpenFileLimit(int max_connections) {
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(max_connections) + 1024;
  if (files.rlim_cur >= wanted || files.rlim_cur == files.rlim_max) return;
  files.rlim_cur = std::min(files.rlim_max, wanted);
  if (setrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur < wanted) {
    log::Warn("main", "open file limit leaves little room for connections",
              {{"limit", static_cast<uint64_t>(files.rlim_cur)},
               {"max_connections", max_connections}});
  }
}

void RegisterBuildInfo(prometheus::Registry& registry) {
  prometheus::BuildGauge()
      .Name("promewma_build_info")
      .Help("Always 1; the labels say which promewma is running.")
      .Register(registry)
      .Add({{"version", kVersion}})
      .Set(1);
}

// The request log's size on disk. It grows between checkpoints and shrinks
// at each; when checkpoints keep failing it only grows, and so does the
// next start's replay.
class RequestLogCollector : public prometheus::Collectable {
 public:
  explicit RequestLogCollector(const wal::RequestLog* log) : log_(log) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    const std::vector<std::string> paths = log_->SegmentPaths();
    uint64_t bytes = 0;
    for (const std::string& path : paths) {
      std::error_code ec;  // a segment a checkpoint just deleted counts 0
      const uintmax_t size = std::filesystem::file_size(path, ec);
      if (!ec) bytes += size;
    }
    return {Gauge("promewma_request_log_segments",
                  "Segment files of the request log.",
                  static_cast<double>(paths.size())),
            Gauge("promewma_request_log_bytes",
                  "Bytes in the request log's segment files: what the next "
                  "start would replay at most.",
                  static_cast<double>(bytes))};
  }

 private:
  static prometheus::MetricFamily Gauge(std::string name, std::string help,
                                        double value) {
    prometheus::MetricFamily family;
    family.name = std::move(name);
    family.help = std::move(help);
    family.type = prometheus::MetricType::Gauge;
    family.metric.emplace_back();
    family.metric.back().gauge.value = value;
    return family;
  }

  const wal::RequestLog* const log_;
};

// Checkpoints (each dropping the idle series first) and retention, every
// checkpoint_interval and once more at shutdown (so the next start replays
// next to nothing).
class Maintenance {
 public:
  Maintenance(db::Database* db, const config::Config& config,
              prometheus::Registry& registry)
      : db_(db),
        config_(config),
        last_success_(
            prometheus::BuildGauge()
                .Name("promewma_checkpoint_last_success_timestamp_seconds")
                .Help("When the last checkpoint completed.")
                .Register(registry)
                .Add({})),
        last_duration_(prometheus::BuildGauge()
                           .Name("promewma_checkpoint_last_duration_seconds")
                           .Help("How long the last checkpoint held ingest.")
                           .Register(registry)
                           .Add({})),
        failures_(prometheus::BuildCounter()
                      .Name("promewma_checkpoint_failures_total")
                      .Help("Checkpoints that failed (the log is kept).")
                      .Register(registry)
                      .Add({})),
        series_dropped_(
            prometheus::BuildCounter()
                .Name("promewma_series_dropped_total")
                .Help("Series dropped from memory after series_idle_timeout "
                      "without a sample; their history stays readable.")
                .Register(registry)
                .Add({})) {}

  void Start(std::function<bool()> recovered) {
    thread_ = std::thread([this, recovered] {
      SetThisThreadRole("checkpoint", ThreadRole::kBackground);
      std::unique_lock<std::mutex> lock(mu_);
      while (!stop_) {
        cv_.wait_for(lock,
                     std::chrono::milliseconds(config_.checkpoint_interval_ms),
                     [this] { return stop_ || run_now_; });
        if (stop_) break;
        run_now_ = false;
        if (!recovered()) continue;
        lock.unlock();
        RunOnce();
        lock.lock();
      }
    });
  }

  // Runs the periodic work now rather than at the end of the interval
  // (once recovery has finished).
  void RunSoon() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      run_now_ = true;
    }
    cv_.notify_all();
  }

  // Stops the periodic work and runs it a last time.
  void StopAndFinish(bool recovered) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (recovered) RunOnce();
  }

 private:
  void RunOnce() {
    db::CheckpointStats stats;
    Status s = db_->Checkpoint(&stats);
    if (stats.dropped_series != 0) {
      log::Info("checkpoint", "idle series dropped from memory",
                {{"series", stats.dropped_series}});
      series_dropped_.Increment(static_cast<double>(stats.dropped_series));
    }
    if (s.ok()) {
      log::Info("checkpoint", "checkpoint written",
                {{"series", stats.series},
                 {"bytes", stats.bytes},
                 {"log_seq", stats.seq},
                 {"duration", log::Seconds(stats.seconds)}});
      last_success_.SetToCurrentTime();
      last_duration_.Set(stats.seconds);
    } else {
      log::Error("checkpoint", "checkpoint failed; the log is kept",
                 {{"err", s.message()}});
      failures_.Increment();
    }
    s = db_->ApplyRetention(config_.retention_ms);
    if (!s.ok()) log::Error("store", "retention failed", {{"err", s.message()}});
    // The checkpoint's buffers and the requests since the last one leave
    // free heap behind: hand it back. Other threads' mallocs wait while it
    // runs: 1-5 ms with 10k series (README, Memory).
    const auto trim_start = std::chrono::steady_clock::now();
    ReleaseFreeHeap();
    log::Debug("main", "heap trimmed",
               {{"duration", log::Seconds(std::chrono::steady_clock::now() -
                                          trim_start)}});
  }

  db::Database* const db_;
  const config::Config& config_;
  prometheus::Gauge& last_success_;
  prometheus::Gauge& last_duration_;
  prometheus::Counter& failures_;
  prometheus::Counter& series_dropped_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;     // guarded by mu_
  bool run_now_ = false;  // guarded by mu_
};

// The Teams relay in force; a reload replaces it. A request holds the relay
// it started with until it is answered.
class TeamsRelaySlot {
 public:
  std::shared_ptr<notify::TeamsRelay> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return relay_;
  }
  void Set(std::shared_ptr<notify::TeamsRelay> relay) {
    std::lock_guard<std::mutex> lock(mu_);
    relay_ = std::move(relay);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<notify::TeamsRelay> relay_;  // null: not configured
};

// The Teams relay's endpoint: the relay when `notify: msteams:` is
// configured, a one-line 404 saying how to configure it otherwise.
void AddTeamsRoute(const TeamsRelaySlot* slot, http::Server* server) {
  server->AddBlockingPostRoute(
      std::string(notify::kTeamsRelayPath), "notify_msteams",
      notify::kMaxBodyBytes, [slot](const http::BlockingRequest& r) {
        const std::shared_ptr<notify::TeamsRelay> relay = slot->Get();
        if (relay == nullptr) {
          return http::ErrorResponse(
              404,
              "Teams notifications are not configured (add notify: msteams: "
              "to the config file)");
        }
        return relay->Handle(r.path, r.body, r.received);
      });
}

void LogTeamsChannels(const config::MsTeamsConfig& msteams) {
  if (msteams.default_channel) {
    log::Info("notify", "Teams channel",
              {{"channel", "default"},
               {"path", notify::kTeamsRelayPath},
               {"webhook", RedactedUrl(msteams.default_channel->webhook_url)}});
  }
  for (const auto& [name, channel] : msteams.channels) {
    log::Info("notify", "Teams channel",
              {{"channel", name},
               {"path", std::string(notify::kTeamsRelayPath) + "/" + name},
               {"webhook", RedactedUrl(channel.webhook_url)}});
  }
}

Status ApplyFlags(const CommandLine& cl, config::Config* config);

// The limits the HTTP server applies per request and per connection.
http::ServerLimits ServerLimitsFrom(const config::Limits& limits) {
  http::ServerLimits out;
  out.write.max_request_bytes = limits.max_request_bytes;
  out.write.max_decoded_bytes = limits.max_decoded_bytes;
  out.write.max_series_per_request = limits.max_series_per_request;
  out.read.max_request_bytes = limits.max_request_bytes;
  out.read.max_decoded_bytes = limits.max_decoded_bytes;
  out.read.max_samples_per_query = limits.max_samples_per_query;
  out.read.max_concurrent_reads = limits.max_concurrent_reads;
  out.max_connections = limits.max_connections;
  return out;
}

bool SameWarmStart(const std::optional<config::WarmStartConfig>& a,
                   const std::optional<config::WarmStartConfig>& b) {
  if (!a || !b) return a.has_value() == b.has_value();
  return remote::SameClientConfig(a->client, b->client) &&
         std::tie(a->lookback, a->budget, a->max_held_samples,
                  a->concurrency) == std::tie(b->lookback, b->budget,
                                              b->max_held_samples,
                                              b->concurrency);
}

// The keys of `next` that differ from `running` and that the running
// process cannot change; each is set back to its running value, so that
// what a reload applies is `next` with these keys kept.
std::vector<std::string> KeepRestartKeys(const config::Config& running,
                                         config::Config* next) {
  std::vector<std::string> kept;
  auto keep = [&](const char* key, auto member) {
    if (!(running.*member == next->*member)) {
      next->*member = running.*member;
      kept.push_back(key);
    }
  };
  keep("listen", &config::Config::listen);
  keep("log_level", &config::Config::log_level);
  keep("data_dir", &config::Config::data_dir);
  keep("durability", &config::Config::durability);
  keep("retention", &config::Config::retention_ms);
  keep("checkpoint_interval", &config::Config::checkpoint_interval_ms);
  auto keep_in = [&](const char* key, auto section, auto member) {
    if (!((running.*section).*member == (next->*section).*member)) {
      (next->*section).*member = (running.*section).*member;
      kept.push_back(key);
    }
  };
  using config::Config;
  using config::Memory;
  keep_in("memory.memtables", &Config::memory, &Memory::memtables);
  keep_in("memory.block_cache", &Config::memory, &Memory::block_cache);
  keep_in("memory.cache_reads", &Config::memory, &Memory::cache_reads);
  keep_in("memory.malloc_arenas", &Config::memory, &Memory::malloc_arenas);
  keep_in("memory.free_heap", &Config::memory, &Memory::free_heap);
  if (!SameWarmStart(running.warm_start, next->warm_start)) {
    next->warm_start = running.warm_start;
    kept.push_back("warm_start");
  }
  return kept;
}

// Re-reads the --config file (with the command line's overrides) on SIGHUP
// or POST /-/reload, checks it as start-up and --check-config do, and puts
// it in force: series parameters and rules, the series limits and
// series_idle_timeout (Database::Reconfigure), the HTTP server's limits
// (per request, from the next one on: Server::SetLimits), the disk space
// reserve, the Teams channels. Keys the
// running process cannot change are kept at their running value and logged
// as needing a restart. A file that does not load changes nothing.
//
// Self-metrics, as Prometheus' own:
//   promewma_config_last_reload_successful                0 or 1
//   promewma_config_last_reload_success_timestamp_seconds
//   promewma_config_reloads_total{result="success|failure"}
//
// A reload puts the new file in force once start-up recovery has finished
// (the database's ingest lock is held meanwhile); Cancel (shutdown) ends
// that wait at once, and the reload is abandoned. The wait for a checkpoint
// in progress (Database::Reconfigure) is bounded by its own wait for the
// write-back targets, which ends as soon as shutdown stops them.
//
// Thread-safety: Reload may be called from any thread; reloads run one at
// a time.
class ConfigReloader {
 public:
  // REQUIRES: every pointer outlives the reloader.
  ConfigReloader(const CommandLine* cl, config::Config running,
                 db::Database* db, http::Server* server,
                 WriteBack* write_back, Maintenance* maintenance,
                 TeamsRelaySlot* teams,
                 notify::WorkflowClient* workflow_client,
                 prometheus::Registry& registry)
      : cl_(cl),
        db_(db),
        server_(server),
        write_back_(write_back),
        maintenance_(maintenance),
        teams_(teams),
        workflow_client_(workflow_client),
        registry_(registry),
        last_successful_(
            prometheus::BuildGauge()
                .Name("promewma_config_last_reload_successful")
                .Help("Whether the last configuration reload succeeded.")
                .Register(registry)
                .Add({})),
        last_success_(
            prometheus::BuildGauge()
                .Name("promewma_config_last_reload_success_timestamp_seconds")
                .Help("When the configuration was last loaded successfully "
                      "(start-up included).")
                .Register(registry)
                .Add({})),
        reloads_(prometheus::BuildCounter()
                     .Name("promewma_config_reloads_total")
                     .Help("Configuration reloads by result.")
                     .Register(registry)),
        successes_(reloads_.Add({{"result", "success"}})),
        failures_(reloads_.Add({{"result", "failure"}})),
        running_(std::move(running)) {
    // Start-up loaded the file: a reload's baseline, as in Prometheus.
    last_successful_.Set(1);
    last_success_.SetToCurrentTime();
  }

  // Start-up recovery has ended (successfully or not): reloads may apply.
  void RecoveryFinished() {
    {
      std::lock_guard<std::mutex> lock(wait_mu_);
      recovery_finished_ = true;
    }
    wait_cv_.notify_all();
  }

  // Shutdown: a reload waiting for recovery gives up, and so does any
  // later one, leaving the running configuration as it is.
  void Cancel() {
    {
      std::lock_guard<std::mutex> lock(wait_mu_);
      cancelled_ = true;
    }
    wait_cv_.notify_all();
  }

  // Reloads; `trigger` ("SIGHUP", "POST /-/reload") is logged. On failure
  // the one-line reason, and the running configuration is unchanged.
  Status Reload(std::string_view trigger) {
    std::lock_guard<std::mutex> lock(mu_);
    Status s = TryReload(trigger);
    if (s.ok()) {
      successes_.Increment();
      last_successful_.Set(1);
      last_success_.SetToCurrentTime();
    } else {
      failures_.Increment();
      last_successful_.Set(0);
      log::Error("reload", "configuration not reloaded; the running one is "
                 "kept", {{"trigger", trigger}, {"err", s.message()}});
    }
    return s;
  }

 private:
  // REQUIRES: mu_ held.
  Status TryReload(std::string_view trigger) {
    if (cl_->config_path.empty()) {
      return Status::InvalidArgument(
          "promewma was started without --config: there is no file to "
          "reload");
    }
    Result<config::Config> loaded = config::LoadConfigFile(cl_->config_path);
    if (!loaded.ok()) return loaded.status();
    config::Config next = std::move(loaded).value();
    if (Status s = ApplyFlags(*cl_, &next); !s.ok()) return s;
    {
      std::unique_lock<std::mutex> lock(wait_mu_);
      wait_cv_.wait(lock, [this] { return recovery_finished_ || cancelled_; });
      if (cancelled_) {
        return Status::Unavailable(
            "promewma is shutting down: the reload is abandoned");
      }
    }
    for (const std::string& key : KeepRestartKeys(running_, &next)) {
      log::Warn("reload", "changing it needs a restart; the running value "
                "is kept", {{"key", key}});
    }
    // Nothing below can fail: from here on the file is in force whole.
    head::ReconfigureStats stats;
    db_->Reconfigure(HeadOptionsFrom(next), &stats);
    if (stats.restarted != 0 || stats.dropped != 0) {
      // The heads it sealed were derived with the old parameters, which a
      // replay of the log after a crash would not know: a checkpoint now
      // stores them and leaves that log behind.
      maintenance_->RunSoon();
    }
    // Each request reads the limits once at its start: those in progress
    // finish under the old ones.
    if (next.limits.max_connections > running_.limits.max_connections) {
      RaiseOpenFileLimit(next.limits.max_connections);
    }
    server_->SetLimits(ServerLimitsFrom(next.limits));
    db_->disk_space_guard()->set_min_free_bytes(
        next.limits.min_free_disk_bytes);
    const WriteBack::ReconfigureStats targets =
        write_back_->Reconfigure(next.write_back, db_, kShutdownDrain);
    if (next.notify.msteams) {
      teams_->Set(std::make_shared<notify::TeamsRelay>(
          *next.notify.msteams, workflow_client_, registry_));
      LogTeamsChannels(*next.notify.msteams);
    } else {
      teams_->Set(nullptr);
    }
    log::Info("reload", "configuration reloaded",
              {{"trigger", trigger},
               {"rules", next.rules.size()},
               {"write_back_kept", targets.kept},
               {"write_back_added", targets.added},
               {"write_back_removed", targets.removed},
               {"series_kept", stats.unchanged},
               {"series_restarted", stats.restarted},
               {"series_dropped", stats.dropped}});
    running_ = std::move(next);
    return Status::Ok();
  }

  const CommandLine* const cl_;
  db::Database* const db_;
  http::Server* const server_;
  WriteBack* const write_back_;
  Maintenance* const maintenance_;
  TeamsRelaySlot* const teams_;
  notify::WorkflowClient* const workflow_client_;
  prometheus::Registry& registry_;
  prometheus::Gauge& last_successful_;
  prometheus::Gauge& last_success_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Counter& successes_;
  prometheus::Counter& failures_;
  std::mutex mu_;
  config::Config running_;  // guarded by mu_: the configuration in force
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  bool recovery_finished_ = false;  // guarded by wait_mu_
  bool cancelled_ = false;          // guarded by wait_mu_
};

// Runs the reloads (SIGHUP and POST /-/reload) on a thread of their own,
// so that neither the signal thread nor the server waits for one: a reload
// may wait for a checkpoint, which may wait up to 30 s for write-back, and
// SIGTERM must start shutdown at once. One reload runs at a time; requests
// during one queue a single reload after it (it reads the file as it is by
// then), which answers every POST waiting for it.
class ReloadRunner {
 public:
  explicit ReloadRunner(ConfigReloader* reloader)
      : reloader_(reloader), thread_([this] { Loop(); }) {}
  ~ReloadRunner() { Stop(); }

  // SIGHUP: queues a reload and returns.
  void Request() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = true;
    }
    cv_.notify_all();
  }

  // POST /-/reload: queues a reload and waits for its result, as
  // Prometheus' handler does; shutdown ends the wait with Unavailable
  // (AbandonWaits), the reload being cancelled or left to finish.
  Status RequestAndWait() {
    auto waiter = std::make_shared<Waiter>();
    std::unique_lock<std::mutex> lock(mu_);
    if (!abandoned_) {
      waiters_.push_back(waiter);
      pending_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return waiter->done || abandoned_; });
    }
    if (!waiter->done) {
      return Status::Unavailable(
          "promewma is shutting down: the reload is abandoned");
    }
    return waiter->status;
  }

  // Shutdown has begun: POSTs waiting for a reload, or coming later, get
  // Unavailable at once, so that the server has no handler left waiting.
  void AbandonWaits() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      abandoned_ = true;
    }
    cv_.notify_all();
  }

  // Drops a queued reload, cancels one waiting for recovery (the reloader's
  // Cancel) and joins the thread. REQUIRES: the write-back targets are
  // stopped or will be without waiting for this (a reload may wait for a
  // checkpoint, which waits for them).
  void Stop() {
    reloader_->Cancel();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Waiter {
    bool done = false;  // guarded by mu_
    Status status;      // guarded by mu_
  };

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || pending_; });
      if (stop_) return;
      pending_ = false;
      std::vector<std::shared_ptr<Waiter>> answered;
      answered.swap(waiters_);
      lock.unlock();
      // A failure is logged and counted, and told to the POSTs.
      Status s =
          reloader_->Reload(answered.empty() ? "SIGHUP" : "POST /-/reload");
      lock.lock();
      for (const auto& waiter : answered) {
        waiter->done = true;
        waiter->status = s;
      }
      cv_.notify_all();
    }
  }

  ConfigReloader* const reloader_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;                          // guarded by mu_
  bool stop_ = false;                             // guarded by mu_
  bool abandoned_ = false;                        // guarded by mu_
  std::vector<std::shared_ptr<Waiter>> waiters_;  // guarded by mu_
  std::thread thread_;  // last: started once the members above exist
};

// POST (or PUT) /-/reload: 200 once the file is in force, 500 with the
// reason when it is not; 403 unless --web.enable-lifecycle, as Prometheus.
void AddReloadRoute(ReloadRunner* runner, bool enabled,
                    http::Server* server) {
  // The body is ignored; Prometheus sends none.
  constexpr uint64_t kMaxReloadBody = 4096;
  server->AddBlockingPostPutRoute(
      "/-/reload", "reload", kMaxReloadBody,
      [runner, enabled](const http::BlockingRequest&) {
        if (!enabled) {
          return http::ErrorResponse(
              403, "lifecycle API is not enabled (start promewma with "
                   "--web.enable-lifecycle)");
        }
        Status s = runner->RequestAndWait();
        if (s.code() == StatusCode::kUnavailable) {
          return http::ErrorResponse(503, s.message());
        }
        if (!s.ok()) return http::ErrorResponse(500, s.message());
        http::HttpResponse ok;
        ok.status = 200;
        return ok;
      });
}

// What the server says about its port at start-up.
std::string DescribeWebConfig(const web::WebConfig& web) {
  const web::TlsServerConfig& tls = web.tls_server_config;
  std::string text = tls.enabled() ? "TLS" : "plain HTTP";
  if (tls.enabled() &&
      tls.client_auth_type != web::ClientAuthType::kNoClientCert) {
    text += " (client certificates: ";
    text += web::ClientAuthTypeName(tls.client_auth_type);
    text += ")";
  }
  text += web.basic_auth_users.empty()
              ? ", no basic auth"
              : ", basic auth for " + std::to_string(web.basic_auth_users.size()) +
                    " users";
  return text;
}

int Serve(const CommandLine& cl, const config::Config& config,
          const web::WebConfig& web) {
  std::string host;
  int port = 0;
  Status s = config::SplitListenAddress(config.listen, &host, &port);
  if (!s.ok()) {
    log::Error("main", "bad listen address", {{"err", s.message()}});
    return 1;
  }
  const sigset_t signals = BlockSignals();

  db::DatabaseOptions db_options;
  db_options.dir = config.data_dir;
  db_options.durability = config.durability;
  db_options.memtable_bytes = config.memory.memtables;
  db_options.block_cache_bytes = config.memory.block_cache;
  db_options.cache_reads = config.memory.cache_reads;
  db_options.min_free_disk_bytes = config.limits.min_free_disk_bytes;
  head::HeadOptions head_options = HeadOptionsFrom(config);
  head_options.collect_derived = !config.write_back.empty();
  Result<std::unique_ptr<db::Database>> opened =
      db::Database::Open(db_options, std::move(head_options));
  if (!opened.ok()) {
    log::Error("main", "data dir not opened",
               {{"data_dir", config.data_dir},
                {"err", opened.status().message()}});
    return 1;
  }
  db::Database& db = **opened;
  // Made without targets too: a reload may add some.
  Result<std::unique_ptr<WriteBack>> started =
      WriteBack::Start(config.write_back);
  if (!started.ok()) {
    log::Error("writeback", "write-back not started",
               {{"err", started.status().message()}});
    return 1;
  }
  const std::unique_ptr<WriteBack> write_back = std::move(started).value();
  // Before recovery: the replay re-sends what the targets may lack.
  db.SetDerivedSink(write_back->sink(), kAdmissionWait, kCheckpointAckWait);
  prometheus::Registry registry;
  RegisterBuildInfo(registry);
  http::ServerOptions options;
  options.host = host;
  options.port = port;
  const http::ServerLimits limits = ServerLimitsFrom(config.limits);
  options.limits = limits.write;
  options.read_limits = limits.read;
  options.max_connections = limits.max_connections;
  options.web = web;
  // Declared before the server, whose read handler tells it what reads
  // free: memory.free_heap (32 MiB) of responses (two 10k-series hours),
  // or that much more resident memory not in use than after the last
  // trim, trims, at most every 2 s.
  ReleaseFreeHeap();  // the baseline UntrimmedFreeHeap counts from
  HeapTrimmer heap_trimmer(config.memory.free_heap, std::chrono::seconds(2),
                           &ReleaseFreeHeap, &UntrimmedFreeHeap);
  options.heap_trimmer = &heap_trimmer;
  RaiseOpenFileLimit(config.limits.max_connections);
  // Declared before the server, which may serve /metrics until it is gone.
  const RequestLogCollector request_log_metrics(db.request_log());
  const DiskSpaceCollector disk_metrics(db.disk_space_guard());
  const MemoryCollector memory_metrics(&db, write_back.get());
  // Before the server too: its blocking pool runs the relay until Run()
  // returns.
  notify::HttpWorkflowClient workflow_client;
  TeamsRelaySlot teams_relay;
  if (config.notify.msteams) {
    teams_relay.Set(std::make_shared<notify::TeamsRelay>(
        *config.notify.msteams, &workflow_client, registry));
    LogTeamsChannels(*config.notify.msteams);
  }
  Maintenance maintenance(&db, config, registry);
  // Before the server: series new to this process wait for their history.
  std::unique_ptr<warmstart::WarmStart> warm_start;
  if (config.warm_start) {
    const remote::ClientConfig source = config.warm_start->client;
    warm_start = std::make_unique<warmstart::WarmStart>(
        *config.warm_start, &db,
        [source] {
          return std::make_unique<warmstart::RemoteHistorySource>(source);
        },
        registry);
    warm_start->Start();
    db.SetSeriesGate(warm_start.get());
    log::Info("warmstart", "new series read history before they start",
              {{"lookback", log::Seconds(config.warm_start->lookback)},
               {"endpoint", RedactedUrl(config.warm_start->client.url)}});
  }
  http::Server server(options, &db, &registry);
  ConfigReloader reloader(&cl, config, &db, &server, write_back.get(),
                          &maintenance, &teams_relay, &workflow_client,
                          registry);
  AddTeamsRoute(&teams_relay, &server);
  ReloadRunner reload_runner(&reloader);
  AddReloadRoute(&reload_runner, cl.enable_lifecycle, &server);
  server.AddCollectable(write_back.get());
  server.AddCollectable(&request_log_metrics);
  server.AddCollectable(&disk_metrics);
  server.AddCollectable(&memory_metrics);
  s = server.Bind();
  if (!s.ok()) {
    log::Error("server", "listen failed",
               {{"address", config.listen}, {"err", s.message()}});
    return 1;
  }
  std::thread signal_waiter([&server, &reloader, &reload_runner, signals] {
    SetThisThreadRole("signals", ThreadRole::kRequest);
    int signal = 0;
    while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) {
      reload_runner.Request();
    }
    log::Info("main", "shutting down", {{"signal", strsignal(signal)}});
    // A reload waiting for recovery gives up now, and a POST /-/reload
    // waiting for a reload gets its 503, so that the server's pool has no
    // handler left waiting.
    reloader.Cancel();
    reload_runner.AbandonWaits();
    server.Stop();
  });
  // Serve /-/healthy (and a 503 /-/ready) while the log replays.
  std::atomic<bool> recovered{false};
  prometheus::Gauge& recovery_seconds =
      prometheus::BuildGauge()
          .Name("promewma_recovery_duration_seconds")
          .Help("How long restoring the checkpoint and replaying the log took.")
          .Register(registry)
          .Add({});
  std::thread recovery([&] {
    SetThisThreadRole("recovery", ThreadRole::kRequest);
    db::RecoveryStats stats;
    Status rs = db.Recover(&stats);
    if (!rs.ok()) {
      log::Error("recovery", "recovery failed; not ready",
                 {{"err", rs.message()}});
      reloader.RecoveryFinished();
      return;
    }
    log::Info("recovery", "recovered",
              {{"checkpoint_series", stats.checkpoint_series},
               {"log_requests", stats.requests},
               {"log_samples", stats.samples},
               {"data_dir", config.data_dir},
               {"duration", log::Seconds(stats.seconds)}});
    recovery_seconds.Set(stats.seconds);
    recovered = true;
    reloader.RecoveryFinished();
    server.SetReady(true);
  });
  maintenance.Start([&recovered] { return recovered.load(); });
  log::Info("main", "listening",
            {{"version", kVersion},
             {"address", host + ":" + std::to_string(server.port())},
             {"web", DescribeWebConfig(web)},
             {"rules", config.rules.size()},
             {"write_back_targets", config.write_back.size()},
             {"data_dir", config.data_dir}});
  server.Run();
  // Shutdown: stop accepting, drain write-back (bounded), checkpoint. What
  // is not delivered stays in the log (the checkpoint then waits no more)
  // and is sent after the next start. Stopping write-back first also ends a
  // recovery that waits for room in its queues.
  // Series still warming are applied cold, while write-back still runs.
  if (warm_start != nullptr) {
    db.SetSeriesGate(nullptr);
    warm_start->Stop();
  }
  write_back->Stop(kShutdownDrain);
  recovery.join();
  // A reload still running waits at most for the checkpoint in progress,
  // whose wait for the targets ended with their stop.
  reload_runner.Stop();
  maintenance.StopAndFinish(recovered.load());
  // Run() also returns if the listener fails; wake the waiter either way.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  log::Info("main", "stopped", {{"active_series", db.head()->active_series()}});
  return 0;
}

// The command line's overrides of the config file, checked; the message
// names the flag.
Status ApplyFlags(const CommandLine& cl, config::Config* config) {
  if (!cl.listen.empty()) {
    std::string host;
    int port = 0;
    Status s = config::SplitListenAddress(cl.listen, &host, &port);
    if (!s.ok()) return Status::InvalidArgument("--listen: " + s.message());
    config->listen = cl.listen;
  }
  if (!cl.data_dir.empty()) config->data_dir = cl.data_dir;
  if (!cl.log_level.empty()) config->log_level = cl.log_level;
  for (const std::string& url : cl.write_back_urls) {
    writeback::TargetConfig target;  // the defaults of every other key
    target.client.url = url;
    Status s = writeback::ValidateTarget(target);
    if (!s.ok()) {
      std::string_view problem = s.message();
      if (problem.rfind("url: ", 0) == 0) problem.remove_prefix(5);
      return Status::InvalidArgument("--write-back-url: " +
                                     std::string(problem));
    }
    config->write_back.push_back(std::move(target));
  }
  return Status::Ok();
}

}  // namespace

head::HeadOptions HeadOptionsFrom(const config::Config& config) {
  head::HeadOptions options;
  options.defaults = config.ewma;
  options.limits = config.limits.series;
  options.series_idle_timeout_ms = config.series_idle_timeout_ms;
  for (const config::Rule& rule : config.rules) {
    options.rules.push_back(head::SeriesRule{rule.selector, rule.params});
  }
  return options;
}

int RunPromewma(int argc, char** argv) {
  TuneAllocatorForLargeBuffers();
  CLI::App cli{
      "promewma: per-series EWMA anomaly thresholds for Prometheus, as a "
      "remote-write / remote-read adapter"};
  CommandLine cl;
  cli.add_option("--config", cl.config_path,
                 "YAML configuration file (optional: without it every "
                 "received series is processed with the defaults)");
  cli.add_option("--check-config", cl.check_config_path,
                 "validate FILE, print the result and exit 0 (valid) or 1");
  cli.add_option("--listen", cl.listen,
                 "HOST:PORT to serve on (overrides `listen`; default "
                 "127.0.0.1:9201)");
  cli.add_option("--data-dir", cl.data_dir,
                 "directory of the request log and store (overrides "
                 "`data_dir`; default ./data)");
  cli.add_option("--log-level", cl.log_level,
                 "debug, info, warn or error (overrides `log_level`)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  cli.add_option("--write-back-url", cl.write_back_urls,
                 "remote-write URL for the derived series, with default "
                 "queue settings (adds to `write_back`; repeatable)");
  cli.add_option("--web.config.file", cl.web_config_path,
                 "web configuration file (Prometheus exporter-toolkit "
                 "format): tls_server_config and basic_auth_users for the "
                 "HTTP port; checked by --check-config too");
  cli.add_flag("--web.enable-lifecycle", cl.enable_lifecycle,
               "serve POST/PUT /-/reload (as Prometheus' flag; SIGHUP "
               "reloads without it)");
  cli.set_version_flag("--version", std::string("promewma ") + kVersion);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }

  // The web config is checked by the same call at start-up and by
  // --check-config, which checks it when the flag is given with it.
  web::WebConfig web;
  if (!cl.web_config_path.empty()) {
    Result<web::WebConfig> loaded = web::LoadWebConfigFile(cl.web_config_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
      return 1;
    }
    web = std::move(loaded).value();
  }

  if (!cl.check_config_path.empty()) {
    Result<config::Config> checked =
        config::LoadConfigFile(cl.check_config_path);
    if (!checked.ok()) {
      std::fprintf(stderr, "%s\n", checked.status().message().c_str());
      return 1;
    }
    std::printf("%s: valid (%zu rules)\n", cl.check_config_path.c_str(),
                checked->rules.size());
    if (!cl.web_config_path.empty()) {
      std::printf("%s: valid (%s)\n", cl.web_config_path.c_str(),
                  DescribeWebConfig(web).c_str());
    }
    return 0;
  }

  config::Config config;
  if (!cl.config_path.empty()) {
    Result<config::Config> loaded = config::LoadConfigFile(cl.config_path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
      return 1;
    }
    config = std::move(loaded).value();
  }
  // Flags override the file; each is checked as its key is, so that what
  // starts is what was checked. (--log-level is CLI11's to check.)
  if (Status s = ApplyFlags(cl, &config); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  log::LogToStderr(config.log_level);
  // Before Serve starts any thread.
  LimitMallocArenas(config.memory.malloc_arenas);
  return Serve(cl, config, web);
}

}  // namespace promewma::app
