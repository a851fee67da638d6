// DurableIngester: the write path with the log-first rule of DESIGN.md
// section 1, and recovery from that log.
//
//   decode (caller, in parallel) -> Prepare (validate, changes nothing)
//   -> append the body to the request log -> Commit to the engine
//   -> (fsync durability: sync the log) -> the caller answers 2xx
//
// Prepare, append and Commit run under one mutex, so the log order is the
// order in which requests changed the engine. Replaying the log through the
// same engine code therefore rebuilds exactly the state an uninterrupted run
// had, which is what makes the estimator's derived values survive a crash.
// Decoding, the expensive part, stays outside the mutex.
//
// Head chunks a request seals are published to readers under the same
// mutex (readers take it shared, ReadStoredSeries), so a read never sees a
// chunk in neither place; the request stores them after releasing it. A
// chunk write that fails is kept in memory and retried with the next
// request: the data is also in the log.
//
// Thread-safety: all methods are thread-safe.

#ifndef PROMEWMA_STORE_DURABLE_INGESTER_H_
#define PROMEWMA_STORE_DURABLE_INGESTER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <vector>

#include "codec/write_request.h"
#include "ewma/engine.h"
#include "promewma/status.h"
#include "store/store.h"

namespace promewma::store {

struct RecoveryStats {
  uint64_t checkpoint_series = 0;  // series restored from the checkpoint
  uint64_t requests = 0;           // log records replayed after it
  uint64_t samples = 0;            // samples in them
  double seconds = 0;
};

struct CheckpointStats {
  uint64_t series = 0;
  uint64_t bytes = 0;
  uint64_t seq = 0;  // last log record covered
  double seconds = 0;
};

// Where derived samples go once their request is applied: the write-back
// queues. The ingester asks for room before anything is applied, so a
// request the sink cannot take is refused whole (503) and the sender's
// retry is exact; and a checkpoint only takes effect once the sink has
// acknowledged every request it could include, so after a crash whatever
// the targets had not acknowledged is derived again by the log replay and
// sent again (at least once).
class DerivedSampleSink {
 public:
  virtual ~DerivedSampleSink() = default;
  // Whether `samples` more derived samples fit now. Room only grows until
  // the next Push (the ingest lock is held in between).
  virtual bool HasRoomFor(size_t samples) = 0;
  // Takes the derived samples of log record `seq`.
  // REQUIRES: HasRoomFor(their number) returned true since the last Push.
  virtual void Push(uint64_t seq,
                    const std::vector<ewma::EmittedDerived>& derived) = 0;
  // Waits until the sink has room for `samples`, or `deadline`; false on
  // timeout or once stopped. Used by the log replay, which cannot refuse a
  // record.
  virtual bool WaitForRoom(size_t samples,
                           std::chrono::steady_clock::time_point deadline) = 0;
  // The sink was shut down: it will never have room again.
  virtual bool stopped() const { return false; }
  // Waits until every sample pushed with a seq <= `seq` has been delivered
  // or given up on; false at `deadline`.
  virtual bool WaitAcknowledged(
      uint64_t seq, std::chrono::steady_clock::time_point deadline) = 0;
};

class DurableIngester {
 public:
  // REQUIRES: engine outlives the ingester; store too when given. Without a
  // store (tests, benchmarks) requests are applied in memory only.
  DurableIngester(ewma::Engine* engine, Store* store);

  // Logs and applies one decoded request; `body` is the snappy body it was
  // decoded from. InvalidArgument (bad labels of a new series): nothing
  // logged or applied. Unavailable (the log write failed): nothing applied,
  // the sender should retry. OK: durable and applied; *result says what
  // each sample did.
  Status Ingest(const codec::DecodedWriteRequest& decoded,
                std::string_view body, ewma::ApplyResult* result);

  // Visits the chunks of stored series (series, kind) that overlap
  // [start_ms, end_ms], in time order: stored, then not-yet-stored, then the
  // open head chunk. Consistent with ingest: no request is half-applied.
  Status ReadStoredSeries(
      uint64_t labels_hash, std::string_view labels, uint8_t kind,
      int64_t start_ms, int64_t end_ms,
      const std::function<Status(const StoredChunkView&)>& visit);

