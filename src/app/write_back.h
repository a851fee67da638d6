// WriteBack: the configured write-back targets (one queue each), the fanout
// the db feeds, and their self-metrics on /metrics.
//
// Thread-safety: Collect may run on any thread; Stop once, at shutdown.

#ifndef PROMEWMA_APP_WRITE_BACK_H_
#define PROMEWMA_APP_WRITE_BACK_H_

#include <prometheus/collectable.h>

#include <chrono>
#include <memory>
#include <vector>

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

  // Stops accepting, sends what is queued for at most `drain`, stops.
  void Stop(std::chrono::milliseconds drain);

  // Bytes all targets' queues hold (writeback::WriteBackQueue::MemoryBytes).
  size_t QueueMemoryBytes() const;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  WriteBack() = default;

  std::vector<std::unique_ptr<writeback::WriteBackQueue>> queues_;
  std::unique_ptr<writeback::Fanout> fanout_;
};

}  // namespace promewma::app

#endif  // PROMEWMA_APP_WRITE_BACK_H_
