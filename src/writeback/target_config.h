// TargetConfig: one write-back target, as promewma.yml's write_back entries
// describe it: where and how to send (remote::ClientConfig) and how its
// queue batches and retries (QueueConfig, Prometheus' queue_config keys
// and defaults where they mean the same).
//
// This is the one model of a target: the config parser fills it, the
// --write-back-url flag makes one, ValidateTarget checks it for both
// `promewma --check-config` and start-up, and WriteBackQueue runs it.
//
// Thread-safety: plain values and pure functions (ValidateTarget reads the
// files the target names).

#ifndef PROMEWMA_WRITEBACK_TARGET_CONFIG_H_
#define PROMEWMA_WRITEBACK_TARGET_CONFIG_H_

#include <chrono>
#include <string_view>

#include "promewma/status.h"
#include "remote/client_config.h"

namespace promewma::writeback {

struct QueueConfig {
  // Samples held per shard (queued + in flight). Prometheus' default.
  int capacity = 10000;
  // Accepted for compatibility with Prometheus' queue_config and otherwise
  // unused: there is no resharding (queue.h).
  int min_shards = 1;
  // The fixed shard count. Four connections keep a remote store busy at the
  // derived-sample rates of one promewma process without hundreds of
  // threads.
  int max_shards = 4;
  int max_samples_per_send = 2000;  // Prometheus' default
  // A partial batch is sent once its oldest sample waited this long.
  std::chrono::milliseconds batch_send_deadline{5000};  // Prometheus'
  std::chrono::milliseconds min_backoff{30};            // Prometheus'
  std::chrono::milliseconds max_backoff{5000};          // Prometheus'
  // A batch is given up (dropped, reason "retry_timeout") when its next
  // attempt would start later than this after its first. Prometheus retries
  // forever; with a bounded queue that would turn an outage of the target
  // into 503s on ingest for as long as it lasts, and one sample the target
  // never takes (Prometheus answers 500 for a too-old sample) would block
  // the queue. Five minutes rides out a target restart or a rolling upgrade
  // and still keeps ingest alive.
  std::chrono::milliseconds max_retry_duration{std::chrono::minutes(5)};
};

struct TargetConfig {
  remote::ClientConfig client;
  QueueConfig queue;  // `queue_config:` in YAML
};

// Counts >= 1, max_shards <= 1000, min_shards <= max_shards,
// max_samples_per_send <= capacity, durations > 0, min_backoff <= max_backoff.
// On failure InvalidArgument "PATH.KEY: problem" with `path` the queue_config's
// own path (e.g. "write_back[0].queue_config"; empty: the key alone).
Status ValidateQueueConfig(const QueueConfig& config,
                           std::string_view path = {});

// remote::ValidateClientConfig(target.client, path), then
// ValidateQueueConfig(target.queue, path + ".queue_config"): the one check
// of a target, whatever made it. `path` is the target's own, such as
// "write_back[0]".
Status ValidateTarget(const TargetConfig& target, std::string_view path = {});

// Whether two targets have the same URL and every other setting the same:
// a running queue built from one serves the other unchanged.
bool SameTarget(const TargetConfig& a, const TargetConfig& b);

}  // namespace promewma::writeback

#endif  // PROMEWMA_WRITEBACK_TARGET_CONFIG_H_
