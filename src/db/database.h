// Database: promewma's database layer. It owns the request log
// (wal/request_log.h), the in-memory series (head/head.h) and the chunk and
// checkpoint store (store/store.h), and keeps them consistent: the write
// path with the log-first rule, reads across stored, pending and open
// chunks, checkpoints, retention and recovery from the log.
//
//   decode (caller, in parallel) -> Prepare (validate, changes nothing)
//   -> append the body to the request log -> Commit to the head
//   -> (fsync durability: sync the log) -> the caller answers 2xx
//
// Prepare, append and Commit run under one mutex, so the log order is the
// order in which requests changed the head. Replaying the log through the
// same head code therefore rebuilds exactly the state an uninterrupted run
// had, which is what makes the estimator's derived values survive a crash.
// Decoding, the expensive part, stays outside the mutex.
//
// Head chunks a request seals are published to readers under the same
// mutex (ReadSeries copies what is not stored yet, pending chunks and the
// open head, under it shared, and reads the store after releasing it), so a
// read never misses a chunk moving between them; the request stores them
// after releasing it. A chunk
// write that fails is kept in memory and retried with the next request: the
// data is also in the log.
//
// Thread-safety: all methods are thread-safe.

#ifndef PROMEWMA_DB_DATABASE_H_
#define PROMEWMA_DB_DATABASE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>  // std::shared_lock
#include <string>
#include <string_view>
#include <vector>

#include "codec/write_request.h"
#include "common/fault_injector.h"
#include "common/writer_preferring_mutex.h"
#include "db/disk_space_guard.h"
#include "db/series_gate.h"
#include "ewma/derived_sink.h"
#include "head/head.h"
#include "promewma/status.h"
#include "store/store.h"
#include "wal/request_log.h"

