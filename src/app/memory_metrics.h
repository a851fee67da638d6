// MemoryCollector: promewma_memory_bytes{part=...} on /metrics, where the
// process' memory goes, part by part, read when /metrics is served:
//
//   head               series: state, latest outputs, open head chunks,
//                      label sets, the series index (head::Head::MemoryBytes)
//   memtables          RocksDB memtables (bound: memory.memtables)
//   block_cache        RocksDB table blocks in the cache, index and filter
//                      blocks included (bound: memory.block_cache)
//   table_readers      RocksDB table readers outside the cache
//   write_back_queues  samples queued for the write-back targets
//   heap_in_use        bytes malloc has handed out (mallinfo2 uordblks +
//                      hblkhd): every part above that is on the heap, and
//                      the request buffers besides
//   heap_free          bytes malloc holds free in its arenas (fordblks):
//                      resident unless trimmed
//   rss                the process' resident set (/proc/self/statm)
//
// Beside them, promewma_heap_trims_total and promewma_heap_trim_seconds_total:
// what keeping free heap out of the resident set costs (ReleaseFreeHeap).
//
// The RocksDB parts are absent in memory-only mode, write_back_queues
// without write-back targets.
//
// Thread-safety: Collect may run on any thread; the head, store and
// write-back lock what they read.

#ifndef PROMEWMA_APP_MEMORY_METRICS_H_
#define PROMEWMA_APP_MEMORY_METRICS_H_

#include <prometheus/collectable.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "app/write_back.h"
#include "db/database.h"

namespace promewma::app {

class MemoryCollector : public prometheus::Collectable {
 public:
  // `write_back` may be null (no targets). Both must outlive the collector.
  MemoryCollector(const db::Database* db, const WriteBack* write_back)
      : db_(db), write_back_(write_back) {}

  // The parts and their bytes, in the order above.
  std::vector<std::pair<std::string, uint64_t>> Parts() const;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const db::Database* const db_;
  const WriteBack* const write_back_;
};

}  // namespace promewma::app

#endif  // PROMEWMA_APP_MEMORY_METRICS_H_
