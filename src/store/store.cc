#include "store/store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <tuple>
#include <vector>

#include "codec/crc32c.h"
#include "store/record_fields.h"
#include "store/request_log.h"

namespace promewma::store {
namespace {

// Where the request log was kept before it moved to segment files; an
// existing one is moved over once, at Open.
constexpr char kLegacyLogFamily[] = "log";
constexpr char kRequestLogDir[] = "request_log";
constexpr char kChunksFamily[] = "chunks";
constexpr char kCheckpointFamily[] = "checkpoint";
constexpr char kCheckpointMetaKey[] = "checkpoint";
// A checkpoint is written in batches of about this size: large enough for
// few RocksDB writes, small enough not to double the memory of a big engine.
constexpr size_t kMemtableBudgetBytes = 64 << 20;  // all families together
constexpr size_t kCheckpointBatchBytes = 4 << 20;
constexpr size_t kChunkKeySize = 8 + 8 + 1 + 8;
constexpr size_t kChunkValueHeader = 4 + 8;  // CRC-32C + max_time
// The key kind of raw chunks stored with their derivation. Above every
// stored kind, so within a series' bucket the older layout's raw and output
// chunks (all older: a series only moves forward) come first.
constexpr uint8_t kDerivableRawKind = 0x80;
static_assert(ewma::kStoredKinds < kDerivableRawKind);
constexpr uint8_t kDerivationVersion = 1;
constexpr uint8_t kRemoteWriteRecord = 1;
constexpr size_t kRecordHeaderSize = 5;  // type + CRC-32C

std::string SeqKey(uint64_t seq) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[i] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return key;
}

void PutBigEndian(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

// Flipping the sign bit makes big-endian bytes of signed values sort in
// numeric order.
uint64_t Ordered(int64_t v) {
  return static_cast<uint64_t>(v) ^ (uint64_t{1} << 63);
}

// The value whose Ordered() form is stored big-endian at `p`.
int64_t FromOrdered(const char* p) {
  uint64_t ordered = 0;
  for (int i = 0; i < 8; ++i) {
    ordered = (ordered << 8) | static_cast<uint8_t>(p[i]);
  }
  return static_cast<int64_t>(ordered ^ (uint64_t{1} << 63));
}

int64_t FloorDiv(int64_t t, int64_t d) {
  return t / d - (t % d < 0 ? 1 : 0);  // floor, without overflow
}

std::string ChunkKey(int64_t bucket, uint64_t series, uint8_t kind,
                     int64_t min_time) {
  std::string key;
  key.reserve(kChunkKeySize);
  PutBigEndian(&key, Ordered(bucket));
  PutBigEndian(&key, series);
  key.push_back(static_cast<char>(kind));
  PutBigEndian(&key, Ordered(min_time));
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

void EncodeDerivation(const ewma::ChunkDerivation& d, std::string* out) {
  PutField<uint8_t>(out, kDerivationVersion);
  PutParamsFields(out, d.params);
  PutStateFields(out, d.start);
}

// Decodes the derivation at the front of *value and drops it from there.
bool DecodeDerivation(std::string_view* value, ewma::ChunkDerivation* d) {
  FieldReader r(*value);
  if (r.Get<uint8_t>() != kDerivationVersion) return false;
  r.GetParams(&d->params);
  r.GetState(&d->start);
  if (!r.ok()) return false;
  *value = r.rest();
  return true;
}

uint64_t DecodeSeqKey(const rocksdb::Slice& key) {
  uint64_t seq = 0;
  for (size_t i = 0; i < key.size() && i < 8; ++i) {
    seq = (seq << 8) | static_cast<uint8_t>(key[i]);
  }
  return seq;
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
  std::memcpy(&meta->generation, v.data(), 8);
  std::memcpy(&meta->seq, v.data() + 8, 8);
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
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* chunks_ = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoint_ = nullptr;
  std::unique_ptr<RequestLog> log_;
  uint64_t checkpoint_seq_at_open_ = 0;
};

namespace {

// Moves the records of a request log kept in a RocksDB column family (the
// format before segment files) into `log`, then drops the family. A crash
// half-way is fine: the family stays until the records are all in `log`,
// and the next Open skips the ones already moved.
Status MoveLegacyLog(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family,
                     uint64_t covered, RequestLog* log) {
  rocksdb::ReadOptions read_options;
  read_options.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options, family));
  uint64_t moved = 0;
  for (it->Seek(SeqKey(std::max(covered, log->last_seq()) + 1)); it->Valid();
       it->Next()) {
    const uint64_t seq = DecodeSeqKey(it->key());
    const rocksdb::Slice v = it->value();
    if (it->key().size() != 8 || v.size() < kRecordHeaderSize ||
        static_cast<uint8_t>(v[0]) != kRemoteWriteRecord) {
      return Status::Corruption("request log record " + std::to_string(seq) +
                                ": malformed record header");
    }
    uint32_t stored_crc;
    std::memcpy(&stored_crc, v.data() + 1, 4);
    std::string_view body(v.data() + kRecordHeaderSize,
                          v.size() - kRecordHeaderSize);
    if (codec::Crc32c(body) != stored_crc) {
      return Status::Corruption("request log record " + std::to_string(seq) +
                                ": checksum mismatch");
    }
    Status s = log->Append(seq, body);
    if (!s.ok()) return s;
    ++moved;
  }
  Status s = FromRocks(it->status(), "reading the old request log");
  if (s.ok()) s = log->Sync();
  if (!s.ok()) return s;
  it.reset();
  if (moved > 0) {
    spdlog::info("moved {} request log records to segment files", moved);
  }
  return FromRocks(db->DropColumnFamily(family),
                   "dropping the old request log");
}

}  // namespace

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
  // Memtables are RSS that does not shrink with the series count. RocksDB's
  // default (64 MiB, two per family, three families) could hold 384 MiB;
  // everything we write here is read back rarely (chunks, checkpoints),
  // so small ones flushed early cost little.
  db_options.db_write_buffer_size = kMemtableBudgetBytes;
  rocksdb::ColumnFamilyOptions family_options;
  family_options.write_buffer_size = kMemtableBudgetBytes / 3;
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
  // A data dir from before the request log moved to segment files.
  std::vector<std::string> existing;
  const bool legacy_log =
      rocksdb::DB::ListColumnFamilies(db_options, options.dir, &existing)
          .ok() &&
      std::find(existing.begin(), existing.end(), kLegacyLogFamily) !=
          existing.end();
  if (legacy_log) families.push_back({kLegacyLogFamily, family_options});