namespace promewma::db {

struct DatabaseOptions {
  // Chunks and checkpoints in RocksDB here, the request log's segment files
  // in dir/request_log.
  std::string dir;
  wal::Durability durability = wal::Durability::kOs;
  size_t log_segment_bytes = 64 << 20;  // see wal::RequestLogOptions
  // RocksDB's memory bound (see store::StoreOptions).
  size_t memtable_bytes = store::StoreOptions::kDefaultMemtableBytes;
  size_t block_cache_bytes = store::StoreOptions::kDefaultBlockCacheBytes;
  bool cache_reads = false;  // see store::StoreOptions
  // Writes (requests, checkpoints, retention) are refused while less than
  // this is free on dir's filesystem (disk_space_guard.h); 0: never.
  uint64_t min_free_disk_bytes = 0;
  // How free space is measured; tests replace it.
  DiskSpaceGuard::FreeSpaceProbe free_space_probe = DiskSpaceGuard::FreeSpaceOf;
  FaultInjector* faults = nullptr;      // not owned; may be null (tests)
};

struct RecoveryStats {
  uint64_t checkpoint_series = 0;  // series restored from the checkpoint
  uint64_t requests = 0;           // log records replayed after it
  uint64_t samples = 0;            // samples in them
  double seconds = 0;
};

struct CheckpointStats {
  uint64_t dropped_series = 0;  // idle series dropped before it
  uint64_t series = 0;
  uint64_t bytes = 0;
  uint64_t seq = 0;  // last log record covered
  double seconds = 0;
};

class Database {
 public:
  // Opens the log and the store under options.dir (creating what is
  // missing). Fails with a one-line message when the directory is unusable
  // or already in use by another process. Call Recover before Ingest.
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options,
                                                head::HeadOptions head_options);
  // In memory only (tests, benchmarks): requests are applied to the head and
  // nothing is logged or stored.
  explicit Database(head::HeadOptions head_options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Logs and applies one decoded request; `body` is the snappy body it was
  // decoded from. InvalidArgument (bad labels of a new series): nothing
  // logged or applied. Unavailable (the log write failed): nothing applied,
  // the sender should retry. OK: durable and applied; *result says what
  // each sample did.
  Status Ingest(const codec::DecodedWriteRequest& decoded,
                std::string_view body, head::ApplyResult* result);

  // Passes every request through `gate` first (series_gate.h), from now on:
  // a request whose samples it holds in part is logged whole and applied
  // without them, and checkpoints cover the log only up to before the
  // oldest record whose held samples are not applied yet.
  // REQUIRES: called before requests are ingested; `gate` outlives the
  // database's use of it (SetSeriesGate(nullptr) stops it).
  void SetSeriesGate(SeriesGate* gate) {
    gate_.store(gate, std::memory_order_release);
  }

  // Applies samples a SeriesGate held: first, when `warmed` is given and
  // the head does not know that series yet, restores it from the snapshot
  // (its state from history, without a head chunk); then logs and applies
  // `request` (snappy `body`) as Ingest does, without the gate. The
  // restored state is not in the request log: the next checkpoint saves
  // it, and a crash before that replays the held samples without it.
  // Errors as Ingest's; after an error the caller may call again with the
  // same arguments (the snapshot is not restored twice).
  Status IngestHeld(const head::SeriesSnapshot* warmed,
                    const codec::DecodedWriteRequest& request,
                    std::string_view body, head::ApplyResult* result);

  // Visits the chunks of an input series that overlap [start_ms, end_ms],
  // in time order: stored, then not-yet-stored, then the open head chunk.
  // With `output` set, the chunks of that output, derived from the raw ones.
  // Consistent with ingest: no request is half-applied. A caller reading
  // many series passes the same `reader` each time (store.h).
  Status ReadSeries(uint64_t labels_hash, std::string_view labels,
                    std::optional<ewma::Output> output, int64_t start_ms,
                    int64_t end_ms,
                    const std::function<Status(const store::ChunkView&)>& visit,
                    store::ChunkReader* reader = nullptr);

  head::Head* head() const { return head_.get(); }
  // Null in memory.
  wal::RequestLog* request_log() const { return log_.get(); }
  store::Store* store() const { return store_.get(); }
  // Null in memory.
  DiskSpaceGuard* disk_space_guard() const { return disk_.get(); }

  // Sends derived samples to `sink` from now on, the log replay included.
  // A request waits up to `admission_wait` for room in the sink (outside
  // the ingest lock) before it is refused with Unavailable; a checkpoint
  // waits up to `checkpoint_ack_wait` for delivery before it is postponed.
  // The head collects derived samples while the sink has targets
  // (HeadOptions::collect_derived, ChangeDerivedTargets).
  // REQUIRES: called before Recover; `sink` outlives the database.
  void SetDerivedSink(ewma::DerivedSampleSink* sink,
                      std::chrono::milliseconds admission_wait,
                      std::chrono::milliseconds checkpoint_ack_wait);

  // Saves the head's state and trims the log it covers, so the next
  // recovery replays only what comes after. Ingest goes on meanwhile (only
  // the series being saved wait for it, a shard at a time): the checkpoint
  // covers the log up to where it started, and a request applied during it
  // may or may not be in it, which replay tolerates because the head
  // applies a sample it already holds as a no-op (duplicate or out of
  // order). One checkpoint at a time; a second caller waits.
  Status Checkpoint(CheckpointStats* stats);

  // Drops the series idle for their timeout from the head
  // (head.h DropIdleSeries). Their open head chunks are stored first and
  // their label sets recorded (store.h), so their history stays readable
  // until retention; a series that sends again starts afresh. Checkpoint
  // does this first, so that the checkpoint no longer holds them and a
  // restart does not bring them back. *dropped: how many (ignored series
  // included).
  Status DropIdleSeries(uint64_t* dropped);
  // Puts a reloaded configuration's series parameters, rules, limits and
  // idle timeout in force (head.h Reconfigure) between two requests: no
  // request is applied half under the old rules and half under the new.
  // The heads it seals are stored, and the series no rule selects any more
  // are recorded as dropped ones are, so their history stays readable.
  // Waits for a checkpoint in progress.
  void Reconfigure(const head::HeadOptions& options,
                   head::ReconfigureStats* stats);
  // Runs `change` (which changes the sink's targets) between two requests,
  // and turns the head's derived-sample collection on or off with it: a
  // request's derived samples all go to one set of targets.
  // REQUIRES: a sink was set (SetDerivedSink).
  void ChangeDerivedTargets(bool collect_derived,
                            const std::function<void()>& change);
  // Calls `visit` for every series dropped from the head whose history may
  // still be stored (a series that came back may be visited too). With
  // `metric_names`, for those it selects (and perhaps others): the store
  // finds their records by name instead of scanning them all.
  Status VisitDroppedSeries(
      const std::function<Status(const head::DroppedSeries&)>& visit,
      const store::MetricNames* metric_names = nullptr);

  // Deletes stored chunks in time buckets that end more than `retention_ms`
  // before the newest sample seen. Whole buckets only.
  Status ApplyRetention(int64_t retention_ms);

  // Restores the last checkpoint and replays the request log written after
  // it. Call once; until it has succeeded, Ingest refuses requests with Unavailable (the sender retries)
  // rather than holding them while the log replays.
  Status Recover(RecoveryStats* stats);

 private:
  Database(std::unique_ptr<head::Head> head, std::unique_ptr<wal::RequestLog> log,
           std::unique_ptr<store::Store> store,
           std::unique_ptr<DiskSpaceGuard> disk, FaultInjector* faults);

  const std::unique_ptr<head::Head> head_;
  const std::unique_ptr<wal::RequestLog> log_;  // null in memory
  const std::unique_ptr<store::Store> store_;   // null in memory
  const std::unique_ptr<DiskSpaceGuard> disk_;  // null in memory
  FaultInjector* const faults_;                 // null but in tests
  // Chunks sealed by one request (or by recovery), from Commit until they
  // are stored. The chunks never change, so readers share them freely.
  struct SealedBatch {
    explicit SealedBatch(std::vector<head::SealedChunk> sealed)
        : chunks(std::move(sealed)) {}
    const std::vector<head::SealedChunk> chunks;
    bool failed = false;  // its write failed; retried under mu_. Guarded by mu_
  };

  // Moves `sealed` (none is fine) into pending_ as one batch, then writes
  // pending_ now; keeps what fails there (and logs why), to retry with the
  // next request. For recovery.
  // REQUIRES: mu_ held exclusively.
  void StoreSealed(std::vector<head::SealedChunk>* sealed);
  // Writes pending_'s batches in order (with `failed_only`, just those
  // whose write failed), stopping at the first failure, which it marks
  // failed; true when nothing failed. REQUIRES: mu_ held exclusively; a
  // store.
  bool WritePending(bool failed_only);
  // Puts `sealed` in pending_ as a batch for the caller to write with
  // WritePublished once it has released mu_ (nullptr: nothing to write),
  // after retrying batches whose write failed.
  // REQUIRES: mu_ held exclusively.
  std::shared_ptr<SealedBatch> PublishSealed(std::vector<head::SealedChunk>* sealed);
  // Stores a batch from PublishSealed and drops it from pending_.
  // REQUIRES: mu_ not held.
  void WritePublished(const std::shared_ptr<SealedBatch>& batch);

  // The input series of `decoded`, for the sink's admission (a per-thread
  // buffer, valid until the thread's next call).
  static const ewma::SeriesHashes& SeriesOf(
      const codec::DecodedWriteRequest& decoded);
  // Refuses (Unavailable) when the sink has no room for these series
  // (ewma/derived_sink.h), after waiting up to admission_wait_.
  // REQUIRES: mu_ held exclusively; a sink.
  Status AdmitToSink(const ewma::SeriesHashes& series);

  // Drops the idle series from the head, one head shard under each hold of
  // mu_, so that requests go on in between (dropping 5,000 series under
  // one hold stopped every write for 3-7 ms); their heads join pending_
  // and the series unrecorded_, readable there.
  // REQUIRES: checkpoint_mu_ held; mu_ not held.
  void DropIdleShardByShard(uint64_t* dropped);
  // Puts the heads of series the head dropped in pending_ and the series in
  // unrecorded_, and leaves both vectors empty. REQUIRES: mu_ held
  // exclusively.
  void KeepDropped(std::vector<head::SealedChunk>* sealed,
                   std::vector<head::DroppedSeries>* series);
  // Stores pending_ and records unrecorded_ as they are under `lock` (mu_,
  // held exclusively), written after releasing it, then drops what
  // succeeded from both under it again. Unavailable, saying which, unless
  // all of it did; what failed stays, logged, for the next try. A drop can
  // concern every series at once: writing them under mu_ held up every
  // request for as long. REQUIRES: checkpoint_mu_ held (nothing else
  // changes unrecorded_ meanwhile).
  Status StoreUnstored(std::unique_lock<WriterPreferringMutex> lock);

  // Ingest's body: logs and applies one request, after restoring `warmed`
  // (may be null; see IngestHeld).
  // Logs `body` and applies `decoded` (all of body, or the part of it
  // `held_by` did not hold; held_by->Logged is told the record).
  Status Apply(const head::SeriesSnapshot* warmed,
               const codec::DecodedWriteRequest& decoded,
               std::string_view body, SeriesGate* held_by,
               head::ApplyResult* result);

  std::atomic<SeriesGate*> gate_{nullptr};
  ewma::DerivedSampleSink* sink_ = nullptr;
  std::chrono::milliseconds admission_wait_{0};
  std::chrono::milliseconds checkpoint_ack_wait_{0};
  std::atomic<bool> recovered_;
  std::mutex checkpoint_mu_;  // one checkpoint at a time
  // Exclusive: log append + Commit. Shared: reads, briefly (they copy what
  // is not stored yet). A waiting request is not starved by them.
  WriterPreferringMutex mu_;
  uint64_t next_seq_ = 1;  // guarded by mu_
  // Sealed chunks not known to be stored; without a store they stay here.
  std::vector<std::shared_ptr<SealedBatch>> pending_;  // guarded by mu_
  int64_t max_timestamp_ms_ = std::numeric_limits<int64_t>::min();  // mu_
  // Dropped series not recorded in the store: all of them in memory, else
  // those whose record failed to write (retried at the next drop).
  std::vector<head::DroppedSeries> unrecorded_;  // guarded by mu_
};

}  // namespace promewma::db

#endif  // PROMEWMA_DB_DATABASE_H_
