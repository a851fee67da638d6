// Fanout: the ingester's DerivedSampleSink over every write-back target.
// Each accepted input sample's outputs become samples of the derived
// series (NAME:ewma{labels}, NAME:upper_threshold{labels}, ...) and go, all
// or nothing, to every target's queue. Samples are sharded by the *input*
// series' hash, so all outputs of one input series travel in order on one
// connection per target.
//
// The set of targets may change while it runs (a reload, SetQueues): a
// target added receives what is pushed from then on, one removed nothing
// more.
//
// Thread-safety: Push and HasRoomFor are called under the ingester's lock,
// and so is SetQueues (so that a request's samples go to one set of
// targets); the Wait functions, Retired and HoldsLabelViews may be called
// from any thread.

#ifndef PROMEWMA_WRITEBACK_FANOUT_H_
#define PROMEWMA_WRITEBACK_FANOUT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "ewma/derived_sink.h"
#include "writeback/queue.h"

namespace promewma::writeback {

class Fanout : public ewma::DerivedSampleSink {
 public:
  // REQUIRES: the queues outlive the fanout.
  explicit Fanout(std::vector<WriteBackQueue*> queues);
  // A fanout that shares the queues.
  static std::unique_ptr<Fanout> Sharing(
      std::vector<std::shared_ptr<WriteBackQueue>> queues);

  // Puts `queues` in force: a queue not in force before takes the samples
  // pushed from now on, and its acknowledgement counts from them (what was
  // pushed before is none of its business). A queue in force before keeps
  // its place. `retiring` are the queues leaving: they get nothing more,
  // and the waits treat each as pending until Retired(it) (they may still
  // hold views of label sets the checkpoint would release).
  // REQUIRES: the ingest lock held.
  void SetQueues(std::vector<std::shared_ptr<WriteBackQueue>> queues,
                 std::vector<std::shared_ptr<WriteBackQueue>> retiring);
  // A queue passed as `retiring` has stopped: nothing waits on it any more.
  void Retired(const WriteBackQueue* queue);
  // Whether some queue may hold views of label sets (one is in force or
  // still stopping): until none does, retired label sets must be kept.
  bool HoldsLabelViews() const override;

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

  // The queues in force.
  std::vector<std::shared_ptr<WriteBackQueue>> queues() const;

  // Samples a queue refused although HasRoomFor had said yes (a stopped
  // queue): lost for that target, counted here. Should stay 0.
  uint64_t refused() const { return refused_; }

 private:
  // A queue in force and the first tag it was given (what came before
  // is acknowledged for it).
  struct Target {
    std::shared_ptr<WriteBackQueue> queue;
    uint64_t first_tag = 0;
  };
  using Targets = std::vector<Target>;
  std::shared_ptr<const Targets> Current() const;
  bool Retiring() const;

  mutable std::mutex mu_;
  // Replaced whole by SetQueues, never changed in place: the waits read
  // a snapshot without the ingest lock.
  std::shared_ptr<const Targets> targets_;                // guarded by mu_
  std::vector<std::shared_ptr<WriteBackQueue>> retiring_;  // guarded by mu_
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
