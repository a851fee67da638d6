// Store: the chunks and checkpoints of promewma's database, in a RocksDB
// database under --data-dir (the request log beside it is
// wal/request_log.h; db/database.h ties them together).
//
// Column families and record formats
// ----------------------------------
//   chunks: key  = bucket      8 bytes big-endian, sign bit flipped
//                  series      8 bytes big-endian (label-set hash of the
//                              input series)
//                  min_time    8 bytes big-endian, sign bit flipped
//          value = u32 little-endian CRC-32C of the rest of the value
//                  max_time    8 bytes little-endian
//                  derivation: u8 version (3), the series' parameters and
//                              its state before the chunk
//                              (store/record_fields.h)
//                  XOR chunk   (codec/xor_chunk.h) of the raw samples
//          Keys sort by bucket first, so retention deletes one key range per
//          expired bucket; a chunk never spans two buckets (the head seals
//          head chunks at bucket ends, head/time_bucket.h).
//          Outputs (NAME:ewma, ...) are not stored: ReadChunks derives them
//          from the raw chunk and its derivation, the way they were
//          derived when the samples arrived (head/chunk_derivation.h).
//          Storing them would triple what each sample costs to write, flush
//          and compact.
//
//   checkpoint: key = generation (8 bytes BE) + record number (8 bytes BE)
//               value = a checkpoint record (store/checkpoint_record.h)
//   default:    "checkpoint" -> generation (u64 LE) + covered seq (u64 LE)
//   default:    "dropped/" + metric name + NUL + series (8 bytes BE) -> a
//          series dropped from the head (head.h DropIdleSeries), whose
//          chunks are still stored: u32 LE CRC-32C of the rest, u8 outputs
//          mask, newest sample timestamp (8 bytes LE), canonical labels.
//          Reads find its history through it; retention deletes it with
//          its last bucket. The name comes first so that a read of one
//          metric (__name__="...") scans that metric's records, not all of
//          them: with series churning they are every series dropped until
//          retention, and scanning them all was most of a soak read's CPU
//          late in the run. Records of the layout before ("series/" +
//          series) are still read, whatever the name, and expire as these
//          do; none are written.
//          A checkpoint is written under a new generation, then the
//          "checkpoint" key switches to it in a synced write, and only then
//          is the old generation deleted. A crash at any point leaves either
//          the old or the new checkpoint complete; the database deletes the
//          log segments a checkpoint covers only after the switch.
//
// RocksDB checksums its own WAL records and table blocks; the CRCs in chunk
// values are ours end to end, so a flipped byte anywhere between our write
// and our read is reported instead of being used.
//
// Thread-safety: all methods are thread-safe.

#ifndef PROMEWMA_STORE_STORE_H_
#define PROMEWMA_STORE_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fault_injector.h"
#include "ewma/estimator_params.h"
#include "head/head.h"
#include "head/time_bucket.h"
#include "promewma/status.h"

namespace rocksdb {
class Slice;
}  // namespace rocksdb

namespace promewma::store {

// A chunk read back; valid during the visit only.
struct ChunkView {
  int64_t min_time_ms;
  int64_t max_time_ms;
  std::string_view bytes;  // Prometheus XOR chunk
};

struct StoreOptions {
  std::string dir;
  int64_t chunk_bucket_ms = head::kDefaultChunkBucketMs;
  FaultInjector* faults = nullptr;  // not owned; may be null
  // RocksDB's memory, both parts in one LRU cache of their sum (see
  // Store::Open): the memtables of all column families together, charged
  // to the cache by a write buffer manager, and the table blocks read back
  // (index and filter blocks; data blocks with cache_reads).
  size_t memtable_bytes = kDefaultMemtableBytes;
  size_t block_cache_bytes = kDefaultBlockCacheBytes;
  // Whether ReadChunks puts the data blocks it reads in the block cache.
  // Off: they come from the kernel's page cache, as Prometheus' chunks come
  // from its mmapped files (see ScanOptions in store.cc for why).
  bool cache_reads = false;

  static constexpr size_t kDefaultMemtableBytes = 64 << 20;
  static constexpr size_t kDefaultBlockCacheBytes = 8 << 20;
};

// RocksDB's memory as RocksDB counts it.
struct StoreMemory {
  uint64_t memtables = 0;      // all column families' memtables
  uint64_t block_cache = 0;    // table blocks in the cache (memtables apart)
  uint64_t table_readers = 0;  // open table files' readers outside the cache
};

// The dropped-series records a read looks at, by metric name: those of
// series named one of `names`, and those whose name starts with one of
// `name_prefixes` (a regex matcher's literal prefix).
struct MetricNames {
  std::vector<std::string> names;
  std::vector<std::string> name_prefixes;
};

// A point-in-time view of the dropped-series records (a RocksDB iterator,
// which reads the database as it was when taken). See
// Store::ViewDroppedSeries.
class DroppedSeriesView {
 public:
  ~DroppedSeriesView();
  DroppedSeriesView(const DroppedSeriesView&) = delete;
  DroppedSeriesView& operator=(const DroppedSeriesView&) = delete;

