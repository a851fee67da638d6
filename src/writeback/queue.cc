#include "writeback/queue.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "common/log.h"
#include "common/thread_role.h"
#include "remote/backoff.h"
#include "remote/batch_encoder.h"

namespace promewma::writeback {

namespace {

// How often Stop re-cancels while waiting for the threads after the drain
// deadline: a Cancel that lands just before a shard opens a new connection
// finds nothing to abort, so it is repeated until every thread is out.
constexpr std::chrono::milliseconds kCancelRepeat{10};

std::string DescribeFailure(const remote::SendResult& r) {
  if (r.http_status == 0) return r.reason;
  return "HTTP " + std::to_string(r.http_status) + ": " + r.reason;
}

}  // namespace

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kHttp4xx:
      return "http_4xx";
    case DropReason::kRetryTimeout:
      return "retry_timeout";
    case DropReason::kShutdown:
      return "shutdown";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

void SendDurationRecord::Observe(std::chrono::nanoseconds duration) {
  const double seconds = static_cast<double>(duration.count()) / 1e9;
  // Prometheus buckets are "less or equal" upper bounds.
  const size_t i = static_cast<size_t>(
      std::lower_bound(kSendDurationBuckets.begin(), kSendDurationBuckets.end(),
                       seconds) -
      kSendDurationBuckets.begin());
  buckets[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, duration.count())),
                   std::memory_order_relaxed);
  count.fetch_add(1, std::memory_order_relaxed);
}

WriteBackQueue::WriteBackQueue(std::string name, remote::ClientConfig client,
                               QueueConfig config, SenderFactory factory)
    : name_(std::move(name)), config_(config) {
  const int n = std::max(1, config_.max_shards);
  for (int i = 0; i < n; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->index = i;
    if (factory) {
      shard->sender = factory();
    } else {
      shard->sender = std::make_unique<remote::RemoteWriteClient>(client);
    }
    shards_.push_back(std::move(shard));
  }
  stats_.shards.store(n);
  running_shards_ = n;
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    s->thread = std::thread([this, s] { RunShard(s); });
  }
}

WriteBackQueue::~WriteBackQueue() { Stop(std::chrono::milliseconds(0)); }

bool WriteBackQueue::TryEnqueue(std::vector<QueuedSample>&& samples,
                                uint64_t sequence) {
  if (stopping_.load()) return false;
  if (samples.empty()) {
    std::lock_guard<std::mutex> ack(ack_mu_);
    highest_sequence_ = std::max(highest_sequence_, sequence);
    return true;
  }
  const size_t n = shards_.size();
  std::vector<size_t> need(n, 0);
  for (const QueuedSample& s : samples) ++need[s.series_hash % n];

  // All touched shards are locked together (ascending index, the documented
  // lock order), so the room check and the insert are one atomic step.
  std::vector<std::unique_lock<std::mutex>> locks;
  for (size_t i = 0; i < n; ++i) {
    if (need[i] > 0) locks.emplace_back(shards_[i]->mu);
  }
  // Checked again under the shard locks: a shard thread decides to exit on
  // "empty and stopping" under its lock, so nothing can be added to a
  // shard whose thread is gone.
  if (stopping_.load()) return false;
  for (size_t i = 0; i < n; ++i) {
    if (need[i] > 0 && !BelowCapacity(*shards_[i])) return false;
  }
  {
    std::lock_guard<std::mutex> ack(ack_mu_);
    outstanding_[sequence] += samples.size();
    highest_sequence_ = std::max(highest_sequence_, sequence);
  }
  const auto now = Clock::now();
  for (QueuedSample& s : samples) {
    const uint64_t hash = s.series_hash;
    shards_[hash % n]->queue.push_back(Entry{std::move(s), sequence, now});
  }
  stats_.samples_pending.fetch_add(static_cast<int64_t>(samples.size()));
  // A shard thread is woken only when it has something new to do: its
  // queue was empty (it waits with no deadline), or this call filled a
  // batch. Otherwise it is already waiting for its oldest sample's
  // deadline, which a newer one does not move. Waking it on every call
  // (each request touches every shard) made it preempt the request's own
  // thread several times per request, and cost a context switch each.
  // need[i] becomes whether shard i is woken.
  const size_t max_batch = static_cast<size_t>(config_.max_samples_per_send);
  for (size_t i = 0; i < n; ++i) {
    if (need[i] == 0) continue;
    const size_t after = shards_[i]->queue.size();
    const size_t before = after - need[i];
    need[i] = before == 0 || (before < max_batch && after >= max_batch);
  }
  locks.clear();
  for (size_t i = 0; i < n; ++i) {
    if (need[i] > 0) shards_[i]->cv.notify_one();  // its one thread
  }
  return true;
}

