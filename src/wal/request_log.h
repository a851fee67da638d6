// RequestLog: the request log, promewma's source of truth, as append-only
// segment files, the shape of Prometheus' WAL.
//
// Every acknowledged remote-write body is appended here once and read back
// only by crash recovery; a checkpoint makes whole segments obsolete and
// they are deleted. A plain file append is all that takes: no memtable
// copy, no table file written only to be deleted.
//
// Files
// -----
//   <dir>/<first seq, 20 digits>.seg   records in increasing seq order
//
// A segment is named after the seq of its first record, so the segments a
// replay needs, and the ones a checkpoint made obsolete, are known from the
// names alone. A new segment starts when the current one reaches
// `segment_bytes`, and at the first append after Open, so that a segment a
// crash may have torn is never appended to.
//
// Record (all integers little-endian)
//   u32 body length | u64 seq | u8 type (1 = snappy remote-write 1.0 body)
//   | u32 CRC-32C of the 13 bytes before | u32 CRC-32C of the body | body
//
// Crashes and corruption
// ----------------------
// A crash can tear the end of the last segment: a record cut short, a last
// record with bytes that never reached the disk, or zeros where the file
// system had not written yet. Open drops such a tail, with a warning: its
// sender got no 2xx for it (with `fsync`), or the operating system lost a
// write it had taken (with `os`, which promises nothing across power loss).
// Anything else that does not check out (a damaged header, a bad record
// with more after it) is Corruption, reported with its seq, segment and
// offset and never replayed: it would be an acknowledged request lost.
//
// A failed append is cut off the segment again before it returns, so the
// retry (same seq) follows the last good record; if even that fails the log
// refuses further appends until promewma restarts and Open repairs it.
//
// Thread-safety: all methods are thread-safe. Appends must come in
// increasing seq order (the ingest pipeline serialises them).

#ifndef PROMEWMA_WAL_REQUEST_LOG_H_
#define PROMEWMA_WAL_REQUEST_LOG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "promewma/status.h"
#include "common/fault_injector.h"

namespace promewma::wal {

// What an acknowledged request survives.
enum class Durability {
  kOs,     // a crash of the process: the record is in the page cache
  kFsync,  // power loss: the record is synced before the 2xx
};

struct RequestLogOptions {
  std::string dir;
  // With kFsync, Sync() makes appended records survive power loss; with
  // kOs it is a no-op (records survive a process crash once Append returns).
  Durability durability = Durability::kOs;
  size_t segment_bytes = 64 << 20;
  FaultInjector* faults = nullptr;  // not owned; may be null
};

class RequestLog {
 public:
  static constexpr size_t kRecordHeaderSize = 4 + 8 + 1 + 4 + 4;

  // Opens the log in options.dir, creating the directory when missing, and
  // drops a torn tail (see above).
  static Result<std::unique_ptr<RequestLog>> Open(
      const RequestLogOptions& options);
  ~RequestLog();
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  // Appends `body` as record `seq`. On error nothing was appended.
  // REQUIRES: seq > every seq appended before.
  Status Append(uint64_t seq, std::string_view body);

  // With Durability::kFsync, makes every record appended so far survive
  // power loss. Concurrent callers share one sync.
  Status Sync();

  // Calls `apply(seq, body)` for every record with seq > after, in seq
  // order; stops at, and returns, the first error.
  Status Replay(
      uint64_t after,
      const std::function<Status(uint64_t seq, std::string_view body)>& apply);

  // Deletes the segments whose records all have seq <= covered.
  Status Truncate(uint64_t covered);

  // Highest seq appended or found at Open (0 when the log is empty).
  uint64_t last_seq() const;

  // Segment files in seq order (tests).
  std::vector<std::string> SegmentPaths() const;

 private:
  struct Segment;
  explicit RequestLog(const RequestLogOptions& options);

  // The file of the segment whose first record is `first_seq`.
  std::string PathOf(uint64_t first_seq) const;
  // Starts segment `first_seq`. REQUIRES: mu_ held.
  Status StartSegment(uint64_t first_seq);
  // Cuts the current segment back to `size` after a failed append.
  // REQUIRES: mu_ held.
  void CutBack(size_t size);

  const RequestLogOptions options_;
  mutable std::mutex mu_;  // guards everything below but synced_seq_
  // First seqs of the closed segments, oldest first.
  std::vector<uint64_t> closed_;
  std::shared_ptr<Segment> current_;  // null until the first append
  uint64_t last_seq_ = 0;
  std::string broken_;  // why appends are refused, when they are

  std::mutex sync_mu_;  // one sync at a time; guards synced_seq_
  uint64_t synced_seq_ = 0;
};

}  // namespace promewma::wal

#endif  // PROMEWMA_WAL_REQUEST_LOG_H_
