#include "store/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <tuple>
#include <vector>

#include "codec/crc32c.h"
#include "common/coding.h"
#include "head/chunk_derivation.h"
#include "model/labels.h"
#include "store/record_fields.h"

namespace promewma::store {
namespace {

constexpr char kChunksFamily[] = "chunks";
constexpr char kCheckpointFamily[] = "checkpoint";
constexpr char kCheckpointMetaKey[] = "checkpoint";
// Dropped-series records, keyed by metric name first (see store.h).
constexpr char kDroppedSeriesPrefix[] = "dropped/";
// The records of the layout before: keyed by series alone. Still read
// (and deleted by retention), never written.
constexpr char kLegacyDroppedSeriesPrefix[] = "series/";
// A checkpoint is written in batches of about this size: small enough
// that each RocksDB write, which cannot yield (common/thread_role.h),
// holds the checkpoint's core for a short while (4 MiB: milliseconds);
// large enough that the writes' own cost stays small.
constexpr size_t kCheckpointBatchBytes = 512 << 10;
constexpr size_t kChunkKeySize = 8 + 8 + 8;
constexpr size_t kSeriesPrefixSize = 8 + 8;  // bucket + series
constexpr size_t kChunkValueHeader = 4 + 8;  // CRC-32C + max_time
constexpr uint8_t kDerivationVersion = kRecordFieldsVersion;

// Checkpoint keys: generation, then record number, both big-endian so that
// a generation's records are one key range in order.
std::string SeqKey(uint64_t seq) {
  std::string key;
  PutBigEndian64(&key, seq);
  return key;
}

std::string ChunkKey(int64_t bucket, uint64_t series, int64_t min_time) {
  std::string key;
  key.reserve(kChunkKeySize);
  PutOrderedInt64(&key, bucket);
  PutBigEndian64(&key, series);
  PutOrderedInt64(&key, min_time);
  return key;
}

std::string HexKey(const rocksdb::Slice& key) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    out.push_back(kHex[static_cast<uint8_t>(key[i]) >> 4]);
    out.push_back(kHex[static_cast<uint8_t>(key[i]) & 0xf]);
  }
  return out;
}

void EncodeDerivation(const head::ChunkDerivation& d, std::string* out) {
  PutFixed<uint8_t>(out, kDerivationVersion);
  PutParamsFields(out, d.params);
  PutStateFields(out, d.start, d.params.season_slots);
}

// Decodes the derivation at the front of *value and drops it from there.
bool DecodeDerivation(std::string_view* value, head::ChunkDerivation* d) {
  FieldReader r(*value);
  // Versions 1 and 2 predate the spread, transform and season fields.
  const uint8_t version = r.Get<uint8_t>();
  if (version < 1 || version > kDerivationVersion) return false;
  r.GetParams(&d->params, version);
  r.GetState(&d->start, version);
  if (!r.ok()) return false;
  *value = r.rest();
  return true;
}

// Steps over a stored chunk's derivation to its samples, for a read of the
// raw series, checking its fields as DecodeDerivation does but not
// decoding the state's season profile: with a season, decoding it (an
// allocation and 96 slots a chunk) was 13% of such a read.
bool SkipDerivation(std::string_view* value) {
  FieldReader r(*value);
  const uint8_t version = r.Get<uint8_t>();
  if (version < 1 || version > kDerivationVersion) return false;
  ewma::EstimatorParams params;
  r.GetParams(&params, version);
  r.SkipState(version);
  if (!r.ok()) return false;
  *value = r.rest();
  return true;
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNoSpace() || s.IsIOError() || s.IsBusy() || s.IsTimedOut())
    return Status::Unavailable(msg);
  return Status::Internal(msg);
}

}  // namespace

