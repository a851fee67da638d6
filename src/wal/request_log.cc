#include "wal/request_log.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "codec/crc32c.h"
#include "common/coding.h"
#include "common/log.h"

namespace promewma::wal {
namespace {

constexpr uint8_t kRemoteWriteRecord = 1;
constexpr char kSegmentSuffix[] = ".seg";
constexpr size_t kSeqDigits = 20;

std::string Errno(int err) { return std::generic_category().message(err); }

std::string SegmentName(uint64_t first_seq) {
  char name[kSeqDigits + sizeof(kSegmentSuffix)];
  std::snprintf(name, sizeof(name), "%020llu%s",
                static_cast<unsigned long long>(first_seq), kSegmentSuffix);
  return name;
}

// The first seq a segment file name stands for; false for other files.
bool ParseSegmentName(const std::string& name, uint64_t* first_seq) {
  if (name.size() != kSeqDigits + sizeof(kSegmentSuffix) - 1 ||
      name.compare(kSeqDigits, std::string::npos, kSegmentSuffix) != 0) {
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < kSeqDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *first_seq = v;
  return true;
}

// Header: body length (4) | seq (8) | type (1) | CRC-32C of those 13 bytes
// (4) | CRC-32C of the body (4). The header has a checksum of its own so
// that a damaged length is told apart from a write cut short.
constexpr size_t kCheckedHeaderBytes = 13;

enum class Parse {
  kOk,
  kCutShort,   // the header, or the body it announces, runs past the end
  kBadHeader,  // header checksum mismatch
  kBadBody,    // body checksum mismatch
};

struct Record {
  uint64_t seq = 0;
  std::string_view body;
  size_t size = 0;  // header + body; set unless kCutShort or kBadHeader
};

Parse ParseRecord(std::string_view data, size_t offset, Record* record) {
  const size_t left = data.size() - offset;
  if (left < RequestLog::kRecordHeaderSize) return Parse::kCutShort;
  const char* header = data.data() + offset;
  if (static_cast<uint32_t>(DecodeFixed32(header + kCheckedHeaderBytes)) !=
          codec::Crc32c(std::string_view(header, kCheckedHeaderBytes)) ||
      static_cast<uint8_t>(header[12]) != kRemoteWriteRecord) {
    return Parse::kBadHeader;
  }
  const uint64_t length = DecodeFixed32(header);
  if (length > left - RequestLog::kRecordHeaderSize) return Parse::kCutShort;
  record->seq = DecodeFixed64(header + 4);
  record->body = std::string_view(header + RequestLog::kRecordHeaderSize,
                                  static_cast<size_t>(length));
  record->size = RequestLog::kRecordHeaderSize + static_cast<size_t>(length);
  if (static_cast<uint32_t>(DecodeFixed32(header + 17)) !=
      codec::Crc32c(record->body)) {
    return Parse::kBadBody;
  }
  return Parse::kOk;
}

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(),
                     [](char c) { return c == 0; });
}

// A segment file mapped for reading.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  // Maps the file's first `limit` bytes, or all of it if it is shorter.
  Status Map(const std::string& path, size_t limit = SIZE_MAX) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      const int err = errno;
      if (fd >= 0) close(fd);
      return Status::Unavailable("request log segment " + path + ": " +
                                 Errno(err));
    }
    size_ = std::min(limit, static_cast<size_t>(st.st_size));
    if (size_ == 0) {
      close(fd);
      return Status::Ok();
    }
    void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    close(fd);
    if (p == MAP_FAILED) {
      return Status::Unavailable("request log segment " + path +
                                 ": cannot map: " + Errno(err));
    }
    data_ = p;
    madvise(p, size_, MADV_SEQUENTIAL);
    return Status::Ok();
  }
  std::string_view bytes() const {
    return std::string_view(static_cast<const char*>(data_),
                            data_ == nullptr ? 0 : size_);
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Unavailable("request log dir " + dir + ": " +
                                         Errno(errno));
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) {
    return Status::Unavailable("syncing request log dir " + dir + ": " +
                               Errno(err));
  }
  return Status::Ok();
}

}  // namespace

struct RequestLog::Segment {
  ~Segment() {
    if (fd >= 0) close(fd);
  }
  uint64_t first_seq = 0;
  std::string path;
  int fd = -1;
  size_t size = 0;
};

RequestLog::RequestLog(const RequestLogOptions& options) : options_(options) {}

RequestLog::~RequestLog() = default;

