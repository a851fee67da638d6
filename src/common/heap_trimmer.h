// HeapTrimmer: gives free heap back to the kernel (malloc_trim) soon after
// large buffers were released, from a thread of its own.
//
// A remote read builds its response in buffers of megabytes, kept out of
// mmap on purpose (allocator_tuning.h), and glibc keeps what they free for
// reuse: with reads running, RSS rose by hundreds of megabytes of free
// heap between two checkpoints' trims. Callers note the bytes they are
// about to free; once `threshold` bytes are noted, the trimmer waits
// `delay` (the buffers are freed meanwhile: a response is still being
// sent when its size is noted) and trims. A trim holds the arenas' locks
// for tens of milliseconds, so one runs at most once per `delay`, however
// many reads there are.
//
// Frees nobody notes pile up too: at 100,000 series request buffers and
// the flushed memtables' arenas left tens of megabytes of free heap
// between two checkpoints' trims. With an `untrimmed` probe
// (UntrimmedFreeHeap), the trimmer also asks it every `delay` and trims
// once it reports `threshold` bytes or more (memory.free_heap).
//
// Thread-safety: all methods are thread-safe.

#ifndef PROMEWMA_COMMON_HEAP_TRIMMER_H_
#define PROMEWMA_COMMON_HEAP_TRIMMER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace promewma {

class HeapTrimmer {
 public:
  // `trim` gives the free heap back (ReleaseFreeHeap; tests count calls).
  // `untrimmed`, when set, estimates the free heap not yet given back.
  HeapTrimmer(uint64_t threshold_bytes, std::chrono::milliseconds delay,
              void (*trim)(), uint64_t (*untrimmed)() = nullptr);
  // Stops the thread; a trim it was waiting for does not run.
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  // `bytes` of buffers are being freed now or very soon.
  void NoteReleased(uint64_t bytes);

  // Trims done so far.
  uint64_t trims() const;

 private:
  void Run();

  const uint64_t threshold_bytes_;
  const std::chrono::milliseconds delay_;
  void (*const trim_)();
  uint64_t (*const untrimmed_)();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t noted_ = 0;  // guarded by mu_: bytes since the last trim
  uint64_t trims_ = 0;  // guarded by mu_
  bool stop_ = false;   // guarded by mu_
  std::thread thread_;
};

}  // namespace promewma

#endif  // PROMEWMA_COMMON_HEAP_TRIMMER_H_
