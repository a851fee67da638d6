#include "writeback/series_grouping.h"

#include <cstddef>
#include <numeric>

namespace promewma::writeback {

void SeriesGrouping::Order(const std::vector<SeriesKey>& keys,
                           std::vector<uint32_t>* order) {
  const size_t n = keys.size();
  size_t table = 16;
  while (table < 2 * n) table <<= 1;  // at most half full
  const size_t mask = table - 1;
  slots_.assign(table, kEmpty);
  group_key_.clear();
  group_next_.clear();
  group_of_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const SeriesKey& k = keys[i];
    // The hash is a label-set hash already; the tag is mixed in so that a
    // series' outputs do not probe the same run of slots.
    size_t slot = (k.hash ^ (k.tag * 0x9e3779b97f4a7c15ULL)) & mask;
    while (true) {
      const uint32_t g = slots_[slot];
      if (g == kEmpty) {
        slots_[slot] = static_cast<uint32_t>(group_key_.size());
        group_of_[i] = static_cast<uint32_t>(group_key_.size());
        group_key_.push_back(k);
        group_next_.push_back(1);  // a count until the prefix sum below
        break;
      }
      if (group_key_[g].hash == k.hash && group_key_[g].tag == k.tag) {
        group_of_[i] = g;
        ++group_next_[g];
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  order->resize(n);
  if (group_key_.size() == n) {  // every series once: as they came
    std::iota(order->begin(), order->end(), 0u);
    return;
  }
  // Counting sort by group: counts become each group's first position.
  uint32_t position = 0;
  for (uint32_t& next : group_next_) {
    const uint32_t count = next;
    next = position;
    position += count;
  }
  for (size_t i = 0; i < n; ++i) {
    (*order)[group_next_[group_of_[i]]++] = static_cast<uint32_t>(i);
  }
}

}  // namespace promewma::writeback