Result<std::unique_ptr<RequestLog>> RequestLog::Open(
    const RequestLogOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return Status::Unavailable("request log dir " + options.dir +
                               ": cannot create: " + ec.message());
  }
  std::unique_ptr<RequestLog> log(new RequestLog(options));
  for (const auto& entry :
       std::filesystem::directory_iterator(options.dir, ec)) {
    uint64_t first_seq;
    if (ParseSegmentName(entry.path().filename().string(), &first_seq)) {
      log->closed_.push_back(first_seq);
    }
  }
  if (ec) {
    return Status::Unavailable("request log dir " + options.dir + ": " +
                               ec.message());
  }
  std::sort(log->closed_.begin(), log->closed_.end());
  if (log->closed_.empty()) return log;

  // Only the last segment can have been torn: every earlier one was
  // complete when the next one started.
  const uint64_t first_seq = log->closed_.back();
  const std::string path = log->PathOf(first_seq);
  MappedFile file;
  Status s = file.Map(path);
  if (!s.ok()) return s;
  const std::string_view data = file.bytes();
  size_t good = 0;
  size_t size = data.size();
  uint64_t last_seq = first_seq - 1;
  Record record;
  while (good < size) {
    const Parse p = ParseRecord(data, good, &record);
    if (p == Parse::kOk) {
      good += record.size;
      last_seq = record.seq;
      continue;
    }
    // Cut short, the last record with bytes that never reached the disk,
    // or the zeros a file system shows for blocks it had not written.
    const bool torn =
        p == Parse::kCutShort ||
        (p == Parse::kBadBody && good + record.size == data.size()) ||
        AllZero(data.substr(good));
    if (!torn) break;  // corruption: Replay reports it
    // Left by a crash while the record was being written.
    log::Warn("wal", "dropping a torn write at the end of a segment",
              {{"segment", path},
               {"bytes", data.size() - good},
               {"offset", good}});
    if (truncate(path.c_str(), static_cast<off_t>(good)) != 0) {
      return Status::Unavailable("request log segment " + path +
                                 ": cannot cut off a torn write: " +
                                 Errno(errno));
    }
    size = good;
  }
  if (size == 0) {
    // Nothing in it: the next append starts a segment of this name again.
    if (unlink(path.c_str()) != 0) {
      return Status::Unavailable("request log segment " + path + ": " +
                                 Errno(errno));
    }
    log->closed_.pop_back();
  }
  log->last_seq_ = last_seq;
  return log;
}

std::string RequestLog::PathOf(uint64_t first_seq) const {
  return options_.dir + "/" + SegmentName(first_seq);
}

Status RequestLog::StartSegment(uint64_t first_seq) {
  auto segment = std::make_shared<Segment>();
  segment->first_seq = first_seq;
  segment->path = PathOf(first_seq);
  if (current_ != nullptr && options_.durability == Durability::kFsync) {
    // Sync() syncs only the current segment, so the one it leaves behind
    // must be on disk first.
    if (fdatasync(current_->fd) != 0) {
      return Status::Unavailable("syncing request log segment " +
                                 current_->path + ": " + Errno(errno));
    }
  }
  segment->fd = open(segment->path.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (segment->fd < 0) {
    return Status::Unavailable("creating request log segment " +
                               segment->path + ": " + Errno(errno));
  }
  if (options_.durability == Durability::kFsync) {
    Status s = SyncDirectory(options_.dir);
    if (!s.ok()) {
      unlink(segment->path.c_str());
      return s;
    }
  }
  if (current_ != nullptr) closed_.push_back(current_->first_seq);
  current_ = std::move(segment);
  return Status::Ok();
}

void RequestLog::CutBack(size_t size) {
  if (ftruncate(current_->fd, static_cast<off_t>(size)) == 0) return;
  const std::string err = Errno(errno);
  broken_ = "request log segment " + current_->path +
            " holds a partial record that cannot be cut off (" + err +
            "); restart promewma to repair it";
  log::Error("wal", "partial record cannot be cut off; restart to repair",
             {{"segment", current_->path}, {"err", err}});
}

Status RequestLog::Append(uint64_t seq, std::string_view body) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!broken_.empty()) return Status::Unavailable(broken_);
  if (options_.faults != nullptr) {
    Status s = options_.faults->BeforeWrite("log");
    if (!s.ok()) return s;
  }
  if (current_ == nullptr || current_->size >= options_.segment_bytes) {
    Status s = StartSegment(seq);
    if (!s.ok()) return s;
  }
  char header[kRecordHeaderSize];
  EncodeFixed32(header, static_cast<uint32_t>(body.size()));
  EncodeFixed64(header + 4, seq);
  header[12] = static_cast<char>(kRemoteWriteRecord);
  EncodeFixed32(header + kCheckedHeaderBytes,
                codec::Crc32c(std::string_view(header, kCheckedHeaderBytes)));
  EncodeFixed32(header + 17, codec::Crc32c(body));
  iovec parts[2] = {{header, kRecordHeaderSize},
                    {const_cast<char*>(body.data()), body.size()}};
  const size_t total = kRecordHeaderSize + body.size();
  size_t written = 0;
  while (written < total) {
    // Skip what a short write already took.
    iovec left[2];
    int n = 0;
    size_t skip = written;
    for (const iovec& part : parts) {
      if (skip >= part.iov_len) {
        skip -= part.iov_len;
        continue;
      }
      left[n].iov_base = static_cast<char*>(part.iov_base) + skip;
      left[n].iov_len = part.iov_len - skip;
      skip = 0;
      ++n;
    }
    const ssize_t w = writev(current_->fd, left, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : EIO;
      CutBack(current_->size);
      return Status::Unavailable("appending to request log segment " +
                                 current_->path + ": " + Errno(err));
    }
    written += static_cast<size_t>(w);
  }
  current_->size += total;
  last_seq_ = seq;
  return Status::Ok();
}

