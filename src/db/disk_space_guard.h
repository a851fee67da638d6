// DiskSpaceGuard: refuses writes to the data directory while less than a
// reserve is free on its filesystem, so that the request log and RocksDB
// never reach ENOSPC themselves.
//
// Why before, not after: RocksDB 7.8 (Debian's build keeps its assertions)
// aborts the process when a write-ahead-log sync follows a write that
// failed for want of space, and a failed memtable flush puts the database
// in read-only mode until it is resumed. Refusing while the filesystem
// still has room keeps every part consistent and leaves the room for what
// runs in the background (memtable flushes, compactions). Once space is
// free again the next check passes: ingest resumes without a restart.
//
// The check is one statvfs(2), about a microsecond, made for each request
// (hundreds of samples) and each checkpoint: a cached figure would let a
// burst of requests run past the reserve, or keep refusing after space
// has returned.
//
// Thread-safety: all methods are thread-safe.

#ifndef PROMEWMA_DB_DISK_SPACE_GUARD_H_
#define PROMEWMA_DB_DISK_SPACE_GUARD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "promewma/status.h"

namespace promewma::db {

// What the guard protects, for its refusal counts.
enum class DiskWrite : int {
  kRequest = 0,   // a remote-write request (the request log, then chunks)
  kCheckpoint,    // a checkpoint (and the memtable flush before it)
  kMaintenance,   // retention and records of dropped series
  kCount,
};
std::string_view DiskWriteName(DiskWrite what);

class DiskSpaceGuard {
 public:
  // Bytes available to this process on the filesystem holding `dir`, or an
  // error. The default is statvfs(2)'s f_bavail * f_frsize.
  using FreeSpaceProbe = std::function<Result<uint64_t>(const std::string& dir)>;

  // `min_free_bytes` 0: never refuses (the probe still runs, for the
  // metric).
  DiskSpaceGuard(std::string dir, uint64_t min_free_bytes,
                 FreeSpaceProbe probe = FreeSpaceOf);

  // OK when at least min_free_bytes are free under the directory (half of
  // it for a checkpoint or maintenance, which give space back); otherwise
  // Unavailable with a one-line message naming the directory, the free and
  // needed space and the config key, and the refusal is counted.
  // A probe that fails does not refuse: the write itself then reports what
  // is wrong with the filesystem.
  Status Check(DiskWrite what);

  // Measures the free space now (for the metric); remembers it as a check
  // does.
  Result<uint64_t> FreeBytes();

  // The free bytes the last check saw (0 before the first).
  uint64_t last_free_bytes() const {
    return last_free_.load(std::memory_order_relaxed);
  }
  uint64_t min_free_bytes() const { return min_free_; }
  uint64_t refusals(DiskWrite what) const {
    return refusals_[static_cast<int>(what)].load(std::memory_order_relaxed);
  }
  const std::string& dir() const { return dir_; }

  static Result<uint64_t> FreeSpaceOf(const std::string& dir);

 private:
  const std::string dir_;
  const uint64_t min_free_;
  const FreeSpaceProbe probe_;
  std::atomic<uint64_t> last_free_{0};
  std::atomic<uint64_t> refusals_[static_cast<int>(DiskWrite::kCount)] = {};
  // Whether the last check refused, so that the log says once when
  // writes stop and once when they resume, not once per request.
  std::atomic<bool> refusing_{false};
};

}  // namespace promewma::db

#endif  // PROMEWMA_DB_DISK_SPACE_GUARD_H_
