// Dropped-series records: a read of one metric finds that metric's records
// by name without visiting the others; records of the layout before names
// were in the keys are still found, whatever the name, and expire.

#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "head/head.h"
#include "head/time_bucket.h"
#include "model/labels.h"
#include "store/store.h"
#include "testing/subprocess.h"

namespace promewma::store {
namespace {

using testing::TempDir;

head::DroppedSeries Dropped(const std::string& name, const std::string& host,
                            int64_t last_ms) {
  std::vector<model::Label> labels = {{"__name__", name}, {"host", host}};
  head::DroppedSeries d;
  REQUIRE(model::EncodeLabelSet(&labels, &d.labels).ok());
  d.labels_hash = std::hash<std::string>{}(d.labels);  // opaque to the store
  d.outputs = 0b11;
  d.last_timestamp_ms = last_ms;
  return d;
}

// "name{host=...}" of each record visited, and how many visits.
struct Seen {
  std::multiset<std::string> series;
  std::function<Status(const head::DroppedSeries&)> Visitor() {
    return [this](const head::DroppedSeries& d) {
      const model::LabelSetView labels(d.labels);
      REQUIRE(d.labels_hash == std::hash<std::string>{}(d.labels));
      REQUIRE(d.outputs == 0b11);
      series.insert(labels.ToString());
      return Status::Ok();
    };
  }
};

std::unique_ptr<Store> OpenStore(const std::string& dir) {
  auto store = Store::Open(StoreOptions{dir});
  REQUIRE(store.ok());
  return std::move(store).value();
}

TEST_CASE("the dropped series of one metric are found by its name alone") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  REQUIRE(store
              ->WriteDroppedSeries({Dropped("cpu", "a", 1000),
                                    Dropped("cpu", "b", 1000),
                                    Dropped("cpu_total", "a", 1000),
                                    Dropped("mem", "a", 1000)})
              .ok());
  Seen cpu;
  REQUIRE(store->ViewDroppedSeries()->VisitNamed({"cpu"}, cpu.Visitor()).ok());
  // Not cpu_total, whose name starts with "cpu".
  CHECK(cpu.series == std::multiset<std::string>{"cpu{host=\"a\"}",
                                                 "cpu{host=\"b\"}"});
  Seen two;
  REQUIRE(store->ViewDroppedSeries()
              ->VisitNamed({"mem", "cpu_total"}, two.Visitor())
              .ok());
  CHECK(two.series == std::multiset<std::string>{"cpu_total{host=\"a\"}",
                                                 "mem{host=\"a\"}"});
  Seen none;
  REQUIRE(store->ViewDroppedSeries()->VisitNamed({"disk"}, none.Visitor()).ok());
  CHECK(none.series.empty());
  Seen all;
  REQUIRE(store->VisitDroppedSeries(all.Visitor()).ok());
  CHECK(all.series.size() == 4);

  // A series recorded again replaces its record: still one visit.
  REQUIRE(store->WriteDroppedSeries({Dropped("cpu", "a", 2000)}).ok());
  Seen again;
  REQUIRE(store->ViewDroppedSeries()->VisitNamed({"cpu"}, again.Visitor()).ok());
  CHECK(again.series.size() == 2);
}

TEST_CASE("the dropped series whose names start with a prefix are found "
          "by it alone, each once") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  REQUIRE(store
              ->WriteDroppedSeries({Dropped("cpu", "a", 1000),
                                    Dropped("cpu_total", "a", 1000),
                                    Dropped("cp", "a", 1000),
                                    Dropped("mem", "a", 1000)})
              .ok());
  Seen cpu;
  REQUIRE(store->ViewDroppedSeries()
              ->VisitSelected(MetricNames{{}, {"cpu"}}, cpu.Visitor())
              .ok());
  CHECK(cpu.series == std::multiset<std::string>{"cpu{host=\"a\"}",
                                                 "cpu_total{host=\"a\"}"});
  // A name under the prefix is not visited twice; one outside it is.
  Seen mixed;
  REQUIRE(store->ViewDroppedSeries()
              ->VisitSelected(MetricNames{{"cpu_total", "cp"}, {"cpu"}},
                              mixed.Visitor())
              .ok());
  CHECK(mixed.series == std::multiset<std::string>{"cpu{host=\"a\"}",
                                                   "cpu_total{host=\"a\"}",
                                                   "cp{host=\"a\"}"});
}

TEST_CASE("dropped series recorded by an older promewma are still found, "
          "whatever the name, and expire like the others") {
  TempDir dir;
  const int64_t bucket_ms = head::kDefaultChunkBucketMs;
  {
    auto store = OpenStore(dir.path());
    REQUIRE(store
                ->WriteLegacyDroppedSeriesForTest(
                    {Dropped("cpu", "old", 1000),
                     Dropped("cpu", "kept", 3 * bucket_ms)})
                .ok());
    REQUIRE(store->WriteDroppedSeries({Dropped("cpu", "new", 1000),
                                       Dropped("mem", "new", 3 * bucket_ms)})
                .ok());
  }
  auto store = OpenStore(dir.path());  // and after a restart
  Seen by_name;
  REQUIRE(store->ViewDroppedSeries()->VisitNamed({"mem"}, by_name.Visitor()).ok());
  CHECK(by_name.series ==
        std::multiset<std::string>{"cpu{host=\"old\"}", "cpu{host=\"kept\"}",
                                   "mem{host=\"new\"}"});
  Seen all;
  REQUIRE(store->VisitDroppedSeries(all.Visitor()).ok());
  CHECK(all.series.size() == 4);

  // Retention up to bucket 2: the records whose newest sample is before it
  // go, in both layouts.
  REQUIRE(store->DropBucketsBefore(2).ok());
  Seen left;
  REQUIRE(store->VisitDroppedSeries(left.Visitor()).ok());
  CHECK(left.series == std::multiset<std::string>{"cpu{host=\"kept\"}",
                                                  "mem{host=\"new\"}"});
}

}  // namespace
}  // namespace promewma::store