namespace {

struct CheckpointMeta {
  uint64_t generation = 0;
  uint64_t seq = 0;
};

// Names never hold a NUL (model::IsValidMetricName), so the records of
// one name are exactly the keys starting with NamedPrefix(name).
std::string NamedPrefix(std::string_view metric_name) {
  std::string key = kDroppedSeriesPrefix;
  key.append(metric_name);
  key.push_back('\0');
  return key;
}

std::string DroppedSeriesKey(std::string_view metric_name, uint64_t series) {
  std::string key = NamedPrefix(metric_name);
  PutBigEndian64(&key, series);
  return key;
}

std::string LegacyDroppedSeriesKey(uint64_t series) {
  std::string key = kLegacyDroppedSeriesPrefix;
  PutBigEndian64(&key, series);
  return key;
}

// Whether `key`, under `prefix`, is a well-formed record key; sets
// *series from its last 8 bytes.
bool ParseDroppedSeriesKey(const rocksdb::Slice& key, std::string_view prefix,
                           uint64_t* series) {
  const bool legacy = prefix == kLegacyDroppedSeriesPrefix;
  if (legacy ? key.size() != prefix.size() + 8
             : key.size() < prefix.size() + 1 + 8 ||
                   key[key.size() - 9] != '\0') {
    return false;
  }
  *series = DecodeBigEndian64(key.data() + key.size() - 8);
  return true;
}

// Options for reading a range through: chunks for a remote read, the
// checkpoint at start. Their data blocks are put in the block cache only
// with `cache` (StoreOptions::cache_reads; never for the checkpoint, read
// once). A scan larger than the cache (an hour of 10,000 series is 30 MB
// of blocks, the default cache 8 MiB) gains nothing from an LRU cache:
// every block it inserts evicts one it inserted before. And each insert
// and eviction is a 4 KiB malloc and free among long-lived objects: with
// reads running all the time, the holes left added 60-90 MB of free heap
// no trim could give back, and the read itself was slower (an hour of
// 10,000 series from table files: 4.0-4.5 s with the cache filled,
// 2.6-3.3 s without). The blocks come from the kernel's page cache
// instead, as Prometheus' chunks do from its mmapped files.
rocksdb::ReadOptions ScanOptions(bool cache) {
  rocksdb::ReadOptions options;
  options.fill_cache = cache;
  return options;
}

Status ReadMeta(rocksdb::DB* db, CheckpointMeta* meta) {
  std::string v;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kCheckpointMetaKey, &v);
  if (s.IsNotFound()) {
    *meta = CheckpointMeta();
    return Status::Ok();
  }
  if (!s.ok()) return FromRocks(s, "reading the checkpoint pointer");
  if (v.size() != 16) {
    return Status::Corruption("checkpoint pointer has " +
                              std::to_string(v.size()) + " bytes, want 16");
  }
  meta->generation = DecodeFixed64(v.data());
  meta->seq = DecodeFixed64(v.data() + 8);
  return Status::Ok();
}

}  // namespace

class Store::Impl {
 public:
  ~Impl() {
    for (rocksdb::ColumnFamilyHandle* h : handles_)
      db_->DestroyColumnFamilyHandle(h);
    delete db_;
  }

