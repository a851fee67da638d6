#include "db/database.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>

#include "codec/snappy_block.h"
#include "common/log.h"
#include "common/thread_role.h"
#include "head/chunk_derivation.h"
#include "head/time_bucket.h"
#include "model/labels.h"
#include "store/checkpoint_record.h"

namespace promewma::db {

namespace {

// Where the request log's segment files live under the data directory.
constexpr char kRequestLogDir[] = "request_log";

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(
    const DatabaseOptions& options, head::HeadOptions head_options) {
  // The store first: RocksDB's lock on the directory keeps a second process
  // out of the request log beside it too.
  store::StoreOptions store_options;
  store_options.dir = options.dir;
  store_options.chunk_bucket_ms = head_options.chunk_bucket_ms;
  store_options.faults = options.faults;
  store_options.memtable_bytes = options.memtable_bytes;
  store_options.block_cache_bytes = options.block_cache_bytes;
  store_options.cache_reads = options.cache_reads;
  Result<std::unique_ptr<store::Store>> store =
      store::Store::Open(store_options);
  if (!store.ok()) return store.status();
  wal::RequestLogOptions log_options;
  log_options.dir = options.dir + "/" + kRequestLogDir;
  log_options.durability = options.durability;
  log_options.segment_bytes = options.log_segment_bytes;
  log_options.faults = options.faults;
  Result<std::unique_ptr<wal::RequestLog>> log =
      wal::RequestLog::Open(log_options);
  if (!log.ok()) return log.status();
  return std::unique_ptr<Database>(
      new Database(std::make_unique<head::Head>(std::move(head_options)),
                   std::move(log).value(), std::move(store).value(),
                   std::make_unique<DiskSpaceGuard>(
                       options.dir, options.min_free_disk_bytes,
                       options.free_space_probe),
                   options.faults));
}

Database::Database(head::HeadOptions head_options)
    : Database(std::make_unique<head::Head>(std::move(head_options)), nullptr,
               nullptr, nullptr, nullptr) {}

Database::Database(std::unique_ptr<head::Head> head,
                   std::unique_ptr<wal::RequestLog> log,
                   std::unique_ptr<store::Store> store,
                   std::unique_ptr<DiskSpaceGuard> disk,
                   FaultInjector* faults)
    : head_(std::move(head)),
      log_(std::move(log)),
      store_(std::move(store)),
      disk_(std::move(disk)),
      faults_(faults),
      recovered_(store_ == nullptr) {}

Database::~Database() = default;

Status Database::Ingest(const codec::DecodedWriteRequest& decoded,
                               std::string_view body,
                               head::ApplyResult* result) {
  if (!recovered_.load(std::memory_order_acquire)) {
    return Status::Unavailable(
        "promewma is replaying its request log; retry shortly");
  }
  SeriesGate* gate = gate_.load(std::memory_order_acquire);
  if (gate != nullptr) {
    const codec::DecodedWriteRequest* rest = nullptr;
    Status s = gate->Hold(decoded, &rest);
    if (!s.ok()) return s;
    // The held samples are acknowledged with the request: it is logged
    // whole, and only the rest is applied now.
    if (rest != nullptr) return Apply(nullptr, *rest, body, gate, result);
  }
  return Apply(nullptr, decoded, body, nullptr, result);
}

Status Database::IngestHeld(const head::SeriesSnapshot* warmed,
                            const codec::DecodedWriteRequest& request,
                            std::string_view body, head::ApplyResult* result) {
  if (!recovered_.load(std::memory_order_acquire)) {
    return Status::Unavailable(
        "promewma is replaying its request log; retry shortly");
  }
  return Apply(warmed, request, body, nullptr, result);
}

Status Database::Apply(const head::SeriesSnapshot* warmed,
                       const codec::DecodedWriteRequest& decoded,
                       std::string_view body, SeriesGate* held_by,
                       head::ApplyResult* result) {
  if (disk_ != nullptr) {
    Status full = disk_->Check(DiskWrite::kRequest);
    if (!full.ok()) {
      result->Clear();
      return full;
    }
  }
  thread_local head::Head::PreparedRequest prepared;
  const ewma::SeriesHashes* series =
      sink_ != nullptr ? &SeriesOf(decoded) : nullptr;
  if (sink_ != nullptr) {
    // A full write-back queue usually drains within moments: wait for it
    // here, holding no lock, rather than send the writer into a retry
    // backoff. The room is checked again under the lock.
    sink_->WaitForRoom(*series,
                       std::chrono::steady_clock::now() + admission_wait_);
  }
  // Prepare only reads the head (Commit looks the series up again if idle
  // ones were dropped meanwhile, and creates a new series only if no other
  // writer did), so it runs before the lock: finding 500 series and
  // validating the new ones is a good part of a request's cost, and the
  // lock serialises. A warmed series is restored under the lock first.
  Status s;
  if (warmed == nullptr) {
    s = head_->Prepare(decoded, &prepared);
    if (!s.ok()) {
      result->Clear();
      result->refusal = prepared.refusal();
      return s;
    }
  }
  std::shared_ptr<SealedBatch> to_store;
  {
    std::unique_lock<WriterPreferringMutex> lock(mu_);
    if (warmed != nullptr) {
      // Under the lock, so that no request creates the series in between.
      if (!head_->Knows(model::HashLabelSet(warmed->labels), warmed->labels)) {
        std::vector<head::SealedChunk> sealed;  // none: no head chunk
        s = head_->Restore(*warmed, &sealed);
        if (!s.ok()) return s;
      }
      s = head_->Prepare(decoded, &prepared);
      if (!s.ok()) {
        result->Clear();
        result->refusal = prepared.refusal();
        return s;
      }
    }
    if (series != nullptr) {
      s = AdmitToSink(*series);
      if (!s.ok()) return s;
    }
    if (store_ != nullptr) {
      s = log_->Append(next_seq_, body);
      if (!s.ok()) {
        return Status::Unavailable("cannot log the request, nothing applied: " +
                                   s.message());
      }
      if (held_by != nullptr) held_by->Logged(next_seq_);
      ++next_seq_;
    }
    head_->Commit(decoded, &prepared, result);
    if (sink_ != nullptr) sink_->Push(next_seq_ - 1, result->derived);
    to_store = PublishSealed(&result->sealed);
    max_timestamp_ms_ = std::max(max_timestamp_ms_, result->max_timestamp_ms);
  }
  // After the lock: when every head fills at once (series in lockstep, or a
  // time-bucket boundary), a request seals hundreds of chunks, and writing
  // them held up every other writer.
  if (to_store != nullptr) WritePublished(to_store);
  if (store_ != nullptr) {
    s = log_->Sync();
    if (!s.ok()) {
      // Applied, but not known to be on stable storage: the sender retries,
      // and the retry is an idempotent duplicate.
      return Status::Unavailable("request log sync failed: " + s.message());
    }
  }
  return Status::Ok();
}

void Database::SetDerivedSink(
    ewma::DerivedSampleSink* sink, std::chrono::milliseconds admission_wait,
    std::chrono::milliseconds checkpoint_ack_wait) {
  sink_ = sink;
  admission_wait_ = admission_wait;
  checkpoint_ack_wait_ = checkpoint_ack_wait;
}

const ewma::SeriesHashes& Database::SeriesOf(
    const codec::DecodedWriteRequest& decoded) {
  thread_local ewma::SeriesHashes series;
  series.clear();
  for (const codec::DecodedSeries& s : decoded.series) {
    series.push_back(s.labels_hash);
  }
  return series;
}

Status Database::AdmitToSink(const ewma::SeriesHashes& series) {
  if (sink_->HasRoomFor(series)) return Status::Ok();
  // Another writer took the room this one waited for. Room only grows while
  // the lock is held, so waiting here is fair: the next request in line
  // gets what the queues free up. (Reads wait meanwhile too; this is
  // backpressure, and it is bounded.)
  if (sink_->WaitForRoom(series,
                         std::chrono::steady_clock::now() + admission_wait_)) {
    return Status::Ok();
  }
  return Status::Unavailable(
      "write-back backlog full: a queue this request's series go to holds "
      "queue_config.capacity derived samples or more; nothing applied, "
      "retry later");
}

void Database::StoreSealed(std::vector<head::SealedChunk>* sealed) {
  if (!sealed->empty()) {
    pending_.push_back(std::make_shared<SealedBatch>(std::move(*sealed)));
    sealed->clear();
  }
  // Without a store (tests, benchmarks) sealed chunks stay in memory.
  if (store_ != nullptr) WritePending(/*failed_only=*/false);
}

bool Database::WritePending(bool failed_only) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (failed_only && !(*it)->failed) {
      ++it;
      continue;
    }
    const std::vector<head::SealedChunk>& chunks = (*it)->chunks;
    Status s = store_->WriteChunks(chunks);
    if (!s.ok()) {
      (*it)->failed = true;
      log::Warn("store", "sealed chunks not stored yet; will retry",
                {{"chunks", chunks.size()}, {"err", s.message()}});
      return false;
    }
    it = pending_.erase(it);
  }
  return true;
}