  auto impl = std::make_unique<Impl>();
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

  // The log lives beside RocksDB's files; RocksDB's lock, taken above,
  // keeps a second process out of it too.
  RequestLogOptions log_options;
  log_options.dir = options.dir + "/" + kRequestLogDir;
  log_options.fsync = options.durability == Durability::kFsync;
  log_options.segment_bytes = options.log_segment_bytes;
  log_options.faults = options.faults;
  auto log = RequestLog::Open(log_options);
  if (!log.ok()) return log.status();
  impl->log_ = std::move(log).value();

  CheckpointMeta meta;
  Status status = ReadMeta(impl->db_, &meta);
  if (!status.ok()) return status;
  // A checkpoint may have trimmed the whole log: numbering continues after
  // what it covers, or new records would hide behind it.
  impl->checkpoint_seq_at_open_ = meta.seq;
  if (legacy_log) {
    rocksdb::ColumnFamilyHandle* family = impl->handles_.back();
    status = MoveLegacyLog(impl->db_, family, meta.seq, impl->log_.get());
    if (!status.ok()) return status;
    impl->db_->DestroyColumnFamilyHandle(family);
    impl->handles_.pop_back();
  }
  return std::unique_ptr<Store>(new Store(options, std::move(impl)));
}

Store::Store(const StoreOptions& options, std::unique_ptr<Impl> impl)
    : options_(options), impl_(std::move(impl)) {}

Store::~Store() = default;

Status Store::AppendRequest(uint64_t seq, std::string_view body) {
  return impl_->log_->Append(seq, body);
}

Status Store::SyncLog() { return impl_->log_->Sync(); }

Status Store::ReplayRequests(
    uint64_t after,
    const std::function<Status(uint64_t seq, std::string_view body)>& apply) {
  return impl_->log_->Replay(after, apply);
}

std::vector<std::string> Store::LogSegmentPaths() const {
  return impl_->log_->SegmentPaths();
}

