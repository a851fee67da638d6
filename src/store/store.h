// Store: promewma's durable state under --data-dir: the request log as
// segment files (store/request_log.h) in <data-dir>/request_log/, and a
// RocksDB database for chunks and checkpoints.
//
// The request log is the source of truth (DESIGN.md section 1): every
// remote-write request that is acknowledged was appended there first, and
// everything else (EWMA state, chunks, write-back backlog) is a
// deterministic function of it.
//
// Column families and record formats
// ----------------------------------
//   chunks: key  = bucket      8 bytes big-endian, sign bit flipped
//                  series      8 bytes big-endian (label-set hash of the
//                              input series)
//                  kind        1 byte: 0x80 raw chunk with its derivation;
//                              before that layout, 0 raw, 1 + output index
//                              for an output chunk
//                  min_time    8 bytes big-endian, sign bit flipped
//          value = u32 little-endian CRC-32C of the rest of the value
//                  max_time    8 bytes little-endian
//                  kind 0x80:  derivation: u8 version (1), the series'
//                              parameters and its state before the chunk
//                              (store/record_fields.h)
//                  XOR chunk   (codec/xor_chunk.h)
//          Keys sort by bucket first, so retention deletes one key range per
//          expired bucket; a chunk never spans two buckets (the engine seals
//          head chunks at bucket ends).
//          Outputs (NAME:ewma, ...) are not stored: ReadChunks derives them
//          from the raw chunk and its derivation, the way they were
//          derived when the samples arrived (ewma::DeriveOutputChunk).
//          Storing them tripled what each sample cost to write, flush and
//          compact. Output chunks of the older layout are still read; a
//          series only moves forward in time, so they precede its 0x80
//          chunks in time as they do in key order.
//
//   checkpoint: key = generation (8 bytes BE) + record number (8 bytes BE)
//               value = a checkpoint record (store/checkpoint_record.h)
//   default:    "checkpoint" -> generation (u64 LE) + covered seq (u64 LE)
//          A checkpoint is written under a new generation, then the
//          "checkpoint" key switches to it in a synced write, and only then
//          are the old generation and the log segments it covers deleted. A
//          crash at any point leaves either the old or the new checkpoint
//          complete, with the log it needs.
//
//   Before the log moved to segment files it was a column family "log";
//   Open moves such a log's records over and drops the family.
//
// RocksDB checksums its own WAL records and table blocks; the CRCs in chunk
// values and log records are ours end to end, so a flipped byte anywhere
// between our write and our read is reported instead of being used.
//
// Durability: with `durability: os` a record is in the operating system's
// page cache once Append returns (it survives a crash of the process); with
// `fsync`, SyncLog() makes everything appended so far survive power loss.
//
// Thread-safety: all methods are thread-safe. Append calls must come in
// increasing seq order (the ingest pipeline serialises them).

#ifndef PROMEWMA_STORE_STORE_H_
#define PROMEWMA_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ewma/engine.h"
#include "promewma/status.h"
#include "store/fault_injector.h"

namespace promewma::store {

// A chunk as the store keeps it: the one the engine sealed.
using StoredChunk = ewma::SealedChunk;
struct StoredChunkView {
  int64_t min_time_ms;
  int64_t max_time_ms;
  std::string_view bytes;  // valid during the visit only
};

enum class Durability {
  kOs,     // survives a process crash
  kFsync,  // survives power loss
};

struct StoreOptions {
  std::string dir;
  Durability durability = Durability::kOs;
  FaultInjector* faults = nullptr;  // not owned; may be null
  size_t log_segment_bytes = 64 << 20;  // see RequestLogOptions
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

  // Appends `body` as log record `seq`.
  // REQUIRES: seq > every seq appended before.
  Status AppendRequest(uint64_t seq, std::string_view body);

  // With durability fsync, makes every record appended so far survive power
  // loss; a no-op with durability os. Concurrent callers share one sync.
  Status SyncLog();

  // Calls `apply(seq, body)` for every log record with seq > after, in seq
  // order. Stops at, and returns, the first error: a record that fails its
  // checksum is Corruption naming its seq, never passed on.
  Status ReplayRequests(
      uint64_t after,
      const std::function<Status(uint64_t seq, std::string_view body)>& apply);

  // Stores sealed chunks (idempotent: the same chunk under the same key).
  // A raw chunk with a derivation is stored with it, under kind 0x80.
  Status WriteChunks(const std::vector<StoredChunk>& chunks, int64_t bucket_ms);

  // Calls `visit` for each chunk of (series, kind) whose time range overlaps
  // [start_ms, end_ms], in time order: for kRawKind the stored raw chunks,
  // for an output the chunks derived from them (or stored, older layout).
  // A chunk failing its checksum, or whose derivation does not replay, is
  // Corruption naming its key, never passed on.
  Status ReadChunks(uint64_t series, uint8_t kind, int64_t start_ms,
                    int64_t end_ms, int64_t bucket_ms,
                    const std::function<Status(const StoredChunkView&)>& visit);

  // Deletes every stored chunk in buckets before `bucket` (retention).
  Status DropBucketsBefore(int64_t bucket);

  // Writes a checkpoint in the steps described above. `produce` calls `add`
  // once per record. `seq` is the last log record the checkpoint covers.
  Status WriteCheckpoint(
      uint64_t seq,
      const std::function<
          Status(const std::function<Status(std::string_view)>& add)>& produce);

  // Calls `visit` for every record of the current checkpoint and sets *seq
  // to the log record it covers (0 and no visits when there is none).
  Status ReadCheckpoint(uint64_t* seq,
                        const std::function<Status(std::string_view)>& visit);

  // Highest seq in the log (0 when empty).
  uint64_t last_seq() const;

  const StoreOptions& options() const { return options_; }

  // The request log's segment files, oldest first (tests).
  std::vector<std::string> LogSegmentPaths() const;
  // Flips one byte of the stored value of every chunk of (series, kind);
  // kRawKind covers raw chunks stored with their derivation.
  Status CorruptChunksForTest(uint64_t series, uint8_t kind, size_t offset);

 private:
  class Impl;
  explicit Store(const StoreOptions& options, std::unique_ptr<Impl> impl);

  const StoreOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promewma::store

#endif  // PROMEWMA_STORE_STORE_H_