  rocksdb::DB* db_ = nullptr;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* chunks_ = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoint_ = nullptr;
};

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return Status::Unavailable("data dir " + options.dir +
                               ": cannot create: " + ec.message());
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Our logs are for operators; RocksDB's own go to its LOG file in the dir.
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 3;
  auto impl = std::make_unique<Impl>();
  // One bound for all of RocksDB's memory: a single LRU cache of
  // memtable_bytes + block_cache_bytes. The write buffer manager charges
  // every memtable to it (the blocks read back are evicted to make room)
  // and flushes the largest memtable once they reach memtable_bytes, so
  // memtables never take the cache over that. Without it each family
  // has its own budget and RocksDB's default (64 MiB, two per family, three
  // families) could hold 384 MiB. Everything written here is read back
  // rarely (chunks by remote reads, checkpoints at start), so small
  // memtables flushed early cost little. Not strict: a read never fails for
  // want of cache; the block-based tables' own default would be a separate
  // 8 MiB cache per family.
  impl->cache_ = rocksdb::NewLRUCache(
      options.memtable_bytes + options.block_cache_bytes);
  impl->write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(
      options.memtable_bytes, impl->cache_);
  db_options.write_buffer_manager = impl->write_buffers_;
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = impl->cache_;
  // Index and filter blocks in the cache too, so that open table files
  // (kept open: max_open_files -1) do not add memory outside the bound as
  // the data grows; the level-0 ones, read most, stay pinned there.
  table_options.cache_index_and_filter_blocks = true;
  table_options.pin_l0_filter_and_index_blocks_in_cache = true;
  rocksdb::ColumnFamilyOptions family_options;
  family_options.table_factory.reset(
      rocksdb::NewBlockBasedTableFactory(table_options));
  family_options.write_buffer_size = options.memtable_bytes / 3;
  family_options.max_write_buffer_number = 2;

  rocksdb::ColumnFamilyOptions chunk_options = family_options;
  // XOR chunks of full-precision values do not shrink under snappy (65.7 MB
  // in, 65.3 MB out in a benchmark's compaction), and compressing them on
  // every flush and compaction cost ~10% of RocksDB's background CPU.
  chunk_options.compression = rocksdb::kNoCompression;
  // Every memtable flush of chunks overlaps the current time bucket whole
  // (keys are bucket, then series), so each level-0 compaction rewrites
  // the bucket's data in level 1 again. Waiting for 8 files instead of 4
  // halves how often: compaction CPU per ingested sample fell from 0.090
  // to 0.057 us in the ingest benchmark. A read may look into up to 8
  // level-0 files instead of 4; each is skipped by its key range unless it
  // holds the bucket.
  chunk_options.level0_file_num_compaction_trigger = 8;
  // WriteChunks inserts in key order: within a bucket (the 8-byte key
  // prefix), start looking where the previous insert went.
  chunk_options.memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewFixedPrefixTransform(8));
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, family_options},
      {kChunksFamily, chunk_options},
      {kCheckpointFamily, family_options},
  };
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.dir, families,
                                        &impl->handles_, &impl->db_);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Status::Unavailable("data dir " + options.dir +
                                 " is in use by another process (" +
                                 s.ToString() + ")");
    }
    return FromRocks(s, "data dir " + options.dir);
  }
  impl->chunks_ = impl->handles_[1];
  impl->checkpoint_ = impl->handles_[2];

  return std::unique_ptr<Store>(new Store(options, std::move(impl)));
}

Store::Store(const StoreOptions& options, std::unique_ptr<Impl> impl)
    : options_(options), impl_(std::move(impl)) {}

Store::~Store() = default;

Status Store::WriteChunks(const std::vector<head::SealedChunk>& chunks) {
  if (chunks.empty()) return Status::Ok();
  if (options_.faults != nullptr) {
    Status s = options_.faults->BeforeWrite("chunks");
    if (!s.ok()) return s;
  }
  // In key order, so that the memtable's insert hint (set at Open) finds
  // each chunk's place from the previous one's: ~10% less CPU for the
  // hundreds of chunks a request seals when heads fill together.
  struct Keyed {
    int64_t bucket;
    const head::SealedChunk* chunk;
  };
  std::vector<Keyed> order;
  order.reserve(chunks.size());
  for (const head::SealedChunk& c : chunks) {
    order.push_back({head::BucketOf(c.min_time_ms, options_.chunk_bucket_ms),
                     &c});
  }
  std::sort(order.begin(), order.end(), [](const Keyed& a, const Keyed& b) {
    return std::tie(a.bucket, a.chunk->labels_hash, a.chunk->min_time_ms) <
           std::tie(b.bucket, b.chunk->labels_hash, b.chunk->min_time_ms);
  });
  rocksdb::WriteBatch batch;
  std::string derivation;
  for (const Keyed& k : order) {
    const head::SealedChunk& c = *k.chunk;
    char header[kChunkValueHeader];
    EncodeFixed<int64_t>(&header[4], c.max_time_ms);
    derivation.clear();
    EncodeDerivation(c.derivation, &derivation);
    const uint32_t crc = codec::Crc32c(
        c.bytes, codec::Crc32c(derivation,
                               codec::Crc32c(std::string_view(&header[4], 8))));
    EncodeFixed32(&header[0], crc);
    const std::string key = ChunkKey(k.bucket, c.labels_hash, c.min_time_ms);
    const rocksdb::Slice key_slice(key);
    const rocksdb::Slice value_parts[3] = {
        rocksdb::Slice(header, kChunkValueHeader),
        rocksdb::Slice(derivation.data(), derivation.size()),
        rocksdb::Slice(c.bytes.data(), c.bytes.size())};
    batch.Put(impl_->chunks_, rocksdb::SliceParts(&key_slice, 1),
              rocksdb::SliceParts(value_parts, 3));
  }
  // Chunks are derived from the log: after a crash the replay writes them
  // again, so they skip RocksDB's WAL, until a checkpoint drops the log
  // that derived them; it flushes them to table files first.
  rocksdb::WriteOptions no_wal;
  no_wal.disableWAL = true;
  Status s = FromRocks(impl_->db_->Write(no_wal, &batch), "writing chunks");
  // After the write (release): a reader that sees the new count opens an
  // iterator that holds these chunks.
  if (s.ok()) chunk_writes_.fetch_add(1, std::memory_order_release);
  return s;
}

