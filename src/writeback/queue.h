// WriteBackQueue: the bounded, sharded send queue for ONE write-back target.
//
// Derived samples enter with TryEnqueue and are spread over a fixed number
// of shards by series hash (shard = series_hash % shards), so each series
// stays on one shard and its samples leave in the order they came (FIFO per
// shard). Each shard has one sender thread and one Sender (a keep-alive
// connection). A sender thread takes up to max_samples_per_send samples,
// waiting at most batch_send_deadline for a batch to fill, encodes them
// (remote/batch_encoder.h) and sends them; on a retryable failure it waits the
// backoff (remote/backoff.h) and resends the same bytes, giving up after
// max_retry_duration; a non-retryable failure drops the batch. Both are
// counted and logged.
//
// Backpressure: a shard below `capacity` samples (those queued and those in
// the batch being sent) takes any call's share, however large; a shard at
// or over it takes nothing until it drains below. So a large request is
// never refused for its size alone, while a shard holds at most
// capacity - 1 + the largest share one call brings (memory: that many
// QueuedSamples, 40 bytes each). TryEnqueue is all-or-nothing over the
// shards a call touches, so a caller that gets `false` has enqueued nothing
// and can answer 503 with nothing applied, so the sender's retry is exact.
//
// Acknowledgement: every TryEnqueue carries a sequence tag (the request log
// sequence number, say). AcknowledgedThrough() is the largest tag T such
// that every sample enqueued with a tag <= T has reached a final outcome:
// sent, or dropped (4xx, retry timeout). Samples still queued when Stop's
// drain deadline passes are *not* final: they count as dropped "shutdown"
// but are never acknowledged, so that replay after a restart resends them
// (at-least-once).
//
// Not done (yet): resharding. The shard count is fixed at max_shards;
// min_shards is accepted for configuration compatibility with Prometheus and
// otherwise ignored.
//
// Thread-safety: all public methods are thread-safe. Lock order: shard
// mutexes in ascending shard index, then ack_mu_; stop_mu_ is never held
// with another lock.

#ifndef PROMEWMA_WRITEBACK_QUEUE_H_
#define PROMEWMA_WRITEBACK_QUEUE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "promewma/status.h"
#include "remote/batch_encoder.h"
#include "remote/remote_write_client.h"
#include "writeback/ring.h"
#include "writeback/series_grouping.h"
#include "writeback/target_config.h"

namespace promewma::writeback {

// One sample of series `labels` (canonical label-set encoding,
// model/labels.h), or, with a `name_suffix`, of the series named
// __name__ + name_suffix with the same other labels (NAME:ewma of NAME).
// The labels are views, not copies: promewma queues thousands of derived
// samples per request, and their label sets live in the engine for good.
// REQUIRES: both views stay valid until the queue is destroyed.
struct QueuedSample {
  std::string_view labels;
  uint64_t series_hash;  // picks the shard: equal for equal `labels`
  int64_t timestamp_ms;
  double value;
  std::string_view name_suffix = {};
};

enum class DropReason : int {
  kHttp4xx = 0,      // the target refused the batch (4xx, or 429 w/o retry)
  kRetryTimeout,     // retried for max_retry_duration without success
  kShutdown,         // still queued at Stop's drain deadline (not acked)
  kCount,
};
// "http_4xx", "retry_timeout", "shutdown": the label values to export.
std::string_view DropReasonName(DropReason reason);

// Upper bounds in seconds of the send-duration buckets: Prometheus' default
// buckets, the ones its own
// prometheus_remote_storage_sent_batch_duration_seconds uses.
inline constexpr std::array<double, 11> kSendDurationBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// Duration of every send attempt (successful or not), as a histogram the
// http module can export with prometheus-cpp's Histogram::ObserveMultiple.
struct SendDurationRecord {
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> sum_ns{0};
  // Per bucket, NOT cumulative: buckets[i] counts observations in
  // (bound[i-1], bound[i]]; the last element counts those above 10 s.
  std::array<std::atomic<uint64_t>, kSendDurationBuckets.size() + 1> buckets{};

  void Observe(std::chrono::nanoseconds duration);
};

// Counters, readable from any thread at any time (relaxed loads; each value
// is exact, two values read one after the other need not be from the same
// instant).
struct QueueStats {
  std::atomic<uint64_t> samples_sent{0};
  std::atomic<uint64_t> samples_failed{0};   // per failed attempt
  std::atomic<uint64_t> samples_retried{0};  // per resend
  std::array<std::atomic<uint64_t>, static_cast<int>(DropReason::kCount)>
      samples_dropped{};
  std::atomic<int64_t> samples_pending{0};  // queued + in flight
  std::atomic<int> shards{0};
  // Times a shard thread woke from waiting for its queue (for a sample, a
  // full batch, a deadline, a stop, or spuriously): about one per batch
  // sent in steady state, not one per TryEnqueue.
  std::atomic<uint64_t> shard_wakeups{0};
  // The newest timestamp among samples the target acknowledged (2xx); 0
  // until the first success.
  std::atomic<int64_t> highest_sent_timestamp_ms{0};
  SendDurationRecord send_duration;