bool WriteBackQueue::HasRoomFor(
    const std::vector<uint64_t>& series_hashes) const {
  if (stopping_.load()) return false;
  const size_t n = shards_.size();
  // Each touched shard is looked at once. Room only grows between this
  // check and the caller's TryEnqueue (only the caller enqueues), so a
  // shard lock at a time is enough.
  std::vector<bool> seen(n, false);
  for (uint64_t hash : series_hashes) {
    const size_t i = hash % n;
    if (seen[i]) continue;
    seen[i] = true;
    std::lock_guard<std::mutex> lock(shards_[i]->mu);
    if (!BelowCapacity(*shards_[i])) return false;
  }
  return true;
}

size_t WriteBackQueue::HeldByShard(size_t shard) const {
  std::lock_guard<std::mutex> lock(shards_[shard]->mu);
  return shards_[shard]->queue.size() + shards_[shard]->in_flight;
}

size_t WriteBackQueue::MemoryBytes() const {
  size_t bytes = 0;
  for (const std::unique_ptr<Shard>& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    bytes += shard->queue.capacity() * sizeof(Entry);
  }
  return bytes;
}

uint64_t WriteBackQueue::AcknowledgedThrough() const {
  std::lock_guard<std::mutex> ack(ack_mu_);
  // Tags increase with each call, so every tag below the oldest outstanding
  // one is final; with nothing outstanding, everything enqueued is.
  if (outstanding_.empty()) return highest_sequence_;
  return outstanding_.begin()->first - 1;
}

void WriteBackQueue::NotifyAll() {
  for (auto& shard : shards_) {
    // Taking the lock orders the flag change before the thread's next
    // check-then-wait, so the wake-up cannot be lost.
    std::lock_guard<std::mutex> lock(shard->mu);
    shard->cv.notify_all();
  }
}

void WriteBackQueue::Stop(std::chrono::milliseconds drain_deadline) {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_.store(true);
  NotifyAll();
  const auto deadline = Clock::now() + drain_deadline;
  bool drained;
  {
    std::unique_lock<std::mutex> lock(stop_mu_);
    drained = stop_cv_.wait_until(lock, deadline,
                                  [this] { return running_shards_ == 0; });
  }
  if (!drained) {
    hard_stop_.store(true);
    NotifyAll();
    while (true) {
      for (auto& shard : shards_) shard->sender->Cancel();
      std::unique_lock<std::mutex> lock(stop_mu_);
      if (stop_cv_.wait_for(lock, kCancelRepeat,
                            [this] { return running_shards_ == 0; })) {
        break;
      }
    }
  }
  uint64_t abandoned = 0;
  for (auto& shard : shards_) {
    shard->thread.join();
    std::lock_guard<std::mutex> lock(shard->mu);
    abandoned += shard->queue.size();
    shard->queue.clear();
  }
  if (abandoned > 0) {
    stats_.samples_pending.fetch_sub(static_cast<int64_t>(abandoned));
    stats_.samples_dropped[static_cast<int>(DropReason::kShutdown)].fetch_add(
        abandoned);
    // The request log still holds them: they are resent after restart.
    log::Warn("writeback", "samples not sent before the drain deadline",
              {{"target", name_}, {"samples", abandoned}});
  }
}

void WriteBackQueue::RunShard(Shard* shard) {
  // No write waits on a send: a shard waking at its batch deadline must
  // not preempt a request's thread, nor keep one waiting for its core
  // (common/thread_role.h).
  SetThisThreadRole("writeback-" + std::to_string(shard->index),
                    ThreadRole::kIdle);
  const size_t max_batch = static_cast<size_t>(config_.max_samples_per_send);
  std::vector<Entry> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(shard->mu);
      bool exit = false;
      while (true) {
        if (hard_stop_.load()) {
          exit = true;
          break;
        }
        if (shard->queue.empty()) {
          if (stopping_.load()) {
            exit = true;
            break;
          }
          shard->cv.wait(lock);
          stats_.shard_wakeups.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        // While draining, partial batches go at once: waiting for them to
        // fill would only eat into the drain deadline.
        if (shard->queue.size() >= max_batch || stopping_.load()) break;
        const auto flush_at =
            shard->queue.front().enqueued + config_.batch_send_deadline;
        if (Clock::now() >= flush_at) break;
        shard->cv.wait_until(lock, flush_at);
        stats_.shard_wakeups.fetch_add(1, std::memory_order_relaxed);
      }
      if (exit) break;
      const size_t n = std::min(shard->queue.size(), max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(shard->queue.front()));
        shard->queue.pop_front();
      }
      shard->in_flight = n;
    }
    SendBatch(shard, &batch);
    batch.clear();
    std::lock_guard<std::mutex> lock(shard->mu);
    shard->in_flight = 0;
  }
  std::lock_guard<std::mutex> lock(stop_mu_);
  --running_shards_;
  stop_cv_.notify_all();
}