struct ChunkReader::Impl {
  std::unique_ptr<rocksdb::Iterator> it;
  uint64_t chunk_writes = 0;  // the store's count when `it` was opened
};

ChunkReader::ChunkReader() : impl_(std::make_unique<Impl>()) {}
ChunkReader::~ChunkReader() = default;

Status Store::ReadChunks(uint64_t series, std::optional<ewma::Output> output,
                         int64_t start_ms, int64_t end_ms,
                         const std::function<Status(const ChunkView&)>& visit,
                         ChunkReader* reader) {
  if (options_.faults != nullptr) options_.faults->BeforeRead("chunks");
  std::unique_ptr<rocksdb::Iterator> own;
  rocksdb::Iterator* it;
  if (reader == nullptr) {
    own.reset(impl_->db_->NewIterator(ScanOptions(options_.cache_reads),
                                      impl_->chunks_));
    it = own.get();
  } else {
    // The count before the iterator: chunks stored after this load are
    // counted later and make the next call reopen it.
    const uint64_t writes = chunk_writes_.load(std::memory_order_acquire);
    ChunkReader::Impl& r = *reader->impl_;
    if (r.it == nullptr || r.chunk_writes != writes) {
      r.it.reset();  // its files go before the new one is opened
      r.it.reset(impl_->db_->NewIterator(ScanOptions(options_.cache_reads),
                                         impl_->chunks_));
      r.chunk_writes = writes;
    }
    it = r.it.get();
  }
  const int64_t first_bucket = head::BucketOf(start_ms, options_.chunk_bucket_ms);
  const int64_t last_bucket = head::BucketOf(end_ms, options_.chunk_bucket_ms);
  head::ChunkDerivation derivation;
  codec::XorChunkAppender derived(0);  // an output of a raw chunk
  // Visit only buckets that exist: a query from 0 to "now" spans hundreds
  // of thousands of empty buckets, and one with end = INT64_MAX billions.
  // After a bucket, a seek lands on the next existing key; its bucket is
  // where to look next.
  for (int64_t bucket = first_bucket; bucket <= last_bucket;) {
    const std::string prefix =
        ChunkKey(bucket, series, 0).substr(0, kSeriesPrefixSize);
    it->Seek(prefix);
    if (!it->Valid()) break;
    const int64_t found = DecodeOrderedInt64(it->key().data());
    if (found > bucket) {
      bucket = found;
      continue;
    }
    for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const rocksdb::Slice v = it->value();
      if (it->key().size() != kChunkKeySize || v.size() < kChunkValueHeader) {
        return Status::Corruption("chunk " + HexKey(it->key()) +
                                  ": malformed record");
      }
      std::string_view rest(v.data() + 4, v.size() - 4);
      if (codec::Crc32c(rest) != DecodeFixed32(v.data())) {
        return Status::Corruption("chunk " + HexKey(it->key()) +
                                  ": checksum mismatch in " + options_.dir);
      }
      ChunkView chunk;
      chunk.min_time_ms =
          DecodeOrderedInt64(it->key().data() + kSeriesPrefixSize);
      chunk.max_time_ms = DecodeFixed<int64_t>(rest.data());
      chunk.bytes = rest.substr(8);
      if (chunk.min_time_ms > end_ms) break;
      if (chunk.max_time_ms < start_ms) continue;
      if (!(output.has_value() ? DecodeDerivation(&chunk.bytes, &derivation)
                               : SkipDerivation(&chunk.bytes))) {
        return Status::Corruption("chunk " + HexKey(it->key()) +
                                  ": malformed derivation");
      }
      if (output.has_value()) {
        Status s = head::DeriveOutputChunk(derivation, chunk.bytes, *output,
                                           &derived);
        if (!s.ok()) {
          return Status::Corruption("chunk " + HexKey(it->key()) + ": " +
                                    s.message());
        }
        if (derived.num_samples() == 0) continue;
        chunk = ChunkView{derived.min_time(), derived.max_time(),
                          derived.bytes()};
        if (chunk.max_time_ms < start_ms || chunk.min_time_ms > end_ms) {
          continue;
        }
      }
      Status s = visit(chunk);
      if (!s.ok()) return s;
    }
    Status s = FromRocks(it->status(), "reading chunks");
    if (!s.ok()) return s;
    if (bucket == last_bucket) break;  // also guards the increment
    ++bucket;
  }
  return FromRocks(it->status(), "reading chunks");
}