  uint64_t dropped(DropReason reason) const {
    return samples_dropped[static_cast<int>(reason)].load();
  }
};

using SenderFactory = std::function<std::unique_ptr<remote::Sender>()>;

class WriteBackQueue {
 public:
  // Starts the shard threads. `name` appears in logs. Without a factory,
  // each shard gets a RemoteWriteClient built from `client`.
  // REQUIRES: ValidateQueueConfig(config).ok(); without a factory also
  // remote::ValidateClientConfig(client).ok() (ValidateTarget checks both).
  WriteBackQueue(std::string name, remote::ClientConfig client,
                 QueueConfig config, SenderFactory factory = nullptr);
  // Stop(0) if Stop was not called.
  ~WriteBackQueue();

  WriteBackQueue(const WriteBackQueue&) = delete;
  WriteBackQueue& operator=(const WriteBackQueue&) = delete;

  // Enqueues all of `samples` or none of them: false (and nothing enqueued)
  // when a shard they map to is at or over capacity, or after Stop. On true
  // the samples are moved from; on false they are left as they were.
  // An empty `samples` succeeds and is acknowledged at once.
  // REQUIRES: `sequence` greater than that of every earlier successful call.
  bool TryEnqueue(std::vector<QueuedSample>&& samples, uint64_t sequence);

  // Whether a call with samples of these series would be taken now: every
  // shard they map to is below capacity (until someone else enqueues).
  // False after Stop.
  bool HasRoomFor(const std::vector<uint64_t>& series_hashes) const;

  // Samples a shard holds, queued and in flight (tests).
  size_t HeldByShard(size_t shard) const;

  // Bytes the shards' queues hold (their rings' slots, used or not; a
  // ring keeps the largest size it grew to).
  size_t MemoryBytes() const;

  // See the file comment. 0 before anything was acknowledged.
  uint64_t AcknowledgedThrough() const;

  // Stops accepting samples, keeps sending (and retrying) what is queued
  // until everything is out or `drain_deadline` has passed, then aborts the
  // send in progress and joins the threads. Later calls do nothing.
  void Stop(std::chrono::milliseconds drain_deadline);

  const QueueStats& stats() const { return stats_; }
  const std::string& name() const { return name_; }

 private:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    QueuedSample sample;
    uint64_t sequence;
    Clock::time_point enqueued;
  };

  struct Shard {
    int index = 0;
    // Used by the shard thread; Cancel from any thread.
    std::unique_ptr<remote::Sender> sender;
    std::thread thread;

    mutable std::mutex mu;
    // The queue got its first sample or a full batch, or stopping
    // changed (TryEnqueue says why not on every sample).
    std::condition_variable cv;
    // Guarded by mu:
    // A ring, not a std::deque: the deque allocated a block every seven
    // entries and freed it on the other thread, ~8% of the CPU of a
    // promewma writing back. TryEnqueue keeps it within the capacity.
    Ring<Entry> queue;
    size_t in_flight = 0;  // samples in the batch being sent

    // Used by the shard thread only, reused from batch to batch: a sender
    // sends batches of about the same size all day.
    std::vector<SeriesKey> series_keys;
    std::vector<uint32_t> order;
    SeriesGrouping grouping;
    std::vector<remote::OutgoingSample> outgoing;
    remote::BatchEncoder encoder;
  };

  void RunShard(Shard* shard);
  // Sends one batch to a final outcome, or abandons it at hard stop.
  void SendBatch(Shard* shard, std::vector<Entry>* batch);
  // Sleeps until `until` or hard stop; false on hard stop.
  bool SleepInterruptibly(Shard* shard, Clock::time_point until);
  // Marks samples final for AcknowledgedThrough.
  void Complete(const std::vector<Entry>& batch);
  // Whether `shard` takes more samples (see Backpressure above).
  // REQUIRES: shard.mu held.
  bool BelowCapacity(const Shard& shard) const {
    return shard.queue.size() + shard.in_flight <
           static_cast<size_t>(config_.capacity);
  }
  void NotifyAll();

  const std::string name_;
  const QueueConfig config_;
  QueueStats stats_;
  std::vector<std::unique_ptr<Shard>> shards_;

  std::atomic<bool> stopping_{false};   // no new samples; drain
  std::atomic<bool> hard_stop_{false};  // drain deadline passed

  mutable std::mutex ack_mu_;
  // Guarded by ack_mu_:
  std::map<uint64_t, size_t> outstanding_;  // sequence -> samples not final
  uint64_t highest_sequence_ = 0;           // of any successful TryEnqueue

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  // Guarded by stop_mu_:
  int running_shards_ = 0;
  bool stopped_ = false;
};

}  // namespace promewma::writeback

#endif  // PROMEWMA_WRITEBACK_QUEUE_H_
