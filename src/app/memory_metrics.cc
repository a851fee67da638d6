#include "app/memory_metrics.h"

#include <malloc.h>
#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <unistd.h>

#include <cstdio>

#include "common/allocator_tuning.h"

namespace promewma::app {
namespace {

// Resident pages (the second field of /proc/self/statm) in bytes.
uint64_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

std::vector<std::pair<std::string, uint64_t>> MemoryCollector::Parts() const {
  std::vector<std::pair<std::string, uint64_t>> parts;
  parts.emplace_back("head", db_->head()->MemoryBytes());
  if (db_->store() != nullptr) {
    const store::StoreMemory m = db_->store()->Memory();
    parts.emplace_back("memtables", m.memtables);
    parts.emplace_back("block_cache", m.block_cache);
    parts.emplace_back("table_readers", m.table_readers);
  }
  if (write_back_ != nullptr) {
    parts.emplace_back("write_back_queues", write_back_->QueueMemoryBytes());
  }
  // mallinfo2 walks every arena under its lock: cheap at a few arenas.
  const struct mallinfo2 heap = mallinfo2();
  parts.emplace_back("heap_in_use", heap.uordblks + heap.hblkhd);
  parts.emplace_back("heap_free", heap.fordblks);
  parts.emplace_back("rss", ResidentBytes());
  return parts;
}

std::vector<prometheus::MetricFamily> MemoryCollector::Collect() const {
  prometheus::MetricFamily family;
  family.name = "promewma_memory_bytes";
  family.help =
      "Memory by part: head, memtables, block_cache, table_readers, "
      "write_back_queues (what holds it), heap_in_use, heap_free, rss (the "
      "allocator's and the kernel's view).";
  family.type = prometheus::MetricType::Gauge;
  for (const auto& [part, bytes] : Parts()) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"part", part});
    metric.gauge.value = static_cast<double>(bytes);
    family.metric.push_back(std::move(metric));
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(std::move(family));
  auto counter = [&](const char* name, const char* help, double value) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = prometheus::MetricType::Counter;
    prometheus::ClientMetric metric;
    metric.counter.value = value;
    f.metric.push_back(std::move(metric));
    families.push_back(std::move(f));
  };
  counter("promewma_heap_trims_total",
          "Times free heap was given back to the kernel (malloc_trim): after "
          "each checkpoint, and when the heap trimmer found enough of it.",
          static_cast<double>(heap_trims.load()));
  counter("promewma_heap_trim_seconds_total",
          "Time spent giving free heap back; other threads' allocations wait "
          "for the arena a trim holds.",
          static_cast<double>(heap_trim_nanoseconds.load()) / 1e9);
  return families;
}

}  // namespace promewma::app