std::shared_ptr<Database::SealedBatch> Database::PublishSealed(
    std::vector<head::SealedChunk>* sealed) {
  // Batches whose write failed go first, in order, and while one still
  // fails the new batch waits behind it: a series' chunks reach the store
  // in time order, which is the order readers expect (stored chunks, then
  // pending ones). Only two writes failing and succeeding concurrently can
  // leave a newer chunk stored before an older pending one, until the next
  // request stores that one too.
  const bool blocked =
      store_ != nullptr && !WritePending(/*failed_only=*/true);
  if (sealed->empty()) return nullptr;
  auto batch = std::make_shared<SealedBatch>(std::move(*sealed));
  sealed->clear();
  batch->failed = blocked;
  pending_.push_back(batch);
  // Without a store (tests, benchmarks) sealed chunks stay in memory.
  return store_ != nullptr && !blocked ? batch : nullptr;
}

void Database::WritePublished(const std::shared_ptr<SealedBatch>& batch) {
  const std::vector<head::SealedChunk>& chunks = batch->chunks;
  Status s = store_->WriteChunks(chunks);
  std::unique_lock<WriterPreferringMutex> lock(mu_);
  // A checkpoint may have stored it meanwhile and dropped it already.
  auto it = std::find(pending_.begin(), pending_.end(), batch);
  if (it == pending_.end()) return;
  if (s.ok()) {
    pending_.erase(it);
  } else {
    batch->failed = true;
    log::Warn("store", "sealed chunks not stored yet; will retry",
              {{"chunks", chunks.size()}, {"err", s.message()}});
  }
}

