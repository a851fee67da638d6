// WriteBack: the configured write-back targets (one queue each), the fanout
// the ingester feeds, and their self-metrics on /metrics.
//
// Thread-safety: Collect may run on any thread; Stop once, at shutdown.

#ifndef PROMEWMA_APP_WRITE_BACK_H_
#define PROMEWMA_APP_WRITE_BACK_H_

#include <prometheus/collectable.h>

#include <chrono>
#include <memory>
#include <vector>

#include "config/config.h"
#include "promewma/status.h"
#include "writeback/fanout.h"
#include "writeback/queue.h"

namespace promewma::app {

class WriteBack : public prometheus::Collectable {
 public:
  // Starts a queue per target. Fails with the target's URL and what is
  // wrong (bad option, unreadable secret file).
  static Result<std::unique_ptr<WriteBack>> Start(
      const std::vector<config::WriteBackTarget>& targets);

  store::DerivedSampleSink* sink() { return fanout_.get(); }

  // Stops accepting, sends what is queued for at most `drain`, stops.
  void Stop(std::chrono::milliseconds drain);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  WriteBack() = default;

  std::vector<std::unique_ptr<writeback::WriteBackQueue>> queues_;
  std::unique_ptr<writeback::Fanout> fanout_;
};

// The queue and client options of one configured target; reads its secret
// files.
Status ClientOptionsFor(const config::WriteBackTarget& target,
                        remote::ClientOptions* client,
                        writeback::QueueConfig* queue);

}  // namespace promewma::app

#endif  // PROMEWMA_APP_WRITE_BACK_H_
