#include "writeback/target_config.h"

#include <string>
#include <tuple>

#include "common/key_path.h"

namespace promewma::writeback {
namespace {

// Each shard is a thread and a connection, started with the queue: a
// thousand already outnumber what a remote store takes from one sender
// (Prometheus' default max_shards is 50), and many more would exhaust the
// process' threads at start-up rather than fail the check.
constexpr int kMaxShards = 1000;

Status CheckAtLeastOne(int value, std::string_view path, const char* key) {
  if (value >= 1) return Status::Ok();
  return ProblemAt(JoinKeyPath(path, key),
                   "must be >= 1, got " + std::to_string(value));
}

Status CheckPositive(std::chrono::milliseconds value, std::string_view path,
                     const char* key) {
  if (value.count() > 0) return Status::Ok();
  return ProblemAt(JoinKeyPath(path, key), "must be > 0");
}

}  // namespace

Status ValidateQueueConfig(const QueueConfig& c, std::string_view path) {
  for (const auto& [value, key] :
       {std::pair{c.capacity, "capacity"},
        std::pair{c.min_shards, "min_shards"},
        std::pair{c.max_shards, "max_shards"},
        std::pair{c.max_samples_per_send, "max_samples_per_send"}}) {
    if (Status s = CheckAtLeastOne(value, path, key); !s.ok()) return s;
  }
  if (c.max_shards > kMaxShards) {
    return ProblemAt(JoinKeyPath(path, "max_shards"),
                     "must be at most " + std::to_string(kMaxShards) +
                         ", got " + std::to_string(c.max_shards));
  }
  if (c.min_shards > c.max_shards) {
    return ProblemAt(JoinKeyPath(path, "min_shards"),
                     "must be <= max_shards (" + std::to_string(c.max_shards) +
                         "), got " + std::to_string(c.min_shards));
  }
  if (c.max_samples_per_send > c.capacity) {
    return ProblemAt(JoinKeyPath(path, "max_samples_per_send"),
                     "must be <= capacity (" + std::to_string(c.capacity) +
                         "), got " + std::to_string(c.max_samples_per_send));
  }
  for (const auto& [value, key] :
       {std::pair{c.batch_send_deadline, "batch_send_deadline"},
        std::pair{c.min_backoff, "min_backoff"},
        std::pair{c.max_backoff, "max_backoff"},
        std::pair{c.max_retry_duration, "max_retry_duration"}}) {
    if (Status s = CheckPositive(value, path, key); !s.ok()) return s;
  }
  if (c.min_backoff > c.max_backoff) {
    return ProblemAt(JoinKeyPath(path, "min_backoff"),
                     "must be <= max_backoff");
  }
  return Status::Ok();
}

Status ValidateTarget(const TargetConfig& target, std::string_view path) {
  Status s = remote::ValidateClientConfig(target.client, path);
  if (!s.ok()) return s;
  return ValidateQueueConfig(target.queue, JoinKeyPath(path, "queue_config"));
}

bool SameTarget(const TargetConfig& a, const TargetConfig& b) {
  auto queue = [](const QueueConfig& q) {
    return std::tie(q.capacity, q.min_shards, q.max_shards,
                    q.max_samples_per_send, q.batch_send_deadline,
                    q.min_backoff, q.max_backoff, q.max_retry_duration);
  };
  return remote::SameClientConfig(a.client, b.client) &&
         queue(a.queue) == queue(b.queue);
}

}  // namespace promewma::writeback
