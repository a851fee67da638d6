// Fanout: the ingester's DerivedSampleSink over every write-back target.
// Each accepted input sample's outputs become samples of the derived
// series (NAME:ewma{labels}, NAME:upper_threshold{labels}, ...) and go, all
// or nothing, to every target's queue. Samples are sharded by the *input*
// series' hash, so all outputs of one input series travel in order on one
// connection per target.
//
// Thread-safety: Push and HasRoomFor are called under the ingester's lock;
// the Wait functions may be called from any thread.

#ifndef PROMEWMA_WRITEBACK_FANOUT_H_
#define PROMEWMA_WRITEBACK_FANOUT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "ewma/derived_sink.h"
#include "writeback/queue.h"

namespace promewma::writeback {

class Fanout : public ewma::DerivedSampleSink {
 public:
  // REQUIRES: the queues outlive the fanout.
  explicit Fanout(std::vector<WriteBackQueue*> queues);

  bool HasRoomFor(const ewma::SeriesHashes& series) override;
  void Push(uint64_t seq,
            const std::vector<ewma::EmittedDerived>& derived) override;
  bool WaitForRoom(const ewma::SeriesHashes& series,
                   std::chrono::steady_clock::time_point deadline) override;
  bool WaitAcknowledged(
      uint64_t seq, std::chrono::steady_clock::time_point deadline) override;

  // The queues were stopped: what is not acknowledged by now will not be,
  // so the waits give up at once instead of at their deadline.
  void MarkStopped() { stopped_.store(true); }
  bool stopped() const override { return stopped_.load(); }

  // Samples a queue refused although HasRoomFor had said yes (a stopped
  // queue): lost for that target, counted here. Should stay 0.
  uint64_t refused() const { return refused_; }

 private:
  std::vector<WriteBackQueue*> queues_;
  // The last tag handed to the queues; tags increase. Written under the
  // ingest lock, read by the checkpoint thread.
  std::atomic<uint64_t> last_seq_{0};
  std::atomic<bool> stopped_{false};
  std::vector<QueuedSample> batch_;  // reused
  uint64_t refused_ = 0;
};

// The derived samples of `derived`, as queue entries (appended to *out).
void ExpandDerived(const std::vector<ewma::EmittedDerived>& derived,
                   std::vector<QueuedSample>* out);

}  // namespace promewma::writeback

#endif  // PROMEWMA_WRITEBACK_FANOUT_H_