Status Store::CorruptChunksForTest(uint64_t series, size_t offset) {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(rocksdb::ReadOptions(), impl_->chunks_));
  std::vector<std::pair<std::string, std::string>> rewrites;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.size() != kChunkKeySize || DecodeBigEndian64(k.data() + 8) != series)
      continue;
    std::string v = it->value().ToString();
    v[offset % v.size()] ^= 0x10;
    rewrites.push_back({k.ToString(), v});
  }
  for (const auto& [k, v] : rewrites) {
    rocksdb::Status s =
        impl_->db_->Put(rocksdb::WriteOptions(), impl_->chunks_, k, v);
    if (!s.ok()) return FromRocks(s, "test corruption");
  }
  chunk_writes_.fetch_add(1, std::memory_order_release);
  return Status::Ok();
}

Status Store::WriteCheckpoint(
    uint64_t seq,
    const std::function<Status(const std::function<Status(std::string_view)>&)>&
        produce) {
  if (options_.faults != nullptr) {
    Status s = options_.faults->BeforeWrite("checkpoint");
    if (!s.ok()) return s;
  }
  CheckpointMeta old;
  Status s = ReadMeta(impl_->db_, &old);
  if (!s.ok()) return s;
  const uint64_t generation = old.generation + 1;
  // Leftovers of a checkpoint that crashed half-way under this generation.
  s = FromRocks(
      impl_->db_->DeleteRange(rocksdb::WriteOptions(), impl_->checkpoint_,
                              SeqKey(generation), SeqKey(generation + 1)),
      "clearing a stale checkpoint");
  if (!s.ok()) return s;

  rocksdb::WriteBatch batch;
  uint64_t record = 0;
  auto flush = [&]() -> Status {
    if (batch.Count() == 0) return Status::Ok();
    Status w = FromRocks(impl_->db_->Write(rocksdb::WriteOptions(), &batch),
                         "writing the checkpoint");
    batch.Clear();
    return w;
  };
  s = produce([&](std::string_view value) -> Status {
    batch.Put(impl_->checkpoint_, SeqKey(generation) + SeqKey(record++),
              rocksdb::Slice(value.data(), value.size()));
    return batch.GetDataSize() >= kCheckpointBatchBytes ? flush()
                                                        : Status::Ok();
  });
  if (s.ok()) s = flush();
  if (!s.ok()) return s;
  if (options_.faults != nullptr) {
    s = options_.faults->BeforeWrite("checkpoint pointer");
    if (!s.ok()) return s;
  }

  // Chunks skip the WAL: the log records that would rebuild them are about
  // to go, so they must be in table files first.
  rocksdb::FlushOptions wait;
  wait.wait = true;
  wait.allow_write_stall = true;
  s = FromRocks(impl_->db_->Flush(wait, impl_->chunks_), "flushing chunks");
  if (!s.ok()) return s;

  // The switch: synced, so everything written to the WAL before it (the
  // checkpoint's records) is on stable storage too (the WAL is one
  // sequential file).
  std::string pointer;
  PutFixed<uint64_t>(&pointer, generation);
  PutFixed<uint64_t>(&pointer, seq);
  rocksdb::WriteOptions synced;
  synced.sync = true;
  s = FromRocks(impl_->db_->Put(synced, kCheckpointMetaKey, pointer),
                "switching to the new checkpoint");
  if (!s.ok()) return s;

  // Only now is the old state garbage.
  s = FromRocks(
      impl_->db_->DeleteRange(rocksdb::WriteOptions(), impl_->checkpoint_,
                              SeqKey(0), SeqKey(generation)),
      "deleting the checkpoint this one replaced");
  return s;
}

