// LabelArena: owns the canonical label bytes of one shard's series, packed
// into large blocks. Nothing is freed one by one: the bytes of a series
// dropped from the head are counted as dead (Release), and once they
// outweigh the live ones the head copies the live label sets into a fresh
// arena and drops the old one (Head::CompactLabels). Packing saves the
// allocator's per-string header and rounding (about 24 bytes a series, at
// a million series).
//
// Thread-safety: none; the engine guards each arena with its shard mutex.

#ifndef PROMEWMA_HEAD_LABEL_ARENA_H_
#define PROMEWMA_HEAD_LABEL_ARENA_H_

#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace promewma::head {

class LabelArena {
 public:
  // A copy of `bytes` that lives as long as the arena.
  std::string_view Copy(std::string_view bytes) {
    if (bytes.empty()) return {};
    if (bytes.size() > kBlockBytes / 4) {
      // Rare (a label set over 16 KiB): an allocation of its own, so the
      // current block stays for the small sets that follow.
      large_.push_back(std::make_unique<char[]>(bytes.size()));
      large_bytes_ += bytes.size();
      std::memcpy(large_.back().get(), bytes.data(), bytes.size());
      return {large_.back().get(), bytes.size()};
    }
    if (blocks_.empty() || used_ + bytes.size() > kBlockBytes) {
      blocks_.push_back(std::make_unique<char[]>(kBlockBytes));
      used_ = 0;
    }
    char* out = blocks_.back().get() + used_;
    std::memcpy(out, bytes.data(), bytes.size());
    used_ += bytes.size();
    return {out, bytes.size()};
  }

  // Counts `bytes`, a copy this arena made, as no longer used.
  void Release(std::string_view bytes) { dead_bytes_ += bytes.size(); }
  size_t dead_bytes() const { return dead_bytes_; }

  // Bytes the arena holds (whole blocks, used or not).
  size_t memory_bytes() const {
    return blocks_.size() * kBlockBytes + large_bytes_;
  }

 private:
  static constexpr size_t kBlockBytes = 64 << 10;
  std::vector<std::unique_ptr<char[]>> blocks_;  // the last one is current
  size_t used_ = 0;                              // bytes used in it
  std::vector<std::unique_ptr<char[]>> large_;
  size_t large_bytes_ = 0;  // in large_
  size_t dead_bytes_ = 0;   // released copies, still held
};

}  // namespace promewma::head

#endif  // PROMEWMA_HEAD_LABEL_ARENA_H_