  // Calls `visit` for every record in the view, once; a record failing its
  // checksum is Corruption naming its key.
  Status Visit(const std::function<Status(const head::DroppedSeries&)>& visit);
  // The same, for the records of series named one of `metric_names` only
  // (and any of the layout before, which are not found by name).
  Status VisitNamed(
      const std::vector<std::string>& metric_names,
      const std::function<Status(const head::DroppedSeries&)>& visit);
  // The same, for the records `names` selects (and any of the layout
  // before).
  Status VisitSelected(
      const MetricNames& names,
      const std::function<Status(const head::DroppedSeries&)>& visit);

 private:
  friend class Store;
  // With the record's key; every record when `names` is null.
  Status VisitKeyed(
      const MetricNames* names,
      const std::function<Status(const rocksdb::Slice& key,
                                 const head::DroppedSeries&)>& visit);
  struct Impl;
  explicit DroppedSeriesView(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What a caller reading many series in a row (a remote read) keeps from
// one ReadChunks call to the next: the RocksDB iterator. Opening one per
// series took 18% of promewma's CPU in a profile of the soak. It is opened
// again only when chunks have been stored since, so a read still sees
// every chunk stored before it copied what is not stored yet (see
// Database::ReadSeries). One per thread; it holds RocksDB's files of the
// moment it was opened until it is destroyed or reopened.
class ChunkReader {
 public:
  ChunkReader();
  ~ChunkReader();
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

 private:
  friend class Store;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Store {
 public:
  // Opens (creating when missing) the database in options.dir. Fails with a
  // one-line message when the directory is unusable or already in use by
  // another process.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Stores sealed chunks with their derivations (idempotent: the same chunk
  // under the same key). They skip RocksDB's WAL: until a checkpoint, the
  // request log rebuilds them after a crash.
  Status WriteChunks(const std::vector<head::SealedChunk>& chunks);

  // Calls `visit` for each stored chunk of input series `series` whose time
  // range overlaps [start_ms, end_ms], in time order: the raw chunks, or
  // with `output` set the chunks of that output derived from them. A chunk
  // failing its checksum, or whose derivation does not replay, is
  // Corruption naming its key, never passed on.
  // With a `reader`, its iterator is used, opened again first if chunks
  // were stored since it was opened.
  Status ReadChunks(uint64_t series, std::optional<ewma::Output> output,
                    int64_t start_ms, int64_t end_ms,
                    const std::function<Status(const ChunkView&)>& visit,
                    ChunkReader* reader = nullptr);

  // Deletes every stored chunk in buckets before `bucket` (retention), and
  // the dropped-series records whose newest sample is before it.
  Status DropBucketsBefore(int64_t bucket);

  // Records series the head dropped (the "series/" keys above), so that
  // VisitDroppedSeries finds their stored chunks; one synced-by-RocksDB's-
  // WAL write. A series recorded again replaces its record.
  Status WriteDroppedSeries(const std::vector<head::DroppedSeries>& series);
  // Calls `visit` for every recorded dropped series. A record failing its
  // checksum is Corruption naming its key.
  Status VisitDroppedSeries(
      const std::function<Status(const head::DroppedSeries&)>& visit);
  // The dropped-series records as they are now, to be visited later: taking
  // the view is cheap, so a caller can take it under its own lock and scan
  // after releasing it (the scan grows with every series dropped until
  // retention). Valid while the store is open.
  std::unique_ptr<DroppedSeriesView> ViewDroppedSeries();

  // Writes a checkpoint in the steps described above. `produce` calls `add`
  // once per record. `seq` is the last log record the checkpoint covers.
  // Stored chunks are flushed to table files before the switch, since the
  // log that would rebuild them goes next.
  Status WriteCheckpoint(
      uint64_t seq,
      const std::function<
          Status(const std::function<Status(std::string_view)>& add)>& produce);

  // Calls `visit` for every record of the current checkpoint and sets *seq
  // to the log record it covers (0 and no visits when there is none).
  Status ReadCheckpoint(uint64_t* seq,
                        const std::function<Status(std::string_view)>& visit);

  const StoreOptions& options() const { return options_; }

  // What RocksDB holds in memory now.
  StoreMemory Memory() const;

  // Flips one byte of the stored value of every chunk of `series` (tests).
  Status CorruptChunksForTest(uint64_t series, size_t offset);
  // Records `series` in the layout before metric names were in the keys,
  // as an older promewma did.
  Status WriteLegacyDroppedSeriesForTest(
      const std::vector<head::DroppedSeries>& series);

 private:
  class Impl;
  explicit Store(const StoreOptions& options, std::unique_ptr<Impl> impl);

  const StoreOptions options_;
  std::unique_ptr<Impl> impl_;
  // WriteChunks calls that succeeded; a ChunkReader opened before the
  // last one reopens its iterator.
  std::atomic<uint64_t> chunk_writes_{0};
};

}  // namespace promewma::store

#endif  // PROMEWMA_STORE_STORE_H_