Status Database::ReadSeries(
    uint64_t labels_hash, std::string_view labels,
    std::optional<ewma::Output> output, int64_t start_ms, int64_t end_ms,
    const std::function<Status(const store::ChunkView&)>& visit,
    store::ChunkReader* reader) {
  // The chunks not stored yet (pending and the open head) are taken as of
  // one moment under mu_, and the store is read after it: reading the store
  // under mu_ held writers up, and a remote read takes it once per series
  // (a reader-preferring lock let a long read starve them). Every chunk of
  // that moment is then in the store (it only gains chunks meanwhile) or in
  // the copies; one in both, stored or sealed since, is visited once, from
  // the store: chunks are keyed by their first timestamp, and a head sealed
  // since keeps its first one. A reader's iterator is as good as a new one
  // here: it is reopened if chunks were stored since it was opened, and a
  // chunk leaves pending_ only after it is stored.
  std::vector<std::shared_ptr<SealedBatch>> pending;
  head::HeadChunk head;
  bool has_head;
  {
    std::shared_lock<WriterPreferringMutex> lock(mu_);
    pending = pending_;
    has_head = head_->CopyHeadChunk(labels_hash, labels, output, &head);
  }
  std::vector<int64_t> stored_starts;
  if (store_ != nullptr) {
    Status s = store_->ReadChunks(labels_hash, output, start_ms, end_ms,
                                  [&](const store::ChunkView& c) {
                                    stored_starts.push_back(c.min_time_ms);
                                    return visit(c);
                                  },
                                  reader);
    if (!s.ok()) return s;
  }
  const auto stored = [&stored_starts](int64_t min_time_ms) {
    return std::find(stored_starts.begin(), stored_starts.end(),
                     min_time_ms) != stored_starts.end();
  };
  codec::XorChunkAppender derived(0);  // an output of a pending raw chunk
  for (const auto& batch : pending) {
    for (const head::SealedChunk& c : batch->chunks) {
      if (c.labels_hash != labels_hash || c.max_time_ms < start_ms ||
          c.min_time_ms > end_ms) {
        continue;
      }
      store::ChunkView view{c.min_time_ms, c.max_time_ms, c.bytes};
      if (output.has_value()) {
        // Sealed by this head from these parameters: cannot fail.
        (void)head::DeriveOutputChunk(c.derivation, c.bytes, *output,
                                      &derived);
        if (derived.num_samples() == 0) continue;
        view = store::ChunkView{derived.min_time(), derived.max_time(),
                                derived.bytes()};
        if (view.max_time_ms < start_ms || view.min_time_ms > end_ms) continue;
      }
      if (stored(view.min_time_ms)) continue;
      Status s = visit(view);
      if (!s.ok()) return s;
    }
  }
  if (has_head && !head.bytes.empty() && head.max_time_ms >= start_ms &&
      head.min_time_ms <= end_ms && !stored(head.min_time_ms)) {
    return visit(
        store::ChunkView{head.min_time_ms, head.max_time_ms, head.bytes});
  }
  return Status::Ok();
}

