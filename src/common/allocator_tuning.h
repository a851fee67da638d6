// Process-wide allocator settings for promewma's buffer sizes.
//
// Remote-read responses and decoded write bodies are megabytes each. By
// default glibc mmaps and unmaps every such buffer, so each request pays
// page faults on memory it just gave back: a fifth of a remote read in
// read_bench. Keeping them in the heap removes that. Called once, first
// thing in main, by the server and by the benchmarks that model it.

#ifndef PROMEWMA_COMMON_ALLOCATOR_TUNING_H_
#define PROMEWMA_COMMON_ALLOCATOR_TUNING_H_

#include <malloc.h>

namespace promewma {

inline void TuneAllocatorForLargeBuffers() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

}  // namespace promewma

#endif  // PROMEWMA_COMMON_ALLOCATOR_TUNING_H_
