#include "common/heap_trimmer.h"

#include "common/thread_role.h"

namespace promewma {

HeapTrimmer::HeapTrimmer(uint64_t threshold_bytes,
                         std::chrono::milliseconds delay, void (*trim)(),
                         uint64_t (*untrimmed)())
    : threshold_bytes_(threshold_bytes),
      delay_(delay),
      trim_(trim),
      untrimmed_(untrimmed),
      thread_([this] { Run(); }) {}

HeapTrimmer::~HeapTrimmer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HeapTrimmer::NoteReleased(uint64_t bytes) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake = noted_ < threshold_bytes_ && noted_ + bytes >= threshold_bytes_;
    noted_ += bytes;
  }
  if (wake) cv_.notify_all();
}

uint64_t HeapTrimmer::trims() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trims_;
}

void HeapTrimmer::Run() {
  SetThisThreadRole("heap-trim", ThreadRole::kBackground);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    auto noted = [this] { return stop_ || noted_ >= threshold_bytes_; };
    bool probed = false;
    if (untrimmed_ == nullptr) {
      cv_.wait(lock, noted);
    } else if (!cv_.wait_for(lock, delay_, noted)) {
      // Nothing noted: trim only if the probe finds enough to give back.
      lock.unlock();
      const bool due = untrimmed_() >= threshold_bytes_;
      lock.lock();
      if (!stop_ && !due) continue;
      probed = true;  // already freed: trimmed now; the poll spaces these
    }
    if (stop_) return;
    // Let the noted buffers go first; this also spaces the trims out.
    if (!probed && cv_.wait_for(lock, delay_, [this] { return stop_; })) {
      return;
    }
    noted_ = 0;
    lock.unlock();
    trim_();
    lock.lock();
    ++trims_;
  }
}

}  // namespace promewma