Status Store::ReadCheckpoint(
    uint64_t* seq, const std::function<Status(std::string_view)>& visit) {
  CheckpointMeta meta;
  Status s = ReadMeta(impl_->db_, &meta);
  if (!s.ok()) return s;
  *seq = meta.seq;
  if (meta.generation == 0) return Status::Ok();
  rocksdb::ReadOptions read_options = ScanOptions(/*cache=*/false);
  read_options.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(read_options, impl_->checkpoint_));
  const std::string prefix = SeqKey(meta.generation);
  uint64_t n = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next(), ++n) {
    s = visit(std::string_view(it->value().data(), it->value().size()));
    if (s.code() == StatusCode::kCorruption) {
      return Status::Corruption("checkpoint " +
                                std::to_string(meta.generation) + " record " +
                                std::to_string(n) + ": " + s.message());
    }
    if (!s.ok()) return s;
  }
  return FromRocks(it->status(), "reading the checkpoint");
}

StoreMemory Store::Memory() const {
  StoreMemory m;
  uint64_t v = 0;
  if (impl_->db_->GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables",
                                           &v)) {
    m.memtables = v;
  }
  if (impl_->db_->GetAggregatedIntProperty(
          "rocksdb.estimate-table-readers-mem", &v)) {
    m.table_readers = v;
  }
  // The cache holds the memtables' reservations beside the blocks.
  const uint64_t cached = impl_->cache_->GetUsage();
  const uint64_t reserved = impl_->write_buffers_->memory_usage();
  m.block_cache = cached > reserved ? cached - reserved : 0;
  return m;
}

Status Store::DropBucketsBefore(int64_t bucket) {
  std::string begin, end;
  PutOrderedInt64(&begin, std::numeric_limits<int64_t>::min());
  PutOrderedInt64(&end, bucket);
  Status s = FromRocks(impl_->db_->DeleteRange(rocksdb::WriteOptions(),
                                               impl_->chunks_, begin, end),
                       "deleting expired chunks");
  if (!s.ok()) return s;
  // Dropped series whose last chunk went with those buckets.
  const int64_t cutoff_ms = bucket * options_.chunk_bucket_ms;
  rocksdb::WriteBatch expired;
  s = ViewDroppedSeries()->VisitKeyed(
      nullptr, [&](const rocksdb::Slice& key, const head::DroppedSeries& d) {
        if (d.last_timestamp_ms < cutoff_ms) expired.Delete(key);
        return Status::Ok();
      });
  if (!s.ok() || expired.Count() == 0) return s;
  return FromRocks(impl_->db_->Write(rocksdb::WriteOptions(), &expired),
                   "deleting expired dropped-series records");
}

namespace {

// The value of a dropped-series record (the same in both layouts).
void EncodeDroppedSeries(const head::DroppedSeries& d, std::string* value) {
  value->assign(4, '\0');
  PutFixed<uint8_t>(value, d.outputs);
  PutFixed<int64_t>(value, d.last_timestamp_ms);
  *value += d.labels;
  EncodeFixed32(value->data(),
                codec::Crc32c(std::string_view(*value).substr(4)));
}

}  // namespace

Status Store::WriteDroppedSeries(
    const std::vector<head::DroppedSeries>& series) {
  if (series.empty()) return Status::Ok();
  rocksdb::WriteBatch batch;
  std::string value;
  for (const head::DroppedSeries& d : series) {
    EncodeDroppedSeries(d, &value);
    batch.Put(DroppedSeriesKey(model::LabelSetView(d.labels).MetricName(),
                               d.labels_hash),
              value);
  }
  return FromRocks(impl_->db_->Write(rocksdb::WriteOptions(), &batch),
                   "recording dropped series");
}