void WriteBackQueue::SendBatch(Shard* shard, std::vector<Entry>* batch) {
  const size_t n = batch->size();
  // Each series of the batch becomes one TimeSeries (series_grouping.h).
  // The engine's output suffixes are static strings: their addresses tell
  // them apart.
  std::vector<SeriesKey>& keys = shard->series_keys;
  keys.clear();
  for (const Entry& e : *batch) {
    keys.push_back(
        SeriesKey{e.sample.series_hash,
                  reinterpret_cast<uintptr_t>(e.sample.name_suffix.data())});
  }
  // Between the steps a write's thread queued behind this one gets the
  // core (common/thread_role.h).
  YieldIfDue();
  std::vector<uint32_t>& order = shard->order;
  shard->grouping.Order(keys, &order);
  YieldIfDue();
  std::vector<remote::OutgoingSample>& outgoing = shard->outgoing;
  outgoing.clear();
  int64_t newest = std::numeric_limits<int64_t>::min();
  for (const uint32_t i : order) {
    const QueuedSample& s = (*batch)[i].sample;
    outgoing.push_back(remote::OutgoingSample{s.labels, s.timestamp_ms,
                                              s.value, s.name_suffix});
    newest = std::max(newest, s.timestamp_ms);
  }
  YieldIfDue();
  const std::string_view body = shard->encoder.EncodeSnappy(outgoing);
  YieldIfDue();

  // Pending and acknowledgement are updated before the outcome counter, so
  // a reader that sees the counter move also sees them (tests wait on it).
  auto final_outcome = [&] {
    stats_.samples_pending.fetch_sub(static_cast<int64_t>(n));
    Complete(*batch);
  };
  auto abandon = [&] {
    // Not final: not acknowledged, so replay after restart resends it.
    stats_.samples_pending.fetch_sub(static_cast<int64_t>(n));
    stats_.samples_dropped[static_cast<int>(DropReason::kShutdown)]
        .fetch_add(n);
  };

  remote::Backoff backoff(
      remote::BackoffConfig{config_.min_backoff, config_.max_backoff});
  const auto give_up_at = Clock::now() + config_.max_retry_duration;
  while (true) {
    const auto t0 = Clock::now();
    remote::SendResult result = shard->sender->Send(body);
    const auto t1 = Clock::now();
    stats_.send_duration.Observe(t1 - t0);
    switch (result.outcome) {
      case remote::SendResult::kSent: {
        final_outcome();
        int64_t seen = stats_.highest_sent_timestamp_ms.load();
        while (newest > seen &&
               !stats_.highest_sent_timestamp_ms.compare_exchange_weak(
                   seen, newest)) {
        }
        stats_.samples_sent.fetch_add(n);
        return;
      }
      case remote::SendResult::kDrop:
        final_outcome();
        stats_.samples_dropped[static_cast<int>(DropReason::kHttp4xx)]
            .fetch_add(n);
        log::Warn("writeback", "samples refused by the target; dropped",
                  {{"target", name_},
                   {"shard", shard->index},
                   {"samples", n},
                   {"err", DescribeFailure(result)}});
        return;
      case remote::SendResult::kRetry:
        break;
    }
    stats_.samples_failed.fetch_add(n);
    if (hard_stop_.load()) {
      abandon();
      return;
    }
    const auto delay = backoff.NextDelay(result.retry_after);
    if (t1 + delay > give_up_at) {
      final_outcome();
      stats_.samples_dropped[static_cast<int>(DropReason::kRetryTimeout)]
          .fetch_add(n);
      log::Warn("writeback", "samples dropped after retrying",
                {{"target", name_},
                 {"shard", shard->index},
                 {"samples", n},
                 {"retried_for", log::Seconds(config_.max_retry_duration)},
                 {"err", DescribeFailure(result)}});
      return;
    }
    log::Debug("writeback", "retrying samples",
               {{"target", name_},
                {"shard", shard->index},
                {"samples", n},
                {"delay", log::Seconds(delay)},
                {"err", DescribeFailure(result)}});
    if (!SleepInterruptibly(shard, t1 + delay)) {
      abandon();
      return;
    }
    stats_.samples_retried.fetch_add(n);
  }
}

bool WriteBackQueue::SleepInterruptibly(Shard* shard, Clock::time_point until) {
  std::unique_lock<std::mutex> lock(shard->mu);
  return !shard->cv.wait_until(lock, until, [this] { return hard_stop_.load(); });
}

void WriteBackQueue::Complete(const std::vector<Entry>& batch) {
  std::lock_guard<std::mutex> ack(ack_mu_);
  // Entries of one enqueue call are adjacent, so this is one map update per
  // run of equal tags, not one per sample.
  for (size_t i = 0; i < batch.size();) {
    size_t j = i;
    while (j < batch.size() && batch[j].sequence == batch[i].sequence) ++j;
    auto it = outstanding_.find(batch[i].sequence);
    if (it != outstanding_.end()) {
      it->second -= std::min(it->second, j - i);
      if (it->second == 0) outstanding_.erase(it);
    }
    i = j;
  }
}

}  // namespace promewma::writeback