Status Database::DropIdleSeries(uint64_t* dropped) {
  std::lock_guard<std::mutex> no_checkpoint(checkpoint_mu_);
  DropIdleShardByShard(dropped);
  std::unique_lock<WriterPreferringMutex> lock(mu_);
  // What fails stays in memory, logged, and is tried again.
  (void)StoreUnstored(std::move(lock));
  return Status::Ok();
}

void Database::Reconfigure(const head::HeadOptions& options,
                           head::ReconfigureStats* stats) {
  std::lock_guard<std::mutex> no_checkpoint(checkpoint_mu_);
  std::unique_lock<WriterPreferringMutex> lock(mu_);
  std::vector<head::SealedChunk> sealed;
  std::vector<head::DroppedSeries> series;
  head_->Reconfigure(options, &sealed, &series, stats);
  KeepDropped(&sealed, &series);
  (void)StoreUnstored(std::move(lock));  // as DropIdleSeries
}

void Database::ChangeDerivedTargets(bool collect_derived,
                                    const std::function<void()>& change) {
  std::unique_lock<WriterPreferringMutex> lock(mu_);
  change();
  head_->SetCollectDerived(collect_derived);
}

void Database::DropIdleShardByShard(uint64_t* dropped) {
  *dropped = 0;
  std::vector<head::SealedChunk> sealed;
  std::vector<head::DroppedSeries> series;
  for (size_t shard = 0; shard < head::Head::kShardCount; ++shard) {
    if (faults_ != nullptr) faults_->BetweenSteps("drop idle series");
    // A shard's series leave the head and join pending_ and unrecorded_
    // under one hold of mu_, so that a read finds each in one place or the
    // other.
    std::unique_lock<WriterPreferringMutex> lock(mu_);
    *dropped += head_->DropIdleSeries(shard, &sealed, &series);
    KeepDropped(&sealed, &series);
  }
}

void Database::KeepDropped(std::vector<head::SealedChunk>* sealed,
                           std::vector<head::DroppedSeries>* series) {
  // With write-back, its queues may hold views of the dropped label sets
  // until they have delivered: Checkpoint releases them then.
  if (sink_ == nullptr || !sink_->HoldsLabelViews()) {
    head_->ReleaseRetiredLabels();
  }
  // Their chunks join pending_ (readable there until stored), and the
  // series unrecorded_: reads look for them there once the head no longer
  // knows them.
  if (!sealed->empty()) {
    pending_.push_back(std::make_shared<SealedBatch>(std::move(*sealed)));
    sealed->clear();
  }
  unrecorded_.insert(unrecorded_.end(),
                     std::make_move_iterator(series->begin()),
                     std::make_move_iterator(series->end()));
  series->clear();
}

Status Database::StoreUnstored(std::unique_lock<WriterPreferringMutex> lock) {
  // Without a store (tests, benchmarks) they stay in memory.
  if (store_ == nullptr) return Status::Ok();
  const std::vector<std::shared_ptr<SealedBatch>> batches = pending_;
  const std::vector<head::DroppedSeries> series = unrecorded_;
  lock.unlock();
  // In order, stopping at the first failure: a series' chunks reach the
  // store in time order (see PublishSealed).
  size_t stored = 0;
  Status chunks_status;
  for (const auto& batch : batches) {
    chunks_status = store_->WriteChunks(batch->chunks);
    if (!chunks_status.ok()) break;
    ++stored;
  }
  Status series_status;
  if (!series.empty()) {
    series_status = disk_->Check(DiskWrite::kMaintenance);
    if (series_status.ok()) series_status = store_->WriteDroppedSeries(series);
  }
  lock.lock();
  for (size_t i = 0; i < batches.size(); ++i) {
    // A request may have stored and dropped its own batch meanwhile.
    auto it = std::find(pending_.begin(), pending_.end(), batches[i]);
    if (it == pending_.end()) continue;
    if (i < stored) {
      pending_.erase(it);
    } else {
      (*it)->failed = true;
    }
  }
  if (series_status.ok()) {
    // Only a checkpoint, a drop or a reload adds to unrecorded_, each under
    // checkpoint_mu_, which the caller holds: its first entries are these.
    unrecorded_.erase(unrecorded_.begin(),
                      unrecorded_.begin() +
                          static_cast<std::ptrdiff_t>(series.size()));
  } else {
    log::Warn("store", "dropped series not recorded yet; will retry",
              {{"series", series.size()}, {"err", series_status.message()}});
  }
  if (!chunks_status.ok()) {
    log::Warn("store", "sealed chunks not stored yet; will retry",
              {{"chunks", batches[stored]->chunks.size()},
               {"err", chunks_status.message()}});
    return Status::Unavailable("sealed chunks cannot be stored");
  }
  if (!series_status.ok()) {
    return Status::Unavailable("dropped series cannot be recorded");
  }
  return Status::Ok();
}