Status Store::WriteLegacyDroppedSeriesForTest(
    const std::vector<head::DroppedSeries>& series) {
  rocksdb::WriteBatch batch;
  std::string value;
  for (const head::DroppedSeries& d : series) {
    EncodeDroppedSeries(d, &value);
    batch.Put(LegacyDroppedSeriesKey(d.labels_hash), value);
  }
  return FromRocks(impl_->db_->Write(rocksdb::WriteOptions(), &batch),
                   "recording dropped series");
}

struct DroppedSeriesView::Impl {
  std::unique_ptr<rocksdb::Iterator> it;
};

DroppedSeriesView::DroppedSeriesView(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
DroppedSeriesView::~DroppedSeriesView() = default;

std::unique_ptr<DroppedSeriesView> Store::ViewDroppedSeries() {
  // An iterator without an explicit snapshot reads the sequence number it
  // was created at: records written after this are not visited.
  auto impl = std::make_unique<DroppedSeriesView::Impl>();
  impl->it.reset(impl_->db_->NewIterator(rocksdb::ReadOptions()));
  return std::unique_ptr<DroppedSeriesView>(
      new DroppedSeriesView(std::move(impl)));
}

Status Store::VisitDroppedSeries(
    const std::function<Status(const head::DroppedSeries&)>& visit) {
  return ViewDroppedSeries()->Visit(visit);
}

Status DroppedSeriesView::Visit(
    const std::function<Status(const head::DroppedSeries&)>& visit) {
  return VisitKeyed(nullptr, [&](const rocksdb::Slice&,
                            const head::DroppedSeries& d) { return visit(d); });
}

Status DroppedSeriesView::VisitNamed(
    const std::vector<std::string>& metric_names,
    const std::function<Status(const head::DroppedSeries&)>& visit) {
  return VisitSelected(MetricNames{metric_names, {}}, visit);
}

Status DroppedSeriesView::VisitSelected(
    const MetricNames& names,
    const std::function<Status(const head::DroppedSeries&)>& visit) {
  return VisitKeyed(&names,
                    [&](const rocksdb::Slice&, const head::DroppedSeries& d) {
                      return visit(d);
                    });
}

Status DroppedSeriesView::VisitKeyed(
    const MetricNames* names,
    const std::function<Status(const rocksdb::Slice& key,
                               const head::DroppedSeries&)>& visit) {
  std::vector<std::string> prefixes;
  if (names == nullptr) {
    prefixes.push_back(kDroppedSeriesPrefix);
  } else {
    // A name under a prefix scanned anyway is not looked up again.
    auto scanned = [&](std::string_view name) {
      for (const std::string& p : names->name_prefixes) {
        if (name.substr(0, p.size()) == p) return true;
      }
      return false;
    };
    for (const std::string& p : names->name_prefixes) {
      prefixes.push_back(kDroppedSeriesPrefix + p);
    }
    for (const std::string& name : names->names) {
      if (!scanned(name)) prefixes.push_back(NamedPrefix(name));
    }
  }
  // Records of the layout before are not found by name: they are visited
  // whatever the names, until retention has deleted the last of them.
  prefixes.push_back(kLegacyDroppedSeriesPrefix);
  rocksdb::Iterator* it = impl_->it.get();
  head::DroppedSeries d;
  for (const std::string& prefix : prefixes) {
    const std::string_view kind =
        prefix == kLegacyDroppedSeriesPrefix ? kLegacyDroppedSeriesPrefix
                                             : kDroppedSeriesPrefix;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      const rocksdb::Slice key = it->key();
      const rocksdb::Slice value = it->value();
      constexpr size_t kHeader = 4 + 1 + 8;
      if (!ParseDroppedSeriesKey(key, kind, &d.labels_hash) ||
          value.size() < kHeader ||
          DecodeFixed32(value.data()) !=
              codec::Crc32c(std::string_view(value.data() + 4,
                                             value.size() - 4))) {
        return Status::Corruption("dropped-series record " +
                                  key.ToString(/*hex=*/true) +
                                  " fails its checksum");
      }
      d.outputs = DecodeFixed<uint8_t>(value.data() + 4);
      d.last_timestamp_ms = DecodeFixed<int64_t>(value.data() + 5);
      d.labels.assign(value.data() + kHeader, value.size() - kHeader);
      Status s = visit(key, d);
      if (!s.ok()) return s;
    }
    Status s = FromRocks(it->status(), "reading dropped-series records");
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace promewma::store
