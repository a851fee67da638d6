// Warm start's state machine over an in-memory database and a fake history
// source: a new series is held, warmed from history, then continues from
// the warmed state; a failed or slow read starts it cold with what it
// held; the held samples are bounded; known and ignored series pass.

#include "warmstart/warm_start.h"

#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "codec/snappy_block.h"
#include "codec/write_request.h"
#include "db/database.h"
#include "ewma/series_estimator.h"
#include "head/head.h"
#include "model/labels.h"
#include "testing/remote_write.h"

namespace promewma::warmstart {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kStepMs = 10000;

double ValueAt(int i) { return 40 + 15 * std::sin(i / 9.0) + (i % 5) * 0.7; }

std::string Labels(const std::string& instance) {
  std::vector<model::Label> labels = {{"__name__", "cpu"},
                                      {"instance", instance}};
  std::string out;
  REQUIRE(model::EncodeLabelSet(&labels, &out).ok());
  return out;
}

// History the fake serves: samples [0, n) of every series it is asked for,
// or an error; Read blocks while `blocked`, or sleeps `delay`.
class FakeSource : public HistorySource {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool blocked = false;
    int samples = 0;
    bool fail = false;
    std::chrono::milliseconds delay{0};
    int reads = 0;
    int64_t last_start_ms = 0, last_end_ms = 0;
  };
  explicit FakeSource(Shared* shared) : shared_(shared) {}

  Result<remote::ReadSeries> Read(std::string_view labels, int64_t start_ms,
                                  int64_t end_ms,
                                  std::chrono::milliseconds) override {
    std::unique_lock<std::mutex> lock(shared_->mu);
    shared_->cv.wait(lock, [this] { return !shared_->blocked; });
    ++shared_->reads;
    shared_->last_start_ms = start_ms;
    shared_->last_end_ms = end_ms;
    const auto delay = shared_->delay;
    const bool fail = shared_->fail;
    const int n = shared_->samples;
    lock.unlock();
    std::this_thread::sleep_for(delay);
    if (fail) return Status::Unavailable("source down");
    remote::ReadSeries series;
    series.labels = std::string(labels);
    for (int i = 0; i < n; ++i) {
      if (i * kStepMs < start_ms || i * kStepMs > end_ms) continue;
      series.timestamps_ms.push_back(i * kStepMs);
      series.values.push_back(ValueAt(i));
    }
    return series;
  }

 private:
  Shared* shared_;
};

struct Fixture {
  explicit Fixture(config::WarmStartConfig warm = {},
                   head::HeadOptions options = {})
      : db([&] {
          options.collect_derived = true;
          return options;
        }()),
        warm_start(warm, &db,
                   [this] { return std::make_unique<FakeSource>(&source); },
                   registry) {
    warm_start.Start();
    db.SetSeriesGate(&warm_start);
  }
  ~Fixture() {
    {
      std::lock_guard<std::mutex> lock(source.mu);
      source.blocked = false;
    }
    source.cv.notify_all();
    db.SetSeriesGate(nullptr);
    warm_start.Stop();
  }

  // Sends samples [first, last) of cpu{instance}; returns the status.
  Status Send(const std::string& instance, int first, int last,
              head::ApplyResult* result = nullptr) {
    testing::TestSeries series;
    series.labels = {{"__name__", "cpu"}, {"instance", instance}};
    for (int i = first; i < last; ++i) {
      series.samples.push_back({i * kStepMs, ValueAt(i)});
    }
    raw = testing::SerializeWriteRequest({series});
    codec::DecodedWriteRequest decoded;
    REQUIRE(codec::DecodeWriteRequest(raw, &decoded).ok());
    head::ApplyResult local;
    return db.Ingest(decoded, codec::CompressSnappyBlock(raw),
                     result != nullptr ? result : &local);
  }

  void Block(bool blocked) {
    {
      std::lock_guard<std::mutex> lock(source.mu);
      source.blocked = blocked;
    }
    source.cv.notify_all();
  }

  // The latest (timestamp, ewma, upper threshold) of cpu{instance}.
  std::tuple<int64_t, double, double> Latest(const std::string& instance) {
    std::tuple<int64_t, double, double> out{-1, 0, 0};
    db.head()->VisitLatest([&](const head::LatestDerived& d) {
      if (d.labels.Get("instance") != instance) return;
      out = {d.timestamp_ms, d.values.get(ewma::Output::kEwma),
             d.values.has(ewma::Output::kUpperThreshold)
                 ? d.values.get(ewma::Output::kUpperThreshold)
                 : NAN};
    });
    return out;
  }

