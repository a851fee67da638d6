#include "app/app.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <thread>

#include "http/server.h"
#include "promewma/version.h"

namespace promewma::app {
namespace {

struct CommandLine {
  std::string config_path;
  std::string check_config_path;
  std::string listen;
  std::string data_dir;
  std::string log_level;
};

// Blocks SIGINT/SIGTERM in this thread and every thread it starts later, so
// that only the waiter thread below receives them.
sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void RegisterBuildInfo(prometheus::Registry& registry) {
  prometheus::BuildGauge()
      .Name("promewma_build_info")
      .Help("Always 1; the labels say which promewma is running.")
      .Register(registry)
      .Add({{"version", kVersion}})
      .Set(1);
}

int Serve(const config::Config& config) {
  std::string host;
  int port = 0;
  Status s = config::SplitListenAddress(config.listen, &host, &port);
  if (!s.ok()) {
    spdlog::error("listen address: {}", s.message());
    return 1;
  }
  const sigset_t signals = BlockShutdownSignals();

  store::StoreOptions store_options;
  store_options.dir = config.data_dir;
  store_options.durability = config.durability;
  Result<std::unique_ptr<store::Store>> store =
      store::Store::Open(store_options);
  if (!store.ok()) {
    spdlog::error("{}", store.status().message());
    return 1;
  }
  ewma::Engine engine(EngineOptionsFrom(config));
  store::DurableIngester ingester(&engine, store->get());
  prometheus::Registry registry;
  RegisterBuildInfo(registry);
  http::ServerOptions options;
  options.host = host;
  options.port = port;
  options.limits.max_request_bytes = config.limits.max_request_bytes;
  options.limits.max_decoded_bytes = config.limits.max_decoded_bytes;
  options.read_limits.max_request_bytes = config.limits.max_request_bytes;
  options.read_limits.max_decoded_bytes = config.limits.max_decoded_bytes;
  options.read_limits.max_samples_per_query =
      config.limits.max_samples_per_query;
  http::Server server(options, &engine, &ingester, &registry);
  s = server.Bind();
  if (!s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  std::thread signal_waiter([&server, signals] {
    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("received {}, shutting down", strsignal(signal));
    server.Stop();
  });
  // Serve /-/healthy (and a 503 /-/ready) while the log replays.
  std::thread recovery([&] {
    store::RecoveryStats stats;
    Status rs = ingester.Recover(&stats);
    if (!rs.ok()) {
      spdlog::error("recovery failed, not ready: {}", rs.message());
      return;
    }
    spdlog::info(
        "recovered {} requests ({} samples, {} series) from {} in {:.3f}s",
        stats.requests, stats.samples, engine.active_series(), config.data_dir,
        stats.seconds);
    server.SetReady(true);
  });
  spdlog::info("promewma {} listening on {}:{} ({} rules, data dir {})",
               kVersion, host, server.port(), config.rules.size(),
               config.data_dir);
  server.Run();
  recovery.join();
  // Run() also returns if the listener fails; wake the waiter either way.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  spdlog::info("stopped; {} active series", engine.active_series());
  return 0;
}

}  // namespace

ewma::EngineOptions EngineOptionsFrom(const config::Config& config) {
  ewma::EngineOptions options;
  options.defaults = config.ewma;
  for (const config::Rule& rule : config.rules) {
    options.rules.push_back(ewma::SeriesRule{rule.selector, rule.params});
  }
  return options;
}

int RunPromewma(int argc, char** argv) {
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
  cli.set_version_flag("--version", std::string("promewma ") + kVersion);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
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
  if (!cl.listen.empty()) config.listen = cl.listen;
  if (!cl.data_dir.empty()) config.data_dir = cl.data_dir;
  if (!cl.log_level.empty()) config.log_level = cl.log_level;
  // Logs go to stderr, like Prometheus'; stdout stays for command output.
  spdlog::set_default_logger(spdlog::stderr_color_mt("promewma"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v",
                      spdlog::pattern_time_type::utc);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  return Serve(config);
}

}  // namespace promewma::app