Status Database::VisitDroppedSeries(
    const std::function<Status(const head::DroppedSeries&)>& visit,
    const store::MetricNames* metric_names) {
  // The records grow with every series dropped until retention: scanning
  // them under mu_ held every writer for the length of the scan, once per
  // remote read. Both sources are taken as of one moment under the lock
  // and read after it.
  std::vector<head::DroppedSeries> unrecorded;  // rarely any
  std::unique_ptr<store::DroppedSeriesView> recorded;
  {
    std::shared_lock<WriterPreferringMutex> lock(mu_);
    unrecorded = unrecorded_;
    if (store_ != nullptr) recorded = store_->ViewDroppedSeries();
  }
  for (const head::DroppedSeries& d : unrecorded) {
    Status s = visit(d);
    if (!s.ok()) return s;
  }
  if (recorded == nullptr) return Status::Ok();
  return metric_names != nullptr ? recorded->VisitSelected(*metric_names, visit)
                                 : recorded->Visit(visit);
}

Status Database::ApplyRetention(int64_t retention_ms) {
  if (store_ == nullptr) return Status::Ok();
  std::unique_lock<WriterPreferringMutex> lock(mu_);
  if (max_timestamp_ms_ == std::numeric_limits<int64_t>::min()) {
    return Status::Ok();
  }
  Status s = disk_->Check(DiskWrite::kMaintenance);
  if (!s.ok()) return s;
  // Buckets entirely before the cutoff go; the one holding it stays.
  return store_->DropBucketsBefore(head::BucketOf(
      max_timestamp_ms_ - retention_ms, head_->options().chunk_bucket_ms));
}

Status Database::Checkpoint(CheckpointStats* stats) {
  *stats = CheckpointStats();
  if (store_ == nullptr) return Status::Ok();
  const auto start = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> one_at_a_time(checkpoint_mu_);
  Status full = disk_->Check(DiskWrite::kCheckpoint);
  if (!full.ok()) return full;
  if (!recovered_.load(std::memory_order_acquire)) {
    return Status::Unavailable("no checkpoint before recovery has finished");
  }
  // Before the snapshots, so that they no longer hold the idle series, and
  // before the chunks are copied: their sealed heads must be stored too.
  DropIdleShardByShard(&stats->dropped_series);
  {
    std::unique_lock<WriterPreferringMutex> lock(mu_);
    // Every request up to here is in every snapshot taken from now on,
    // except for samples a gate holds still: the checkpoint then covers the
    // log only up to before the oldest record holding some, so that a
    // recovery replays them (the records after it again too, which the
    // head takes as duplicates).
    stats->seq = next_seq_ - 1;
    if (SeriesGate* gate = gate_.load(std::memory_order_acquire)) {
      const uint64_t oldest = gate->OldestUnappliedRecord();
      if (oldest != 0) stats->seq = std::min(stats->seq, oldest - 1);
    }
    // Chunks sealed by the requests the checkpoint covers must be stored
    // before it drops those requests from the log: they are all in
    // pending_ now, and are stored after the lock.
    Status stored = StoreUnstored(std::move(lock));
    if (!stored.ok()) {
      return Status::Unavailable(stored.message() + "; checkpoint postponed");
    }
  }
  // Without mu_: see the header for why a fuzzy checkpoint replays exactly.
  // A chunk sealed meanwhile may be sealed again by the replay; it is
  // written under the same key with the same bytes.
  std::string record;
  Status s = store_->WriteCheckpoint(
      stats->seq, [&](const std::function<Status(std::string_view)>& add) {
        Status status;
        head_->VisitSnapshots([&](const head::SeriesSnapshot& snapshot) {
          if (!status.ok()) return;
          YieldIfDue();
          record.clear();
          store::EncodeCheckpointRecord(snapshot, &record);
          stats->bytes += record.size();
          ++stats->series;
          status = add(record);
        });
        if (status.ok() && sink_ != nullptr) {
          // The snapshots may hold any request logged so far; their derived
          // samples will not be derived again after a crash, so they must
          // have reached the targets before this checkpoint counts.
          uint64_t last_seq;
          {
            std::shared_lock<WriterPreferringMutex> lock(mu_);
            last_seq = next_seq_ - 1;
          }
          if (sink_->WaitAcknowledged(
                  last_seq,
                  std::chrono::steady_clock::now() + checkpoint_ack_wait_)) {
            // No queue holds a view of a label set dropped before now.
            head_->ReleaseRetiredLabels();
          } else {
            status = Status::Unavailable(
                "write-back has not delivered up to log record " +
                std::to_string(last_seq) +
                "; checkpoint postponed (the log keeps the backlog)");
          }
        }
        return status;
      });
  // Only once the new checkpoint is in place does the log it covers go.
  if (s.ok()) s = log_->Truncate(stats->seq);
  stats->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return s;
}