Status Store::WriteChunks(const std::vector<StoredChunk>& chunks,
                          int64_t bucket_ms) {
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
    uint8_t kind;
    const StoredChunk* chunk;
  };
  std::vector<Keyed> order;
  order.reserve(chunks.size());
  for (const StoredChunk& c : chunks) {
    order.push_back({FloorDiv(c.min_time_ms, bucket_ms),
                     c.derivation ? kDerivableRawKind : c.kind, &c});
  }
  std::sort(order.begin(), order.end(), [](const Keyed& a, const Keyed& b) {
    return std::tie(a.bucket, a.chunk->labels_hash, a.kind,
                    a.chunk->min_time_ms) <
           std::tie(b.bucket, b.chunk->labels_hash, b.kind,
                    b.chunk->min_time_ms);
  });
  rocksdb::WriteBatch batch;
  std::string derivation;
  for (const Keyed& k : order) {
    const StoredChunk& c = *k.chunk;
    char header[kChunkValueHeader];
    std::memcpy(&header[4], &c.max_time_ms, 8);
    derivation.clear();
    if (c.derivation) EncodeDerivation(*c.derivation, &derivation);
    const uint32_t crc = codec::Crc32c(
        c.bytes, codec::Crc32c(derivation,
                               codec::Crc32c(std::string_view(&header[4], 8))));
    std::memcpy(&header[0], &crc, 4);
    const std::string key =
        ChunkKey(k.bucket, c.labels_hash, k.kind, c.min_time_ms);
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
  return FromRocks(impl_->db_->Write(no_wal, &batch), "writing chunks");
}

Status Store::ReadChunks(
    uint64_t series, uint8_t kind, int64_t start_ms, int64_t end_ms,
    int64_t bucket_ms,
    const std::function<Status(const StoredChunkView&)>& visit) {
  if (kind >= ewma::kStoredKinds) {
    return Status::InvalidArgument("no stored kind " + std::to_string(kind));
  }
  rocksdb::ReadOptions read_options;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(read_options, impl_->chunks_));
  const int64_t first_bucket = FloorDiv(start_ms, bucket_ms);
  const int64_t last_bucket = FloorDiv(end_ms, bucket_ms);
  ewma::ChunkDerivation derivation;
  codec::XorChunkAppender derived(0);  // an output of a raw chunk
  std::vector<int64_t> legacy_starts;  // of the bucket's older-layout chunks
  // Visit only buckets that exist: a query from 0 to "now" spans hundreds
  // of thousands of empty buckets, and one with end = INT64_MAX billions.
  // After a bucket, a seek lands on the next existing key; its bucket is
  // where to look next.
  for (int64_t bucket = first_bucket; bucket <= last_bucket;) {
    // bucket + series; then the kind byte.
    const std::string series_prefix =
        ChunkKey(bucket, series, kind, 0).substr(0, kChunkKeySize - 9);
    const std::string derivable_prefix =
        series_prefix + static_cast<char>(kDerivableRawKind);
    it->Seek(series_prefix + static_cast<char>(kind));
    if (!it->Valid()) break;
    if (it->key().size() >= 8) {
      const int64_t found = FromOrdered(it->key().data());
      if (found > bucket) {
        bucket = found;
        continue;
      }
    }
    // Chunks of `kind` as the older layout stored them (raw chunks without
    // a derivation; output chunks), then raw chunks with a derivation.
    // After a crash of an older promewma, the replay of its log by this one
    // stores again, in this layout, chunks the older one had stored
    // already: the same samples, so the same first timestamp, raw or
    // derived. Those are read once.
    legacy_starts.clear();
    while (it->Valid() && it->key().starts_with(series_prefix)) {
      const uint8_t key_kind =
          it->key().size() > kChunkKeySize - 9
              ? static_cast<uint8_t>(it->key()[kChunkKeySize - 9])
              : 0;
      const bool derivable = key_kind == kDerivableRawKind;
      if (key_kind != kind && !derivable) {
        if (key_kind > kDerivableRawKind) break;
        it->Seek(derivable_prefix);  // other outputs of the older layout
        continue;
      }
      const rocksdb::Slice v = it->value();
      if (it->key().size() != kChunkKeySize || v.size() < kChunkValueHeader) {
        return Status::Corruption("chunk " + HexKey(it->key()) +
                                  ": malformed record");
      }
      uint32_t crc;
      std::memcpy(&crc, v.data(), 4);
      std::string_view rest(v.data() + 4, v.size() - 4);
      if (codec::Crc32c(rest) != crc) {
        return Status::Corruption("chunk " + HexKey(it->key()) +
                                  ": checksum mismatch in " + options_.dir);
      }
      StoredChunkView chunk;
      chunk.min_time_ms = FromOrdered(it->key().data() + kChunkKeySize - 8);
      std::memcpy(&chunk.max_time_ms, rest.data(), 8);
      chunk.bytes = rest.substr(8);
      if (chunk.min_time_ms > end_ms) {
        if (derivable) break;
        it->Seek(derivable_prefix);
        continue;
      }
      if (chunk.max_time_ms >= start_ms && derivable) {
        if (!DecodeDerivation(&chunk.bytes, &derivation)) {
          return Status::Corruption("chunk " + HexKey(it->key()) +
                                    ": malformed derivation");
        }
        if (kind != ewma::kRawKind) {
          Status s = ewma::DeriveOutputChunk(
              derivation, chunk.bytes, ewma::OutputOfStoredKind(kind), &derived);
          if (!s.ok()) {
            return Status::Corruption("chunk " + HexKey(it->key()) + ": " +
                                      s.message());
          }
          if (derived.num_samples() == 0) {
            it->Next();
            continue;
          }
          chunk = StoredChunkView{derived.min_time(), derived.max_time(),
                                  derived.bytes()};
        }
      }
      if (chunk.max_time_ms >= start_ms && chunk.min_time_ms <= end_ms) {
        if (!derivable) {
          legacy_starts.push_back(chunk.min_time_ms);
        } else if (std::find(legacy_starts.begin(), legacy_starts.end(),
                             chunk.min_time_ms) != legacy_starts.end()) {
          it->Next();
          continue;
        }
        Status s = visit(chunk);
        if (!s.ok()) return s;
      }
      it->Next();
    }
    Status s = FromRocks(it->status(), "reading chunks");
    if (!s.ok()) return s;
    if (bucket == last_bucket) break;  // also guards the increment
    ++bucket;
  }
  return FromRocks(it->status(), "reading chunks");
}