Status RequestLog::Sync() {
  if (options_.durability != Durability::kFsync) return Status::Ok();
  std::lock_guard<std::mutex> sync_lock(sync_mu_);
  uint64_t target;
  std::shared_ptr<Segment> segment;
  {
    std::lock_guard<std::mutex> lock(mu_);
    target = last_seq_;
    segment = current_;
  }
  // A sync that finished while this caller waited covered it too.
  if (target <= synced_seq_ || segment == nullptr) return Status::Ok();
  if (fdatasync(segment->fd) != 0) {
    return Status::Unavailable("syncing request log segment " + segment->path +
                               ": " + Errno(errno));
  }
  synced_seq_ = target;
  return Status::Ok();
}

Status RequestLog::Replay(
    uint64_t after,
    const std::function<Status(uint64_t seq, std::string_view body)>& apply) {
  std::vector<uint64_t> firsts;
  size_t current_size = SIZE_MAX;  // only what was appended when Replay began
  {
    std::lock_guard<std::mutex> lock(mu_);
    firsts = closed_;
    if (current_ != nullptr) {
      firsts.push_back(current_->first_seq);
      current_size = current_->size;
    }
  }
  uint64_t expected = after + 1;
  bool started = false;
  for (size_t i = 0; i < firsts.size(); ++i) {
    // Segment i holds firsts[i] .. firsts[i + 1] - 1.
    if (i + 1 < firsts.size() && firsts[i + 1] <= after + 1) continue;
    const std::string path = PathOf(firsts[i]);
    if (!started && firsts[i] > expected) {
      return Status::Corruption(
          "request log records " + std::to_string(expected) + " to " +
          std::to_string(firsts[i] - 1) + " are missing (the oldest segment " +
          "left is " + path + ")");
    }
    MappedFile file;
    Status s = file.Map(path, i + 1 == firsts.size() ? current_size : SIZE_MAX);
    if (!s.ok()) return s;
    const std::string_view data = file.bytes();
    Record record;
    uint64_t seq = firsts[i];  // records are numbered without gaps
    for (size_t offset = 0; offset < data.size();
         offset += record.size, ++seq) {
      const std::string where =
          " (segment " + path + ", offset " + std::to_string(offset) + ")";
      switch (ParseRecord(data, offset, &record)) {
        case Parse::kCutShort:
          return Status::Corruption("request log record " +
                                    std::to_string(seq) + ": cut short" +
                                    where);
        case Parse::kBadHeader:
          return Status::Corruption("request log record " +
                                    std::to_string(seq) +
                                    ": malformed record header" + where);
        case Parse::kBadBody:
          return Status::Corruption(
              "request log record " + std::to_string(seq) +
              ": checksum mismatch" + where +
              "; promewma cannot replay past it. To start with the records "
              "before it only, move this segment and the later ones away");
        case Parse::kOk:
          break;
      }
      if (record.seq <= after) continue;
      if (started ? record.seq != expected : record.seq > expected) {
        return Status::Corruption(
            "request log record " + std::to_string(expected) +
            " is missing: found record " + std::to_string(record.seq) + where);
      }
      started = true;
      s = apply(record.seq, record.body);
      if (!s.ok()) return s;
      expected = record.seq + 1;
    }
  }
  return Status::Ok();
}

Status RequestLog::Truncate(uint64_t covered) {
  std::vector<std::string> obsolete;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t next_after_closed =
        current_ != nullptr ? current_->first_seq : last_seq_ + 1;
    size_t drop = 0;
    while (drop < closed_.size()) {
      const uint64_t next = drop + 1 < closed_.size() ? closed_[drop + 1]
                                                      : next_after_closed;
      if (next - 1 > covered) break;
      obsolete.push_back(PathOf(closed_[drop]));
      ++drop;
    }
    closed_.erase(closed_.begin(), closed_.begin() + drop);
    if (closed_.empty() && current_ != nullptr && last_seq_ <= covered) {
      // All covered: the next append starts a fresh segment.
      obsolete.push_back(current_->path);
      current_.reset();
    }
  }
  Status result;
  for (const std::string& path : obsolete) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT && result.ok()) {
      result = Status::Unavailable("deleting request log segment " + path +
                                   ": " + Errno(errno));
    }
  }
  return result;
}

uint64_t RequestLog::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seq_;
}

std::vector<std::string> RequestLog::SegmentPaths() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> paths;
  for (uint64_t first : closed_) {
    paths.push_back(PathOf(first));
  }
  if (current_ != nullptr) paths.push_back(current_->path);
  return paths;
}

}  // namespace promewma::wal
