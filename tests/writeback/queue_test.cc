// WriteBackQueue with a fake Sender: ordering, batching, retries, drops,
// backpressure, acknowledgement and shutdown. Durations are small and no
// assertion depends on timing: the tests wait for outcomes, bounded.

#include "writeback/queue.h"

#include <sched.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "codec/snappy_block.h"
#include "common/thread_role.h"
#include "model/labels.h"
#include "remote.pb.h"

namespace promewma::writeback {
namespace {

using remote::ClientConfig;
using remote::Sender;
using remote::SendResult;

using std::chrono::milliseconds;

struct SentSample {
  std::string series;  // value of label "s"
  int64_t timestamp_ms;
  double value;
};

SendResult Answer(SendResult::Outcome outcome, int status) {
  return SendResult{outcome, status, "answer " + std::to_string(status),
                    std::nullopt};
}

// Shared by every shard's FakeSender: decodes and records each attempt and
// answers what `respond` says (by global attempt number).
class FakeTarget {
 public:
  std::function<SendResult(int attempt)> respond = [](int) {
    return SendResult{SendResult::kSent, 204, "", std::nullopt};
  };

  // Runs on the shard threads, where Catch2 assertions are not allowed: an
  // undecodable body is counted and the tests check the count.
  SendResult Handle(std::string_view body) {
    std::string raw;
    prometheus::WriteRequest req;
    if (!codec::DecompressSnappyBlock(body, 1 << 30, &raw).ok() ||
        !req.ParseFromString(raw)) {
      std::lock_guard<std::mutex> lock(mu);
      ++undecodable;
      return Answer(SendResult::kDrop, 400);
    }
    std::vector<SentSample> batch;
    for (const auto& ts : req.timeseries()) {
      std::string series;
      for (const auto& l : ts.labels()) {
        if (l.name() == "s") series = l.value();
      }
      for (const auto& s : ts.samples()) {
        batch.push_back({series, s.timestamp(), s.value()});
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    const int attempt = attempts++;
    SendResult r = respond(attempt);
    bodies.emplace_back(body);
    if (r.outcome == SendResult::kSent) {
      for (const SentSample& s : batch) {
        ++delivered_per_value[static_cast<int64_t>(s.value)];
      }
      delivered.push_back(std::move(batch));
    }
    return r;
  }

  std::mutex mu;
  int undecodable = 0;
  int attempts = 0;
  std::vector<std::string> bodies;                 // every attempt
  std::vector<std::vector<SentSample>> delivered;  // successful batches
  std::map<int64_t, int> delivered_per_value;
};

class FakeSender : public Sender {
 public:
  explicit FakeSender(FakeTarget* target) : target_(target) {}
  SendResult Send(std::string_view body) override {
    return target_->Handle(body);
  }

 private:
  FakeTarget* target_;
};

SenderFactory FactoryFor(FakeTarget* target) {
  return [target] { return std::make_unique<FakeSender>(target); };
}

// The label set of series `s`, held for the whole test run: queued
// samples only view their labels.
std::string_view SeriesLabels(const std::string& s) {
  static std::set<std::string> held;
  std::vector<model::Label> labels = {{"__name__", "cpu:ewma"}, {"s", s}};
  std::string out;
  REQUIRE(model::EncodeLabelSet(&labels, &out).ok());
  return *held.insert(std::move(out)).first;
}

// A sample of series "s<series>"; the hash is the series number, so the
// test controls the shard.
QueuedSample Sample(int series, int64_t ts, double value) {
  return QueuedSample{SeriesLabels("s" + std::to_string(series)),
                      static_cast<uint64_t>(series), ts, value};
}

QueueConfig FastConfig() {
  QueueConfig c;
  c.batch_send_deadline = milliseconds(5);
  c.min_backoff = milliseconds(1);
  c.max_backoff = milliseconds(4);
  c.max_retry_duration = milliseconds(10000);
  return c;
}

template <typename Pred>
bool WaitFor(Pred pred, milliseconds limit = milliseconds(10000)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

TEST_CASE("queue keeps each series' order and bounds batch size") {
  FakeTarget target;
  QueueConfig config = FastConfig();
  config.max_shards = 3;
  config.max_samples_per_send = 10;
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
  REQUIRE(queue.stats().shards.load() == 3);
  constexpr int kSeries = 7, kPerSeries = 40;
  uint64_t seq = 0;
  for (int t = 0; t < kPerSeries; t += 4) {
    std::vector<QueuedSample> samples;
    for (int s = 0; s < kSeries; ++s) {
      for (int k = t; k < t + 4; ++k) samples.push_back(Sample(s, k, k));
    }
    REQUIRE(queue.TryEnqueue(std::move(samples), ++seq));
  }
  queue.Stop(milliseconds(10000));
  CHECK(queue.stats().samples_sent.load() == kSeries * kPerSeries);
  CHECK(queue.stats().samples_pending.load() == 0);
  CHECK(queue.AcknowledgedThrough() == seq);

  std::map<std::string, std::vector<int64_t>> per_series;
  size_t total = 0;
  for (const auto& batch : target.delivered) {
    CHECK(batch.size() <= 10);
    CHECK(!batch.empty());
    total += batch.size();
    for (const SentSample& s : batch) {
      per_series[s.series].push_back(s.timestamp_ms);
    }
  }
  CHECK(total == kSeries * kPerSeries);
  CHECK(target.undecodable == 0);
  REQUIRE(per_series.size() == kSeries);
  for (const auto& [series, timestamps] : per_series) {
    CAPTURE(series);
    REQUIRE(timestamps.size() == kPerSeries);
    for (int k = 0; k < kPerSeries; ++k) CHECK(timestamps[k] == k);
  }
  CHECK(queue.stats().highest_sent_timestamp_ms.load() == kPerSeries - 1);
  CHECK(queue.stats().send_duration.count.load() ==
        static_cast<uint64_t>(target.attempts));
}

TEST_CASE("queue sends each derived series of a batch as one TimeSeries") {
  // A backfill request: many samples of one input series, each expanded to
  // :ewma and :upper_threshold, interleaved; plus a second input series.
  static constexpr std::string_view kEwma = ":ewma", kUpper = ":upper_threshold";
  FakeTarget target;
  QueueConfig config = FastConfig();
  config.max_shards = 1;
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
  std::vector<model::Label> a = {{"__name__", "cpu"}, {"s", "a"}};
  std::vector<model::Label> b = {{"__name__", "cpu"}, {"s", "b"}};
  std::string la, lb;
  REQUIRE(model::EncodeLabelSet(&a, &la).ok());
  REQUIRE(model::EncodeLabelSet(&b, &lb).ok());
  std::vector<QueuedSample> samples;
  for (int t = 0; t < 50; ++t) {
    for (const std::string* labels : {&la, &lb}) {
      const uint64_t hash = model::HashLabelSet(*labels);
      samples.push_back(QueuedSample{*labels, hash, t, t + 0.5, kEwma});
      samples.push_back(QueuedSample{*labels, hash, t, t + 0.25, kUpper});
    }
  }
  REQUIRE(queue.TryEnqueue(std::move(samples), 1));
  queue.Stop(milliseconds(10000));
  REQUIRE(target.bodies.size() == 1);

  std::string raw;
  REQUIRE(codec::DecompressSnappyBlock(target.bodies[0], 1 << 30, &raw).ok());
  prometheus::WriteRequest req;
  REQUIRE(req.ParseFromString(raw));
  REQUIRE(req.timeseries_size() == 4);
  std::set<std::string> seen;
  for (const auto& ts : req.timeseries()) {
    std::string name, s;
    for (const auto& l : ts.labels()) {
      if (l.name() == "__name__") name = l.value();
      if (l.name() == "s") s = l.value();
    }
    seen.insert(name + "/" + s);
    const double offset = name == "cpu:ewma" ? 0.5 : 0.25;
    REQUIRE(ts.samples_size() == 50);
    for (int t = 0; t < 50; ++t) {
      CHECK(ts.samples(t).timestamp() == t);
      CHECK(ts.samples(t).value() == t + offset);
    }
  }
  CHECK(seen == std::set<std::string>{"cpu:ewma/a", "cpu:ewma/b",
                                      "cpu:upper_threshold/a",
                                      "cpu:upper_threshold/b"});
}

TEST_CASE("queue sends a partial batch once its deadline passes") {
  FakeTarget target;
  QueueConfig config = FastConfig();
  config.max_shards = 1;
  config.max_samples_per_send = 1000;
  config.batch_send_deadline = milliseconds(20);
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
  REQUIRE(queue.TryEnqueue({Sample(1, 1, 1), Sample(1, 2, 2), Sample(2, 1, 3)},
                           1));
  // No Stop: only the deadline can make the shard send this.
  REQUIRE(WaitFor([&] { return queue.stats().samples_sent.load() == 3; }));
  std::lock_guard<std::mutex> lock(target.mu);
  REQUIRE(target.delivered.size() == 1);
  CHECK(target.delivered[0].size() == 3);
  CHECK(queue.AcknowledgedThrough() == 1);
}

TEST_CASE("a shard thread wakes once per batch, not once per call") {
  FakeTarget target;
  QueueConfig config = FastConfig();
  config.max_shards = 2;
  config.max_samples_per_send = 100;
  config.batch_send_deadline = milliseconds(60'000);  // only full batches go
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
  // 150 calls of one sample for each shard, a moment apart so that each
  // call finds its shard's thread waiting: a wake-up per call would show
  // as about 300.
  for (int i = 0; i < 150; ++i) {
    REQUIRE(queue.TryEnqueue({Sample(0, i, i), Sample(1, i, i)},
                             static_cast<uint64_t>(i + 1)));
    std::this_thread::sleep_for(milliseconds(1));
  }
  // Each shard sent its one full batch and holds the other 50 samples.
  REQUIRE(WaitFor([&] { return queue.stats().samples_sent.load() == 200; }));
  CHECK(queue.HeldByShard(0) == 50);
  CHECK(queue.HeldByShard(1) == 50);
  // Per shard: its first sample, its full batch, and the first sample
  // after that batch; a few spurious wake-ups are allowed for.
  CHECK(queue.stats().shard_wakeups.load() <= 12);
  queue.Stop(milliseconds(10'000));
  CHECK(queue.stats().samples_sent.load() == 300);
}

TEST_CASE("a shard sends from its own named thread in the idle class") {
  // Which thread sent, seen from inside the sender.
  struct ThreadSeen {
    std::mutex mu;
    std::set<std::string> names;  // guarded by mu
    std::set<int> policies;       // guarded by mu
  } seen;
  class RecordingSender : public Sender {
   public:
    explicit RecordingSender(ThreadSeen* seen) : seen_(seen) {}
    SendResult Send(std::string_view) override {
      std::lock_guard<std::mutex> lock(seen_->mu);
      seen_->names.insert(ThisThreadName());
      seen_->policies.insert(ThisThreadPolicy());
      return SendResult{SendResult::kSent, 204, "", std::nullopt};
    }

   private:
    ThreadSeen* seen_;
  };
  QueueConfig config = FastConfig();
  config.max_shards = 2;
  WriteBackQueue queue("test", ClientConfig{}, config, [&seen] {
    return std::make_unique<RecordingSender>(&seen);
  });
  REQUIRE(queue.TryEnqueue({Sample(0, 1, 1), Sample(1, 1, 1)}, 1));
  REQUIRE(WaitFor([&] { return queue.stats().samples_sent.load() == 2; }));
  std::lock_guard<std::mutex> lock(seen.mu);
  CHECK(seen.names == std::set<std::string>{"writeback-0", "writeback-1"});
  CHECK(seen.policies == std::set<int>{SCHED_IDLE});
}

TEST_CASE("a shard's sender yields its core between the steps of a batch") {
  // Grouping, encoding and compressing a batch take a core for up to a
  // millisecond; a write's thread queued behind them gets it in between.
  FakeTarget target;
  QueueConfig config = FastConfig();
  config.max_shards = 1;
  SetYieldInterval(std::chrono::microseconds(0));
  const uint64_t before = BackgroundYields();
  {
    WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
    REQUIRE(queue.TryEnqueue({Sample(0, 1, 1), Sample(1, 1, 1)}, 1));
    REQUIRE(WaitFor([&] { return queue.stats().samples_sent.load() == 2; }));
  }
  SetYieldInterval(kYieldInterval);
  CHECK(BackgroundYields() - before >= 4);
}

TEST_CASE("queue resends the same batch after a retryable failure") {
  FakeTarget target;
  target.respond = [](int attempt) {
    return attempt < 2 ? Answer(SendResult::kRetry, 503)
                       : Answer(SendResult::kSent, 204);
  };
  QueueConfig config = FastConfig();
  config.max_shards = 1;
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
  REQUIRE(queue.TryEnqueue({Sample(1, 10, 1), Sample(1, 20, 2)}, 5));
  REQUIRE(WaitFor([&] { return queue.stats().samples_sent.load() == 2; }));
  const QueueStats& st = queue.stats();
  CHECK(st.samples_failed.load() == 4);
  CHECK(st.samples_retried.load() == 4);
  CHECK(st.dropped(DropReason::kRetryTimeout) == 0);
  CHECK(queue.AcknowledgedThrough() == 5);
  std::lock_guard<std::mutex> lock(target.mu);
  REQUIRE(target.bodies.size() == 3);
  CHECK(target.bodies[0] == target.bodies[1]);
  CHECK(target.bodies[1] == target.bodies[2]);
}

TEST_CASE("queue drops a refused batch, counts and acknowledges it") {
  FakeTarget target;
  target.respond = [](int) { return Answer(SendResult::kDrop, 400); };
  QueueConfig config = FastConfig();
  config.max_shards = 2;
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
  REQUIRE(queue.TryEnqueue({Sample(1, 1, 1), Sample(2, 1, 1), Sample(3, 1, 1)},
                           9));
  REQUIRE(WaitFor(
      [&] { return queue.stats().dropped(DropReason::kHttp4xx) == 3; }));
  CHECK(queue.stats().samples_sent.load() == 0);
  CHECK(queue.stats().samples_failed.load() == 0);
  CHECK(queue.stats().samples_pending.load() == 0);
  CHECK(queue.AcknowledgedThrough() == 9);
  std::lock_guard<std::mutex> lock(target.mu);
  CHECK(target.attempts == 2);  // one per shard, never resent
}

TEST_CASE("queue gives up a batch after max_retry_duration") {
  FakeTarget target;
  target.respond = [](int) { return Answer(SendResult::kRetry, 500); };
  QueueConfig config = FastConfig();
  config.max_shards = 1;
  config.max_retry_duration = milliseconds(30);
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
  REQUIRE(queue.TryEnqueue({Sample(1, 1, 1), Sample(1, 2, 2)}, 3));
  REQUIRE(WaitFor(
      [&] { return queue.stats().dropped(DropReason::kRetryTimeout) == 2; }));
  const QueueStats& st = queue.stats();
  CHECK(st.samples_sent.load() == 0);
  CHECK(st.samples_failed.load() >= 2);
  CHECK(st.samples_failed.load() == st.samples_retried.load() + 2);
  CHECK(st.samples_pending.load() == 0);
  CHECK(queue.AcknowledgedThrough() == 3);
}

TEST_CASE("a shard below capacity takes a share of any size, one at or "
          "over it takes nothing, and a call is all-or-nothing") {
  FakeTarget target;
  target.respond = [](int) { return Answer(SendResult::kRetry, 503); };
  QueueConfig config = FastConfig();
  config.max_shards = 2;  // series k goes to shard k % 2
  config.capacity = 10;
  // Batches never fill and never time out: everything stays queued.
  config.max_samples_per_send = 100;
  config.batch_send_deadline = std::chrono::hours(1);
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
  CHECK(queue.HasRoomFor({0, 1}));

  std::vector<QueuedSample> first;
  for (int i = 0; i < 8; ++i) first.push_back(Sample(0, i, i));  // shard 0
  REQUIRE(queue.TryEnqueue(std::move(first), 1));
  CHECK(queue.HeldByShard(0) == 8);

  // Shard 0 is below capacity: it takes 25 more, far over its capacity,
  // rather than refusing a large request for good.
  std::vector<QueuedSample> large;
  for (int i = 0; i < 25; ++i) large.push_back(Sample(2, 100 + i, i));
  for (int i = 0; i < 3; ++i) large.push_back(Sample(1, i, i));
  CHECK(queue.HasRoomFor({2, 1}));
  REQUIRE(queue.TryEnqueue(std::move(large), 2));
  CHECK(queue.HeldByShard(0) == 33);
  CHECK(queue.HeldByShard(1) == 3);

  // Now shard 0 is over: a call touching it takes nothing, not even the
  // share of shard 1, which has room.
  CHECK_FALSE(queue.HasRoomFor({1, 0}));
  std::vector<QueuedSample> refused = {Sample(1, 50, 1), Sample(0, 50, 1)};
  CHECK_FALSE(queue.TryEnqueue(std::move(refused), 3));
  CHECK(refused.size() == 2);  // left as they were
  CHECK(refused[0].labels == SeriesLabels("s1"));
  CHECK(queue.HeldByShard(1) == 3);
  CHECK(queue.stats().samples_pending.load() == 36);
  CHECK(queue.AcknowledgedThrough() == 0);

  // A call touching shard 1 only goes in.
  CHECK(queue.HasRoomFor({3}));
  CHECK(queue.TryEnqueue({Sample(3, 1, 1)}, 4));
  CHECK(queue.HeldByShard(1) == 4);

  queue.Stop(milliseconds(0));
  CHECK(queue.stats().dropped(DropReason::kShutdown) == 37);
  CHECK(queue.stats().samples_pending.load() == 0);
  CHECK(queue.stats().samples_sent.load() == 0);
  // Abandoned at shutdown: not acknowledged, so replay resends them.
  CHECK(queue.AcknowledgedThrough() == 0);
  CHECK_FALSE(queue.HasRoomFor({1}));
}

TEST_CASE("a shard takes more once it drains below capacity") {
  FakeTarget target;
  std::atomic<bool> up{false};
  target.respond = [&](int) {
    return up ? Answer(SendResult::kSent, 204) : Answer(SendResult::kRetry, 503);
  };
  QueueConfig config = FastConfig();
  config.max_shards = 1;
  config.capacity = 10;
  config.max_samples_per_send = 1000;
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
  std::vector<QueuedSample> large;
  for (int i = 0; i < 500; ++i) large.push_back(Sample(0, i, i));
  REQUIRE(queue.TryEnqueue(std::move(large), 1));
  CHECK_FALSE(queue.HasRoomFor({0}));
  CHECK_FALSE(queue.TryEnqueue({Sample(0, 600, 1)}, 2));
  up = true;  // the target comes back: the backlog drains
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!queue.HasRoomFor({0}) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(1));
  CHECK(queue.TryEnqueue({Sample(0, 600, 1)}, 2));
  queue.Stop(milliseconds(10000));
  CHECK(queue.stats().samples_sent.load() == 501);
  CHECK(queue.AcknowledgedThrough() == 2);
}

TEST_CASE("AcknowledgedThrough is monotone and never ahead of delivery") {
  FakeTarget target;
  // Every other attempt fails, so batches complete out of enqueue order
  // across shards.
  target.respond = [](int attempt) {
    return attempt % 2 == 0 ? Answer(SendResult::kRetry, 503)
                            : Answer(SendResult::kSent, 204);
  };
  QueueConfig config = FastConfig();
  config.max_shards = 3;
  config.max_samples_per_send = 4;
  config.batch_send_deadline = milliseconds(1);
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));

  constexpr int kCalls = 60, kPerCall = 5;
  std::atomic<bool> done{false};
  std::atomic<int> went_back{0}, ahead{0}, observations{0};
  std::thread watcher([&] {
    uint64_t last = 0;
    while (!done.load()) {
      const uint64_t t = queue.AcknowledgedThrough();
      if (t < last) ++went_back;
      last = t;
      {
        // Sample values are their call's sequence number.
        std::lock_guard<std::mutex> lock(target.mu);
        for (uint64_t s = 1; s <= t; ++s) {
          auto it = target.delivered_per_value.find(static_cast<int64_t>(s));
          if (it == target.delivered_per_value.end() || it->second != kPerCall) {
            ++ahead;
            break;
          }
        }
      }
      ++observations;
      std::this_thread::yield();
    }
  });
  for (int c = 1; c <= kCalls; ++c) {
    std::vector<QueuedSample> samples;
    for (int k = 0; k < kPerCall; ++k) samples.push_back(Sample(k, c, c));
    REQUIRE(queue.TryEnqueue(std::move(samples), static_cast<uint64_t>(c)));
  }
  REQUIRE(WaitFor([&] { return queue.AcknowledgedThrough() == kCalls; }));
  done.store(true);
  watcher.join();
  CHECK(observations.load() > 0);
  CHECK(went_back.load() == 0);
  CHECK(ahead.load() == 0);
  CHECK(queue.stats().samples_sent.load() == kCalls * kPerCall);
  CHECK(queue.stats().samples_retried.load() > 0);
  // An empty call is acknowledged at once.
  REQUIRE(queue.TryEnqueue({}, kCalls + 1));
  CHECK(queue.AcknowledgedThrough() == kCalls + 1);
}

TEST_CASE("Stop drains the queue, then refuses new samples") {
  FakeTarget target;
  QueueConfig config = FastConfig();
  config.max_shards = 2;
  config.max_samples_per_send = 1000;
  config.batch_send_deadline = std::chrono::hours(1);  // only Stop flushes
  WriteBackQueue queue("test", ClientConfig{}, config, FactoryFor(&target));
  std::vector<QueuedSample> samples;
  for (int i = 0; i < 50; ++i) samples.push_back(Sample(i % 5, i, i));
  REQUIRE(queue.TryEnqueue(std::move(samples), 1));
  queue.Stop(milliseconds(10000));
  CHECK(queue.stats().samples_sent.load() == 50);
  CHECK(queue.stats().dropped(DropReason::kShutdown) == 0);
  CHECK(queue.AcknowledgedThrough() == 1);
  CHECK_FALSE(queue.TryEnqueue({Sample(1, 100, 1)}, 2));
  CHECK_FALSE(queue.HasRoomFor({1}));
  queue.Stop(milliseconds(10000));  // a second Stop does nothing
}

// Blocks in Send until canceled, like a target that never answers.
class HangingSender : public Sender {
 public:
  SendResult Send(std::string_view) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++sends_;
    cv_.wait(lock, [this] { return canceled_; });
    canceled_ = false;
    return SendResult{SendResult::kRetry, 0, "canceled", std::nullopt};
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (sends_ > 0) canceled_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int sends_ = 0;
  bool canceled_ = false;
};

TEST_CASE("Stop aborts a hanging send at the drain deadline") {
  QueueConfig config = FastConfig();
  config.max_shards = 1;
  WriteBackQueue queue("test", ClientConfig{}, config,
                       [] { return std::make_unique<HangingSender>(); });
  REQUIRE(queue.TryEnqueue({Sample(1, 1, 1), Sample(1, 2, 2)}, 1));
  REQUIRE(WaitFor([&] { return queue.stats().samples_pending.load() == 2; }));
  queue.Stop(milliseconds(30));
  CHECK(queue.stats().dropped(DropReason::kShutdown) == 2);
  CHECK(queue.stats().samples_pending.load() == 0);
  CHECK(queue.stats().samples_sent.load() == 0);
  CHECK(queue.AcknowledgedThrough() == 0);
}

TEST_CASE("send durations land in Prometheus' default buckets") {
  SendDurationRecord r;
  r.Observe(milliseconds(1));      // <= 0.005
  r.Observe(milliseconds(5));      // == 0.005, "le" bucket
  r.Observe(milliseconds(300));    // <= 0.5
  r.Observe(std::chrono::seconds(20));  // > 10: the overflow bucket
  CHECK(r.count.load() == 4);
  CHECK(r.buckets[0].load() == 2);
  CHECK(r.buckets[6].load() == 1);
  CHECK(r.buckets[kSendDurationBuckets.size()].load() == 1);
  CHECK(r.sum_ns.load() == 20306000000ULL);
  CHECK(DropReasonName(DropReason::kHttp4xx) == "http_4xx");
  CHECK(DropReasonName(DropReason::kRetryTimeout) == "retry_timeout");
}

}  // namespace
}  // namespace promewma::writeback