Status Store::CorruptChunksForTest(uint64_t series, uint8_t kind,
                                   size_t offset) {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(rocksdb::ReadOptions(), impl_->chunks_));
  std::vector<std::pair<std::string, std::string>> rewrites;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.size() != kChunkKeySize) continue;
    std::string s = ChunkKey(0, series, kind, 0);
    if (std::memcmp(k.data() + 8, s.data() + 8, 8) != 0) continue;
    const uint8_t key_kind = static_cast<uint8_t>(k[16]);
    if (key_kind != kind &&
        !(kind == ewma::kRawKind && key_kind == kDerivableRawKind)) {
      continue;
    }
    std::string v = it->value().ToString();
    v[offset % v.size()] ^= 0x10;
    rewrites.push_back({k.ToString(), v});
  }
  for (const auto& [k, v] : rewrites) {
    rocksdb::Status s =
        impl_->db_->Put(rocksdb::WriteOptions(), impl_->chunks_, k, v);
    if (!s.ok()) return FromRocks(s, "test corruption");
  }
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
  std::string pointer(16, '\0');
  std::memcpy(&pointer[0], &generation, 8);
  std::memcpy(&pointer[8], &seq, 8);
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
  if (!s.ok()) return s;
  return impl_->log_->Truncate(seq);
}

Status Store::ReadCheckpoint(
    uint64_t* seq, const std::function<Status(std::string_view)>& visit) {
  CheckpointMeta meta;
  Status s = ReadMeta(impl_->db_, &meta);
  if (!s.ok()) return s;
  *seq = meta.seq;
  if (meta.generation == 0) return Status::Ok();
  rocksdb::ReadOptions read_options;
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

Status Store::DropBucketsBefore(int64_t bucket) {
  std::string begin, end;
  PutBigEndian(&begin, 0);  // Ordered(INT64_MIN)
  PutBigEndian(&end, Ordered(bucket));
  return FromRocks(impl_->db_->DeleteRange(rocksdb::WriteOptions(),
                                           impl_->chunks_, begin, end),
                   "deleting expired chunks");
}

uint64_t Store::last_seq() const {
  return std::max(impl_->log_->last_seq(), impl_->checkpoint_seq_at_open_);
}

}  // namespace promewma::store
