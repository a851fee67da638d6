// Config: promewma.yml, parsed and validated into plain structs.
//
//   listen: 127.0.0.1:9201        # HOST:PORT, or [IPv6]:PORT (quoted in YAML)
//   log_level: info               # debug | info | warn | error
//   data_dir: ./data              # where the request log and store live
//   durability: os                # os (survives a crash) | fsync (power loss)
//   retention: 15d                # stored chunks older than this are deleted
//   checkpoint_interval: 5m       # bounds the log a restart replays
//   series_idle_timeout: 1h       # a series without samples this long is
//                                 # dropped from memory; default: its
//                                 # reset_after; 0: never
//   ewma:                         # defaults for every series
//     span: 10                    # at most one of alpha | span | half_life
//     k: 3
//     min_samples: 10
//     reset_after: 1h             # 0 disables resets
//     threshold_basis: prior      # prior | posterior
//     outputs: [ewma, upper_threshold]
//     spread: ewm_std             # ewm_std | error_rms | error_mean_abs
//     spread_span: 3000           # error spreads: one of spread_alpha |
//                                 # spread_span (default: the mean's)
//     transform: none             # none | log1p
//   rules:                        # the first matching rule applies; with
//                                 # rules, unmatched series are ignored
//     - match: 'cpu_utilization{job="batch"}'
//       half_life: 5m             # any ewma key; the rest is inherited
//   limits:
//     max_request_bytes: 16MiB
//     max_decoded_bytes: 64MiB
//     max_samples_per_query: 50000000
//     max_series_per_request: 100000
//     max_connections: 1024
//     max_concurrent_reads: 10    # 0: no limit
//     max_labels_per_series: 30   # these four: series_limits.h
//     max_label_name_length: 1024
//     max_label_value_length: 2048
//     max_active_series: 2000000  # 0: no limit
//   memory:                       # the fixed part of memory (README)
//     memtables: 64MiB            # RocksDB memtables, all families
//     block_cache: 8MiB           # RocksDB blocks read back
//     cache_reads: false          # remote reads' data blocks in it too
//     malloc_arenas: 2            # glibc malloc arenas; 0: glibc's default
//     free_heap: 32MiB            # free heap kept before it is given back
//   write_back:                   # remote-write targets for the derived
//     - url: http://127.0.0.1:8428/api/v1/write   # series (Prometheus' keys)
//   warm_start:                   # warms a series new to this process from
//     url: http://127.0.0.1:9090/api/v1/read   # raw history (remote read;
//                                 # the client keys of write_back)
//     lookback: 6h                # history read before the first sample
//     budget: 30s                 # from the first sample to warm or cold
//     max_held_samples: 1000000   # live samples held while series warm
//     concurrency: 2              # series read at once
//   notify:                       # Alertmanager -> Teams (relay_config.h)
//     msteams:
//       webhook_url_file: teams-url
//
// A rule inherits every key it does not set from the top-level `ewma:`
// block, wherever that block sits in the file. The smoothing choice is one
// unit: a rule that sets `alpha`, `span` or `half_life` replaces whichever
// of the three the top level chose.
//
// Unknown keys are refused, so a typo cannot silently fall back to a
// default. Write-back targets are checked by writeback::ValidateTarget, the
// check start-up runs too, so a file that passes `--check-config` starts:
// their secret and TLS files, relative to the config file's directory, are
// read and loaded here. Every error is one line:
//   <source>: <key path>: <problem>      e.g. promewma.yml: rules[1].span: ...
//   <source>: line <n>: <problem>        for YAML syntax errors
// Rule indexes in paths are 0-based.
//
// Thread-safety: the structs are plain values; the functions read the
// files a config names and nothing else.

#ifndef PROMEWMA_CONFIG_CONFIG_H_
#define PROMEWMA_CONFIG_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/relay_config.h"
#include "ewma/estimator_params.h"
#include "head/head.h"
#include "model/matcher.h"
#include "promewma/status.h"
#include "remote/client_config.h"
#include "wal/request_log.h"
#include "writeback/target_config.h"

