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