  FakeSource::Shared source;
  prometheus::Registry registry;
  db::Database db;
  WarmStart warm_start;
  std::string raw;
};

// The estimator over samples [first, last), uninterrupted.
std::tuple<int64_t, double, double> Uninterrupted(int first, int last) {
  ewma::EstimatorParams params;
  ewma::EstimatorState state;
  ewma::DerivedValues v;
  for (int i = first; i < last; ++i) {
    ewma::UpdateEstimator(params, &state, i * kStepMs, ValueAt(i), &v);
  }
  return {(last - 1) * kStepMs, v.get(ewma::Output::kEwma),
          v.has(ewma::Output::kUpperThreshold)
              ? v.get(ewma::Output::kUpperThreshold)
              : NAN};
}

bool HeadKnows(const db::Database& db, const std::string& instance) {
  const std::string labels = Labels(instance);
  return db.head()->Knows(model::HashLabelSet(labels), labels);
}

TEST_CASE(
    "a new series is held while its history is read, then continues from "
    "the warmed state exactly as an uninterrupted run") {
  config::WarmStartConfig warm;
  warm.lookback = std::chrono::milliseconds(500 * kStepMs);
  Fixture f(warm);
  f.source.samples = 1000;  // the source has more than the lookback
  f.Block(true);

  head::ApplyResult result;
  REQUIRE(f.Send("a", 600, 610, &result).ok());
  // Held: nothing applied or emitted, the head does not know the series.
  CHECK(result.applied == 0);
  CHECK(result.derived.empty());
  CHECK_FALSE(HeadKnows(f.db, "a"));
  CHECK(f.warm_start.held_series() == 1);
  CHECK(f.warm_start.held_samples() == 10);
  // More live samples while it warms are held behind the first.
  REQUIRE(f.Send("a", 610, 620).ok());
  CHECK(f.warm_start.held_samples() == 20);

  f.Block(false);
  REQUIRE(f.warm_start.WaitIdle(10s));
  // History ends before the first live sample, and reaches back lookback.
  CHECK(f.source.last_end_ms == 600 * kStepMs - 1);
  CHECK(f.source.last_start_ms == 600 * kStepMs - 500 * kStepMs);
  CHECK(f.warm_start.series(WarmResult::kWarmed) == 1);
  CHECK(f.warm_start.held_samples() == 0);
  REQUIRE(HeadKnows(f.db, "a"));
  // The samples after, applied directly, continue the same state.
  REQUIRE(f.Send("a", 620, 630, &result).ok());
  CHECK(result.applied == 10);
  CHECK(f.Latest("a") == Uninterrupted(100, 630));
}

TEST_CASE("a failed read starts the series cold with the samples it held") {
  Fixture f;
  f.source.fail = true;
  REQUIRE(f.Send("a", 600, 620).ok());
  REQUIRE(f.warm_start.WaitIdle(10s));
  CHECK(f.warm_start.series(WarmResult::kFailed) == 1);
  CHECK(f.Latest("a") == Uninterrupted(600, 620));
}

TEST_CASE("a source without history before the first sample starts it cold") {
  Fixture f;
  f.source.samples = 0;
  REQUIRE(f.Send("a", 600, 620).ok());
  REQUIRE(f.warm_start.WaitIdle(10s));
  CHECK(f.warm_start.series(WarmResult::kEmpty) == 1);
  CHECK(f.Latest("a") == Uninterrupted(600, 620));
}

TEST_CASE("a read that outlasts the budget starts the series cold") {
  config::WarmStartConfig warm;
  warm.budget = 100ms;
  Fixture f(warm);
  f.source.samples = 1000;
  f.source.delay = 400ms;
  REQUIRE(f.Send("a", 600, 620).ok());
  REQUIRE(f.warm_start.WaitIdle(10s));
  CHECK(f.warm_start.series(WarmResult::kFailed) == 1);
  CHECK(f.warm_start.series(WarmResult::kWarmed) == 0);
  CHECK(f.Latest("a") == Uninterrupted(600, 620));
}

