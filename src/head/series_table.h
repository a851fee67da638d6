// SeriesTable<T>: open-addressing hash index from a label-set hash to the
// object that owns that label set. The label hash is already a good 64-bit
// hash (XXH3), so the table uses it directly: linear probing on its low bits,
// and a full label comparison only when the stored hash matches, which
// guards against (astronomically rare) hash collisions.
//
// T must expose `std::string_view labels() const`. The table does not own
// the objects; their addresses must stay stable while indexed.
//
// Thread-safety: none; the engine guards each table with its shard mutex.

#ifndef PROMEWMA_HEAD_SERIES_TABLE_H_
#define PROMEWMA_HEAD_SERIES_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace promewma::head {

template <typename T>
class SeriesTable {
 public:
  SeriesTable() : slots_(kInitialSlots) {}

  // The object with these labels, or nullptr.
  T* Find(uint64_t hash, std::string_view labels) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.object == nullptr) return nullptr;
      if (s.hash == hash && s.object->labels() == labels) return s.object;
    }
  }

  // REQUIRES: no object with the same labels is indexed.
  void Insert(uint64_t hash, T* object) {
    // Grow at 1/2 load: probes stay short and a slot is only 16 bytes.
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    Place(hash, object);
    ++size_;
  }

  // Removes `object`, indexed under `hash`. Backward-shift deletion: the
  // entries after it in its probe run move up, so no tombstone is left and
  // lookups stay as short as if it had never been inserted.
  // REQUIRES: `object` is indexed under `hash`.
  void Erase(uint64_t hash, const T* object) {
    const size_t mask = slots_.size() - 1;
    size_t hole = hash & mask;
    while (slots_[hole].object != object) hole = (hole + 1) & mask;
    for (size_t j = (hole + 1) & mask; slots_[j].object != nullptr;
         j = (j + 1) & mask) {
      // An entry may fill the hole unless its home slot lies cyclically in
      // (hole, j]: then it would move before its home and be lost to Find.
      const size_t home = slots_[j].hash & mask;
      const bool home_after_hole =
          hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (home_after_hole) continue;
      slots_[hole] = slots_[j];
      hole = j;
    }
    slots_[hole] = Slot{};
    --size_;
  }

  size_t size() const { return size_; }
  // Bytes of the index itself (the objects are not the table's).
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t hash = 0;
    T* object = nullptr;
  };
  static constexpr size_t kInitialSlots = 16;  // power of two

  void Place(uint64_t hash, T* object) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    while (slots_[i].object != nullptr) i = (i + 1) & mask;
    slots_[i] = Slot{hash, object};
  }

  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.object != nullptr) Place(s.hash, s.object);
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace promewma::head

#endif  // PROMEWMA_HEAD_SERIES_TABLE_H_
