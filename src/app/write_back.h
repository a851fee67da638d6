// WriteBack: the configured write-back targets (one queue each), the fanout
// the db feeds, and their self-metrics on /metrics. A reload changes the
// targets (Reconfigure); with none the fanout takes nothing and the head
// collects no derived samples.
//
// Thread-safety: Collect and QueueMemoryBytes may run on any thread;
// Reconfigure on one thread at a time; Stop once, at shutdown, after the
// last Reconfigure has returned.

#ifndef PROMEWMA_APP_WRITE_BACK_H_
#define PROMEWMA_APP_WRITE_BACK_H_

#include <prometheus/collectable.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "db/database.h"
#include "promewma/status.h"
#include "writeback/fanout.h"
#include "writeback/queue.h"
#include "writeback/target_config.h"

namespace promewma::app {

class WriteBack : public prometheus::Collectable {
 public:
  // Starts a queue per target. Checks each with writeback::ValidateTarget
  // first (the check config loading ran), and fails with its message, such
  // as "write_back[0].url: port 99999 out of range".
  static Result<std::unique_ptr<WriteBack>> Start(
      const std::vector<writeback::TargetConfig>& targets);

  ewma::DerivedSampleSink* sink() { return fanout_.get(); }

  // What a reload did to the targets.
  struct ReconfigureStats {
    size_t kept = 0;     // same URL and settings: queue untouched
    size_t added = 0;    // new queue, fed from the reload on
    size_t removed = 0;  // drained for at most `drain`, then stopped
  };
  // Puts `targets` in force: a target whose URL and every setting are
  // those of a running one keeps its queue as it is; a new one gets a new
  // queue, fed with the derived samples of the requests applied from now
  // on (nothing from before: no backlog is replayed to it); a running one
  // no longer configured gets nothing more, sends its queue for at most
  // `drain`, and counts what is left as dropped (reason "shutdown"), with a
  // warning. Derived samples are collected while there is a target. After
  // Stop it does nothing; Stop waits for one in progress.
  // REQUIRES: each target passed ValidateTarget; `db` is the database the
  // sink was given to.
  ReconfigureStats Reconfigure(
      const std::vector<writeback::TargetConfig>& targets, db::Database* db,
      std::chrono::milliseconds drain);

  // Stops accepting, sends what is queued for at most `drain`, stops.
  void Stop(std::chrono::milliseconds drain);

  // The targets in force.
  size_t target_count() const;

  // Bytes all targets' queues hold (writeback::WriteBackQueue::MemoryBytes).
  size_t QueueMemoryBytes() const;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Target {
    writeback::TargetConfig config;
    std::shared_ptr<writeback::WriteBackQueue> queue;
  };

  WriteBack() = default;
  std::vector<Target> Targets() const;

  std::unique_ptr<writeback::Fanout> fanout_;
  // Held by Reconfigure and Stop throughout: one at a time, none after
  // Stop.
  std::mutex lifecycle_mu_;
  bool stopped_ = false;  // guarded by lifecycle_mu_
  mutable std::mutex mu_;
  // The targets in force, in config order (their metrics' order).
  std::vector<Target> targets_;  // guarded by mu_
};

}  // namespace promewma::app

#endif  // PROMEWMA_APP_WRITE_BACK_H_