TEST_CASE(
    "held samples are bounded: a new series that does not fit starts cold "
    "and a request adding to a held series is refused whole") {
  config::WarmStartConfig warm;
  warm.max_held_samples = 15;
  // The history read is [100, 600): the default spread remembers far
  // longer than the lookback, so the reference must start where it does.
  warm.lookback = std::chrono::milliseconds(500 * kStepMs);
  Fixture f(warm);
  f.source.samples = 1000;
  f.Block(true);
  REQUIRE(f.Send("a", 600, 610).ok());
  CHECK(f.warm_start.held_samples() == 10);
  // 10 more would not fit: "b" starts cold at once.
  head::ApplyResult result;
  REQUIRE(f.Send("b", 600, 610, &result).ok());
  CHECK(result.applied == 10);
  CHECK(f.warm_start.series(WarmResult::kSkipped) == 1);
  CHECK(HeadKnows(f.db, "b"));
  // 10 more for the held "a" would not fit: refused, nothing held.
  Status refused = f.Send("a", 610, 620);
  CHECK(refused.code() == StatusCode::kUnavailable);
  CHECK(f.warm_start.held_samples() == 10);
  f.Block(false);
  REQUIRE(f.warm_start.WaitIdle(10s));
  // The sender's retry is accepted once "a" is warm.
  REQUIRE(f.Send("a", 610, 620).ok());
  CHECK(f.Latest("a") == Uninterrupted(100, 620));
}

TEST_CASE(
    "known series and series the head ignores pass through the gate, and "
    "only the new series of a mixed request is held") {
  head::HeadOptions options;
  Result<model::Selector> selector =
      model::Selector::Parse("cpu{instance=~\"a|b\"}");
  REQUIRE(selector.ok());
  options.rules.push_back(head::SeriesRule{*selector, ewma::EstimatorParams{}});
  Fixture f({}, options);
  f.source.samples = 1000;
  f.source.fail = true;
  REQUIRE(f.Send("a", 600, 610).ok());
  REQUIRE(f.warm_start.WaitIdle(10s));
  CHECK(f.warm_start.series(WarmResult::kFailed) == 1);

  // "z" matches no rule: the head ignores it, nothing to warm.
  head::ApplyResult result;
  REQUIRE(f.Send("z", 600, 610, &result).ok());
  CHECK(f.warm_start.held_series() == 0);
  CHECK(f.source.reads == 1);

  // One request with the known "a" and the new "b": "a" is applied now.
  f.source.fail = false;
  f.Block(true);
  testing::TestSeries a, b;
  a.labels = {{"__name__", "cpu"}, {"instance", "a"}};
  b.labels = {{"__name__", "cpu"}, {"instance", "b"}};
  for (int i = 610; i < 620; ++i) {
    a.samples.push_back({i * kStepMs, ValueAt(i)});
    b.samples.push_back({i * kStepMs, ValueAt(i)});
  }
  const std::string raw = testing::SerializeWriteRequest({a, b});
  codec::DecodedWriteRequest decoded;
  REQUIRE(codec::DecodeWriteRequest(raw, &decoded).ok());
  REQUIRE(f.db.Ingest(decoded, codec::CompressSnappyBlock(raw), &result).ok());
  CHECK(result.applied == 10);
  CHECK(f.warm_start.held_series() == 1);
  CHECK(f.Latest("a") == Uninterrupted(600, 620));
  f.Block(false);
  REQUIRE(f.warm_start.WaitIdle(10s));
  // The default lookback (6h) reaches back past the source's first sample.
  CHECK(f.Latest("b") == Uninterrupted(0, 620));
}

TEST_CASE("stopping applies every series still held before it returns") {
  Fixture f;
  f.source.samples = 1000;
  f.Block(true);
  REQUIRE(f.Send("a", 600, 620).ok());
  // The worker is blocked in its read (or has not taken the series yet):
  // Stop waits for it, or applies the series cold itself.
  std::thread unblock([&] {
    std::this_thread::sleep_for(100ms);
    f.Block(false);
  });
  f.db.SetSeriesGate(nullptr);
  f.warm_start.Stop();
  unblock.join();
  CHECK(f.warm_start.held_series() == 0);
  REQUIRE(HeadKnows(f.db, "a"));
  CHECK(std::get<0>(f.Latest("a")) == 619 * kStepMs);
}

}  // namespace
}  // namespace promewma::warmstart