  ewma::Engine* engine() const { return engine_; }

  // Sends derived samples to `sink` from now on, the log replay included.
  // A request waits up to `admission_wait` for room in the sink (outside
  // the ingest lock) before it is refused with Unavailable; a checkpoint
  // waits up to `checkpoint_ack_wait` for delivery before it is postponed.
  // REQUIRES: called before Recover; the engine collects derived samples
  // (EngineOptions::collect_derived); `sink` outlives the ingester.
  void SetDerivedSink(DerivedSampleSink* sink,
                      std::chrono::milliseconds admission_wait,
                      std::chrono::milliseconds checkpoint_ack_wait);

  // Saves the engine's state and trims the log it covers, so the next
  // recovery replays only what comes after. Ingest goes on meanwhile (only
  // the series being saved wait for it, a shard at a time): the checkpoint
  // covers the log up to where it started, and a request applied during it
  // may or may not be in it, which replay tolerates because the engine
  // applies a sample it already holds as a no-op (duplicate or out of
  // order). One checkpoint at a time; a second caller waits.
  Status Checkpoint(CheckpointStats* stats);

  // Deletes stored chunks in time buckets that end more than `retention_ms`
  // before the newest sample seen. Whole buckets only.
  Status ApplyRetention(int64_t retention_ms);

  // Restores the last checkpoint and replays the request log written after
  // it. Call once; until it has
  // succeeded, Ingest refuses requests with Unavailable (the sender retries)
  // rather than holding them while the log replays.
  Status Recover(RecoveryStats* stats);

 private:
  ewma::Engine* const engine_;
  Store* const store_;
  // Chunks sealed by one request (or by recovery), from Commit until they
  // are stored. The chunks never change, so readers share them freely.
  struct SealedBatch {
    explicit SealedBatch(std::vector<StoredChunk> sealed)
        : chunks(std::move(sealed)) {}
    const std::vector<StoredChunk> chunks;
    bool failed = false;  // its write failed; retried under mu_. Guarded by mu_
  };

  // Moves `sealed` (none is fine) into pending_ as one batch, then writes
  // pending_ now; keeps what fails there (and logs why), to retry with the
  // next request. For recovery.
  // REQUIRES: mu_ held exclusively.
  void StoreSealed(std::vector<StoredChunk>* sealed);
  // Writes pending_'s batches in order (with `failed_only`, just those
  // whose write failed), stopping at the first failure, which it marks
  // failed; true when nothing failed. REQUIRES: mu_ held exclusively; a
  // store.
  bool WritePending(bool failed_only);
  // Puts `sealed` in pending_ as a batch for the caller to write with
  // WritePublished once it has released mu_ (nullptr: nothing to write),
  // after retrying batches whose write failed.
  // REQUIRES: mu_ held exclusively.
  std::shared_ptr<SealedBatch> PublishSealed(std::vector<StoredChunk>* sealed);
  // Stores a batch from PublishSealed and drops it from pending_.
  // REQUIRES: mu_ not held.
  void WritePublished(const std::shared_ptr<SealedBatch>& batch);

  // The most derived samples `decoded` can produce.
  size_t DerivedUpperBound(const codec::DecodedWriteRequest& decoded) const;
  // Refuses (Unavailable) when the sink has no room for what `decoded`
  // can derive. REQUIRES: mu_ held exclusively.
  Status AdmitToSink(const codec::DecodedWriteRequest& decoded);

  DerivedSampleSink* sink_ = nullptr;
  std::chrono::milliseconds admission_wait_{0};
  std::chrono::milliseconds checkpoint_ack_wait_{0};
  std::atomic<bool> recovered_;
  std::mutex checkpoint_mu_;  // one checkpoint at a time
  // Exclusive: log append + Commit. Shared: reads.
  std::shared_mutex mu_;
  uint64_t next_seq_ = 1;  // guarded by mu_
  // Sealed chunks not known to be stored; without a store they stay here.
  std::vector<std::shared_ptr<SealedBatch>> pending_;  // guarded by mu_
  int64_t max_timestamp_ms_ = std::numeric_limits<int64_t>::min();  // mu_
};

}  // namespace promewma::store

#endif  // PROMEWMA_STORE_DURABLE_INGESTER_H_
