#include "store/store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

#include "codec/crc32c.h"

namespace promewma::store {
namespace {

constexpr char kLogFamily[] = "log";
constexpr char kChunksFamily[] = "chunks";
constexpr size_t kChunkKeySize = 8 + 8 + 1 + 8;
constexpr size_t kChunkValueHeader = 4 + 8;  // CRC-32C + max_time
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

int64_t FloorDiv(int64_t t, int64_t d) {
  return t >= 0 ? t / d : -((-t + d - 1) / d);
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

class Store::Impl {
 public:
  ~Impl() {
    for (rocksdb::ColumnFamilyHandle* h : handles_)
      db_->DestroyColumnFamilyHandle(h);
    delete db_;
  }

  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* log_ = nullptr;
  rocksdb::ColumnFamilyHandle* chunks_ = nullptr;
  std::atomic<uint64_t> last_seq_{0};
  std::mutex sync_mu_;  // one WAL sync at a time; waiters then find it done
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

  rocksdb::ColumnFamilyOptions log_options;
  // Bodies are already snappy-compressed by the sender.
  log_options.compression = rocksdb::kNoCompression;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kLogFamily, log_options},
      {kChunksFamily, rocksdb::ColumnFamilyOptions()},
  };

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
  impl->log_ = impl->handles_[1];
  impl->chunks_ = impl->handles_[2];

  // The last log record tells where numbering continues.
  std::unique_ptr<rocksdb::Iterator> it(
      impl->db_->NewIterator(rocksdb::ReadOptions(), impl->log_));
  it->SeekToLast();
  if (it->Valid()) impl->last_seq_ = DecodeSeqKey(it->key());
  Status status = FromRocks(it->status(), "reading the request log");
  if (!status.ok()) return status;
  it.reset();
  return std::unique_ptr<Store>(new Store(options, std::move(impl)));
}

Store::Store(const StoreOptions& options, std::unique_ptr<Impl> impl)
    : options_(options), impl_(std::move(impl)) {}

Store::~Store() = default;

Status Store::AppendRequest(uint64_t seq, std::string_view body) {
  if (options_.faults != nullptr) {
    Status s = options_.faults->BeforeWrite("log");
    if (!s.ok()) return s;
  }
  std::string value(kRecordHeaderSize + body.size(), '\0');
  value[0] = static_cast<char>(kRemoteWriteRecord);
  const uint32_t crc = codec::Crc32c(body);
  std::memcpy(&value[1], &crc, 4);  // little-endian on every target we build
  std::memcpy(&value[kRecordHeaderSize], body.data(), body.size());
  rocksdb::WriteOptions write_options;
  write_options.sync = false;  // see SyncLog
  Status s =
      FromRocks(impl_->db_->Put(write_options, impl_->log_, SeqKey(seq), value),
                "appending to the request log");
  if (s.ok()) impl_->last_seq_.store(seq, std::memory_order_release);
  return s;
}

Status Store::SyncLog() {
  if (options_.durability != Durability::kFsync) return Status::Ok();
  std::lock_guard<std::mutex> lock(impl_->sync_mu_);
  return FromRocks(impl_->db_->SyncWAL(), "syncing the request log");
}

Status Store::ReplayRequests(
    uint64_t after,
    const std::function<Status(uint64_t seq, std::string_view body)>& apply) {
  rocksdb::ReadOptions read_options;
  read_options.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(read_options, impl_->log_));
  for (it->Seek(SeqKey(after + 1)); it->Valid(); it->Next()) {
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
                                ": checksum mismatch (" +
                                std::to_string(body.size()) + " byte body in " +
                                options_.dir + ")");
    }
    Status s = apply(seq, body);
    if (!s.ok()) return s;
  }
  return FromRocks(it->status(), "reading the request log");
}

Status Store::WriteChunks(const std::vector<StoredChunk>& chunks,
                          int64_t bucket_ms) {
  if (chunks.empty()) return Status::Ok();
  if (options_.faults != nullptr) {
    Status s = options_.faults->BeforeWrite("chunks");
    if (!s.ok()) return s;
  }
  rocksdb::WriteBatch batch;
  std::string value;
  for (const StoredChunk& c : chunks) {
    value.assign(kChunkValueHeader, '\0');
    std::memcpy(&value[4], &c.max_time_ms, 8);
    value.append(c.bytes);
    const uint32_t crc = codec::Crc32c(std::string_view(value).substr(4));
    std::memcpy(&value[0], &crc, 4);
    batch.Put(impl_->chunks_,
              ChunkKey(FloorDiv(c.min_time_ms, bucket_ms), c.series, c.kind,
                       c.min_time_ms),
              value);
  }
  // Chunks are derived from the log: after a crash replay writes them
  // again, so they need no sync of their own.
  return FromRocks(impl_->db_->Write(rocksdb::WriteOptions(), &batch),
                   "writing chunks");
}

Status Store::ReadChunks(
    uint64_t series, uint8_t kind, int64_t start_ms, int64_t end_ms,
    int64_t bucket_ms,
    const std::function<Status(const StoredChunkView&)>& visit) {
  rocksdb::ReadOptions read_options;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(read_options, impl_->chunks_));
  const int64_t first_bucket = FloorDiv(start_ms, bucket_ms);
  const int64_t last_bucket = FloorDiv(end_ms, bucket_ms);
  for (int64_t bucket = first_bucket; bucket <= last_bucket; ++bucket) {
    const std::string prefix =
        ChunkKey(bucket, series, kind, 0).substr(0, kChunkKeySize - 8);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
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
      uint64_t ordered_min = 0;
      for (size_t i = kChunkKeySize - 8; i < kChunkKeySize; ++i) {
        ordered_min = (ordered_min << 8) | static_cast<uint8_t>(it->key()[i]);
      }
      chunk.min_time_ms =
          static_cast<int64_t>(ordered_min ^ (uint64_t{1} << 63));
      std::memcpy(&chunk.max_time_ms, rest.data(), 8);
      chunk.bytes = rest.substr(8);
      if (chunk.min_time_ms > end_ms) break;
      if (chunk.max_time_ms < start_ms) continue;
      Status s = visit(chunk);
      if (!s.ok()) return s;
    }
    Status s = FromRocks(it->status(), "reading chunks");
    if (!s.ok()) return s;
  }
  return Status::Ok();
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
    if (std::memcmp(k.data() + 8, s.data() + 8, 9) != 0) continue;
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

uint64_t Store::last_seq() const {
  return impl_->last_seq_.load(std::memory_order_acquire);
}

Status Store::OverwriteLogRecordForTest(uint64_t seq,
                                        std::string_view raw_value) {
  return FromRocks(
      impl_->db_->Put(rocksdb::WriteOptions(), impl_->log_, SeqKey(seq),
                      rocksdb::Slice(raw_value.data(), raw_value.size())),
      "test overwrite");
}

}  // namespace promewma::store
