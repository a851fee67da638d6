// Process-wide allocator settings for promewma's buffer sizes.
//
// Buffers of 1 MiB or more are mmapped on their own and unmapped when
// freed: decoded write bodies of large requests (500 series of an hour's
// samples: 2.9 MB) and RocksDB's memtable arena blocks (a memtable's
// eighth: 2.7 MB with the default memory.memtables), which are freed
// together at each flush. Kept in the heap, they came back as tens of
// megabytes of free heap among long-lived objects, which only a trim could
// return. At 100,000 series (README, Memory: 2 alternations of 3 rounds)
// the free heap after each round was 16-22 MB against 38-68, the peak RSS
// 212 and 221 MiB against 240 and 241, with 1-2 heap trims against 5-13,
// at the same CPU (94 and 100 s against 89 and 104). Remote reads stream
// their responses in 1 MiB pieces, and read_bench took the same time
// either way. glibc's own default (a threshold from 128 KiB rising with
// each mmapped buffer freed, up to 32 MiB) would soon keep them all in
// the heap again. Called once, first thing in main, by the server and by
// the benchmarks that model it.

#ifndef PROMEWMA_COMMON_ALLOCATOR_TUNING_H_
#define PROMEWMA_COMMON_ALLOCATOR_TUNING_H_

#include <malloc.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace promewma {

inline void TuneAllocatorForLargeBuffers() {
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

// Caps glibc's malloc arenas at `arenas` (0: leave glibc's default, 8 per
// core). Each arena keeps the buffers it freed for reuse; with one arena
// per server thread, every thread keeps its own, and the resident set grows
// with each hour of data instead of with the series. The MALLOC_ARENA_MAX
// environment variable, when set, is the operator's choice and wins.
// Returns whether the cap was set.
// REQUIRES: no other thread has been started yet.
inline bool LimitMallocArenas(int arenas) {
  if (arenas <= 0 || std::getenv("MALLOC_ARENA_MAX") != nullptr) return false;
  return mallopt(M_ARENA_MAX, arenas) == 1;
}

// Resident memory not in use by the heap: RSS (/proc/self/statm) minus
// mallinfo2's bytes in use. Right after a trim it is the code, stacks and
// pages malloc could not give back; what it gains after that is mostly
// free heap not given back yet.
inline int64_t ResidentNotInUse() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  const struct mallinfo2 heap = mallinfo2();
  return static_cast<int64_t>(resident * static_cast<uint64_t>(
                                             sysconf(_SC_PAGESIZE))) -
         static_cast<int64_t>(heap.uordblks + heap.hblkhd);
}

// ResidentNotInUse after the last trim.
inline std::atomic<int64_t> resident_not_in_use_after_trim{0};

// Trims done and the time they took, for /metrics: a trim holds the
// arenas' locks while it walks them, so this is the price of the bound.
inline std::atomic<uint64_t> heap_trims{0};
inline std::atomic<uint64_t> heap_trim_nanoseconds{0};

// Gives the free memory in every arena back to the kernel (malloc_trim),
// the middle of the heap included, which the trim threshold above never
// does. The next large buffers fault their pages in again, so this runs
// after each checkpoint and when HeapTrimmer finds enough to give back,
// not per request.
inline void ReleaseFreeHeap() {
  const auto start = std::chrono::steady_clock::now();
  malloc_trim(0);
  resident_not_in_use_after_trim.store(ResidentNotInUse());
  heap_trim_nanoseconds.fetch_add(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::steady_clock::now() - start)
          .count()));
  heap_trims.fetch_add(1);
}

// Free heap not given back since the last trim, estimated: how much more
// resident memory is not in use than right after it (HeapTrimmer's probe).
inline uint64_t UntrimmedFreeHeap() {
  const int64_t grown =
      ResidentNotInUse() - resident_not_in_use_after_trim.load();
  return grown > 0 ? static_cast<uint64_t>(grown) : 0;
}

}  // namespace promewma

#endif  // PROMEWMA_COMMON_ALLOCATOR_TUNING_H_