namespace promewma::config {

// Per-series parameters for the series one selector matches.
struct Rule {
  std::string match;             // the selector as written in the file
  model::Selector selector;      // parsed from `match`
  ewma::EstimatorParams params;  // the top-level ewma values, overridden
};

struct Limits {
  // Largest compressed remote-write body accepted (HTTP 413 above). The
  // default is far above what Prometheus' queue manager sends in one
  // request, yet bounds what one request can make us buffer.
  uint64_t max_request_bytes = 16ull << 20;
  // Largest decoded (snappy-uncompressed) size a body may declare; checked
  // before decompressing so a small body cannot claim a huge allocation.
  uint64_t max_decoded_bytes = 64ull << 20;
  // Samples one remote-read query may return (HTTP 400 above, before the
  // response is built): Prometheus' --storage.remote.read-sample-limit.
  uint64_t max_samples_per_query = 50'000'000;
  // Series one remote-write request may hold (HTTP 413 above, nothing
  // applied). With write-back on, a request's derived samples may take a
  // queue shard over its capacity (writeback/queue.h), so this bounds that
  // overshoot too. Prometheus sends at most max_samples_per_send (2000)
  // series a request; vmagent and Grafana Agent pack more.
  uint64_t max_series_per_request = 100'000;
  // Client connections served at once; one more gets 503 + Retry-After on
  // its first request and is closed (http/server.h).
  int max_connections = 1024;
  // Remote reads answered at once; one more gets 503 + Retry-After
  // (http/read_handler.h). 0: no limit.
  int max_concurrent_reads = 10;
  // Writes to data_dir (requests: 503 + Retry-After, checkpoints,
  // retention) stop while less than this is free on its filesystem, and
  // resume by themselves once it is free again (db/disk_space_guard.h).
  // RocksDB must never meet a full disk: its memtable flushes (up to
  // memory.memtables) and compactions need room after the last request.
  // 0: no guard.
  uint64_t min_free_disk_bytes = 256ull << 20;
  // What a series new to the head must satisfy: max_labels_per_series,
  // max_label_name_length, max_label_value_length, max_active_series.
  head::SeriesLimits series;
};

// The parts of memory that do not grow with the series (README, "Memory").
struct Memory {
  // RocksDB's memtables, all column families together; the largest is
  // flushed when they reach it. Smaller: more, smaller table files, so more
  // compaction CPU per sample.
  uint64_t memtables = 64ull << 20;
  // RocksDB's cache of table blocks read back: index and filter blocks,
  // and with cache_reads the data blocks of remote reads too.
  uint64_t block_cache = 8ull << 20;
  // Whether the data blocks remote reads bring in go into the block cache.
  // Off, they come from the kernel's page cache each time (store.h,
  // StoreOptions::cache_reads): reads larger than the cache gain nothing
  // from it, and each insert and eviction left free heap no trim could
  // give back. On, with a block_cache that holds what is read again,
  // repeated reads are faster.
  bool cache_reads = false;
  // glibc malloc arenas (M_ARENA_MAX). glibc's default, 8 per core, lets
  // each of the server's threads keep freed request buffers in an arena of
  // its own, so the resident set grows with every hour of data; 2 keeps it
  // flat at no measurable cost to ingest. 0: glibc's default. The
  // MALLOC_ARENA_MAX environment variable, when set, wins.
  int malloc_arenas = 2;
  // Free heap kept for reuse before it is given back to the kernel
  // (common/heap_trimmer.h): a trim runs within 2 s once this much more
  // resident memory is out of heap use than after the last one, or once
  // remote reads have freed this much of their responses. Smaller: a
  // lower RSS for more trims, each holding malloc's locks for tens of
  // milliseconds while requests allocate.
  uint64_t free_heap = 32ull << 20;
};

// Warm start (warmstart/warm_start.h): a series this process has no state
// for is warmed from the raw history of a remote-read source before its
// live samples are applied.
struct WarmStartConfig {
  // The source: Prometheus' /api/v1/read, VictoriaMetrics' or another
  // promewma's; checked by remote::ValidateReadClientConfig.
  remote::ClientConfig client;
  // History read before a series' first live sample. The estimator
  // forgets: with span s a sample's weight after n more is (1-2/(s+1))^n,
  // so a lookback of a few dozen spans leaves nothing of what came before.
  // 6h is 2160 samples at 10 s, hundreds of spans for the default span 10
  // of the mean. The default error spread (10000 samples) and season (24h
  // of history) remember longer: warmed, they start from the lookback
  // alone (README "Scaling").
  std::chrono::milliseconds lookback{6 * 3600 * 1000};
  // How long a series may wait for its history, from its first live
  // sample; past it the series starts cold with the samples held so far.
  // Also bounds each read of the source (with client.remote_timeout).
  std::chrono::milliseconds budget{30000};
  // Live samples held for series being warmed, all series together; a
  // request that would hold more is refused with 503 (retried by the
  // sender), and new series beyond it start cold.
  uint64_t max_held_samples = 1'000'000;
  // Series whose history is read at once (threads).
  int concurrency = 2;
};

struct Config {
  std::string listen = "127.0.0.1:9201";  // HOST:PORT of the HTTP server
  std::string log_level = "info";         // debug | info | warn | error
  std::string data_dir = "./data";        // request log, chunks, checkpoints
  wal::Durability durability = wal::Durability::kOs;
  // Stored chunks older than the newest sample minus this are deleted, a
  // whole time bucket at a time (like Prometheus, relative to the data, so a
  // backfill of old history is kept).
  int64_t retention_ms = 15LL * 24 * 3600 * 1000;
  // How often the engine state is checkpointed (which bounds how much log a
  // restart replays) and retention is applied.
  int64_t checkpoint_interval_ms = 5 * 60 * 1000;
  // A series that has received no sample for this long is dropped from
  // memory at the next checkpoint (head.h DropIdleSeries); its history
  // stays readable. kIdleTimeoutResetAfter: each series' reset_after; 0:
  // never.
  int64_t series_idle_timeout_ms = head::HeadOptions::kIdleTimeoutResetAfter;
  ewma::EstimatorParams ewma;  // for all series when no rules;
                               // the base every rule starts from
  std::vector<Rule> rules;     // in file order
  Limits limits;
  Memory memory;
  // Each with its own queue; validated by writeback::ValidateTarget.
  std::vector<writeback::TargetConfig> write_back;
  // Warm start of series new to this process; none: they start cold.
  std::optional<WarmStartConfig> warm_start;
  // The Alertmanager -> Teams relay (relay_config.h); its webhook URLs are
  // read and checked when the config is loaded.
  NotifyConfig notify;
};

// Splits a listen address, HOST:PORT or [IPV6]:PORT with a non-empty host
// and a port in 0..65535 (0: any free port), as Prometheus'
// --web.listen-address. The message says what is wrong, without a key path.
Status SplitListenAddress(std::string_view address, std::string* host,
                          int* port);

// Parses and validates the YAML text of a config file. `source_name`
// (usually the path) starts every error message, and relative paths of
// write-back secret and TLS files are resolved against its directory (as
// Prometheus does). Empty text, or text with only comments, is the default
// Config. Never throws.
Result<Config> ParseConfig(std::string_view yaml_text,
                           std::string_view source_name);

// Reads the file at `path` and ParseConfig()s it with `path` as the source
// name. A missing file is NotFound, an unreadable one InvalidArgument; both
// name the path and the OS error.
Result<Config> LoadConfigFile(const std::string& path);

}  // namespace promewma::config

#endif  // PROMEWMA_CONFIG_CONFIG_H_
