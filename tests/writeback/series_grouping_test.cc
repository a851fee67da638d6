// SeriesGrouping: each series' samples adjacent and in their order, series
// in order of first appearance; distinct series keep the batch's order.

#include "writeback/series_grouping.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <vector>

namespace promewma::writeback {
namespace {

using Order = std::vector<uint32_t>;

TEST_CASE("series grouping keeps a batch of distinct series as it is") {
  std::vector<SeriesKey> keys;
  for (uint64_t i = 0; i < 1000; ++i) keys.push_back({i * 0x10001, i % 2});
  SeriesGrouping grouping;
  Order order;
  grouping.Order(keys, &order);
  Order identity(keys.size());
  for (uint32_t i = 0; i < identity.size(); ++i) identity[i] = i;
  REQUIRE(order == identity);
  grouping.Order({}, &order);
  REQUIRE(order.empty());
}

TEST_CASE("series grouping puts each series' samples together, in order") {
  // Series a and b, two outputs each, interleaved as a backfill's derived
  // samples are; c once. Hashes collide on purpose in the table's low bits.
  const SeriesKey a1{0x100, 1}, a2{0x100, 2}, b1{0x200, 1}, b2{0x200, 2},
      c1{0x300, 1};
  const std::vector<SeriesKey> keys = {a1, a2, b1, b2, c1, a1, a2, b1, b2, a1};
  SeriesGrouping grouping;
  Order order;
  grouping.Order(keys, &order);
  REQUIRE(order == Order{0, 5, 9, 1, 6, 2, 7, 3, 8, 4});
}

TEST_CASE("series grouping agrees with a stable sort by first appearance") {
  std::mt19937_64 rng(11);
  SeriesGrouping grouping;  // reused across batches, as a sender does
  for (int batch = 0; batch < 50; ++batch) {
    std::vector<SeriesKey> keys;
    const int series = 1 + static_cast<int>(rng() % 300);
    const int n = static_cast<int>(rng() % 2000);
    for (int i = 0; i < n; ++i) {
      const uint64_t s = rng() % series;
      keys.push_back({s * 0x9e3779b97f4a7c15ULL >> (s % 3 * 8), s % 2});
    }
    Order order;
    grouping.Order(keys, &order);
    // The reference: group index by first appearance, then stable.
    std::vector<std::pair<size_t, uint32_t>> ref;
    std::vector<SeriesKey> firsts;
    for (uint32_t i = 0; i < keys.size(); ++i) {
      size_t g = 0;
      while (g < firsts.size() && !(firsts[g].hash == keys[i].hash &&
                                    firsts[g].tag == keys[i].tag)) {
        ++g;
      }
      if (g == firsts.size()) firsts.push_back(keys[i]);
      ref.push_back({g, i});
    }
    std::stable_sort(ref.begin(), ref.end(), [](const auto& x, const auto& y) {
      return x.first < y.first;
    });
    Order want;
    for (const auto& [g, i] : ref) want.push_back(i);
    REQUIRE(order == want);
  }
}

}  // namespace
}  // namespace promewma::writeback
