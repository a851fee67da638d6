// Ring: a FIFO in one buffer that grows by doubling and never shrinks, so a
// queue that refills to about the same size all day stops allocating.
// Header-only (a template); no bound of its own: the owner keeps it within
// what it may hold.
//
// Thread-safety: none; the owner locks.

#ifndef PROMEWMA_WRITEBACK_RING_H_
#define PROMEWMA_WRITEBACK_RING_H_

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace promewma::writeback {

template <typename T>
class Ring {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Slots allocated (tests).
  size_t capacity() const { return slots_.size(); }

  // REQUIRES: !empty()
  T& front() { return slots_[head_]; }

  void push_back(T value) {
    if (size_ == slots_.size()) Grow();
    size_t tail = head_ + size_;
    if (tail >= slots_.size()) tail -= slots_.size();
    slots_[tail] = std::move(value);
    ++size_;
  }

  // REQUIRES: !empty()
  void pop_front() {
    if (++head_ == slots_.size()) head_ = 0;
    --size_;
  }

  void clear() { head_ = size_ = 0; }

 private:
  // Unrolls the entries, oldest first, into a buffer twice the size.
  void Grow() {
    std::vector<T> grown;
    grown.reserve(std::max<size_t>(kFirstSlots, 2 * slots_.size()));
    for (size_t i = 0; i < size_; ++i) {
      size_t at = head_ + i;
      if (at >= slots_.size()) at -= slots_.size();
      grown.push_back(std::move(slots_[at]));
    }
    grown.resize(grown.capacity());
    slots_ = std::move(grown);
    head_ = 0;
  }

  static constexpr size_t kFirstSlots = 64;

  std::vector<T> slots_;
  size_t head_ = 0;  // index of the front entry
  size_t size_ = 0;
};

}  // namespace promewma::writeback

#endif  // PROMEWMA_WRITEBACK_RING_H_