Status Database::Recover(RecoveryStats* stats) {
  *stats = RecoveryStats();
  if (store_ == nullptr) return Status::Ok();
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<WriterPreferringMutex> lock(mu_);
  uint64_t checkpoint_seq = 0;
  head::SeriesSnapshot snapshot;
  std::vector<head::SealedChunk> sealed;
  Status restored =
      store_->ReadCheckpoint(&checkpoint_seq, [&](std::string_view record) {
        Status st = store::DecodeCheckpointRecord(record, &snapshot);
        if (st.ok()) st = head_->Restore(snapshot, &sealed);
        // Heads a configuration change closed (rarely any).
        if (st.ok() && !sealed.empty()) StoreSealed(&sealed);
        if (st.ok() && snapshot.state.count > 0) {
          max_timestamp_ms_ =
              std::max(max_timestamp_ms_, snapshot.state.last_sample_ms);
        }
        if (st.ok()) ++stats->checkpoint_series;
        return st;
      });
  if (!restored.ok()) return restored;
  next_seq_ = checkpoint_seq + 1;
  std::string decompressed;
  codec::DecodedWriteRequest decoded;
  head::Head::PreparedRequest prepared;
  head::ApplyResult result;
  ewma::SeriesHashes replay_series;
  Status s = log_->Replay(checkpoint_seq, [&](uint64_t seq,
                                             std::string_view body) {
    // The body passed these steps when it was logged; failing now means
    // the record changed on disk (its checksum matched, so it was
    // written that way) or the code changed incompatibly.
    Status st = codec::DecompressSnappyBlock(
        body, std::numeric_limits<size_t>::max(), &decompressed);
    if (st.ok()) st = codec::DecodeWriteRequest(decompressed, &decoded);
    if (st.ok()) st = head_->Prepare(decoded, &prepared);
    if (!st.ok()) {
      return Status::Corruption("request log record " + std::to_string(seq) +
                                " no longer applies: " + st.message());
    }
    head_->Commit(decoded, &prepared, &result);
    if (sink_ != nullptr) {
      // Every record, even one without outputs, so that the sink's
      // acknowledgements cover the whole log.
      // Re-derived samples the targets may not have: send them again. The
      // replay cannot refuse a record, so it waits for room.
      replay_series.clear();
      for (const ewma::EmittedDerived& d : result.derived) {
        replay_series.push_back(d.labels_hash);
      }
      while (!sink_->WaitForRoom(replay_series,
                                 std::chrono::steady_clock::now() +
                                     std::chrono::seconds(10))) {
        if (sink_->stopped()) {
          return Status::Unavailable(
              "write-back stopped during recovery, at log record " +
              std::to_string(seq));
        }
        log::Warn("recovery", "waiting for write-back room",
                  {{"log_seq", seq}});
      }
      sink_->Push(seq, result.derived);
    }
    StoreSealed(&result.sealed);
    max_timestamp_ms_ = std::max(max_timestamp_ms_, result.max_timestamp_ms);
    ++stats->requests;
    stats->samples += result.received;
    next_seq_ = seq + 1;
    return Status::Ok();
  });
  stats->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (s.ok()) recovered_.store(true, std::memory_order_release);
  return s;
}

}  // namespace promewma::db
