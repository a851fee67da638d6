// SeriesGrouping: orders a batch of samples so that the samples of each
// series are adjacent, keeping their order within it, with the series in
// the order they first appear. The batch encoder then writes one
// TimeSeries per series instead of one per sample (a backfill sends many
// samples of one series at a time).
//
// A series is identified by a key: its label-set hash and a tag (which
// output). Two label sets with one hash land in one group, interleaved;
// the encoder compares label bytes before it merges samples, so that only
// makes more, shorter TimeSeries, never a wrong one.
//
// O(n) with an open-addressing table, where a sort by key cost ~7% of the
// CPU of a promewma writing back; and a batch whose series are all
// distinct (the usual one: one sample per series per scrape) comes back in
// its own order without being moved.
//
// Thread-safety: none; one per sender thread (it reuses its buffers).

#ifndef PROMEWMA_WRITEBACK_SERIES_GROUPING_H_
#define PROMEWMA_WRITEBACK_SERIES_GROUPING_H_

#include <cstdint>
#include <vector>

namespace promewma::writeback {

struct SeriesKey {
  uint64_t hash;
  uint64_t tag;
};

class SeriesGrouping {
 public:
  // Sets *order to a permutation of [0, keys.size()) as described above.
  void Order(const std::vector<SeriesKey>& keys, std::vector<uint32_t>* order);

 private:
  static constexpr uint32_t kEmpty = 0xffffffff;
  std::vector<uint32_t> slots_;  // table: group index, or kEmpty
  std::vector<SeriesKey> group_key_;
  std::vector<uint32_t> group_next_;  // per group: next output position
  std::vector<uint32_t> group_of_;    // per sample
};

}  // namespace promewma::writeback

#endif  // PROMEWMA_WRITEBACK_SERIES_GROUPING_H_
