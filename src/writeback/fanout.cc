#include "writeback/fanout.h"

#include <algorithm>
#include <thread>

#include "common/log.h"
#include "model/labels.h"

namespace promewma::writeback {
namespace {

// How often the waits look again; they wait on other threads' progress.
constexpr std::chrono::milliseconds kPollInterval{5};

}  // namespace

void ExpandDerived(const std::vector<ewma::EmittedDerived>& derived,
                   std::vector<QueuedSample>* out) {
  for (const ewma::EmittedDerived& d : derived) {
    for (int o = 0; o < ewma::kOutputCount; ++o) {
      if (!(d.values.present & (1u << o))) continue;
      // The input's labels (held by the engine for good) and the output's
      // suffix; the derived label set is built when the batch is encoded.
      out->push_back(QueuedSample{
          d.labels, d.labels_hash, d.timestamp_ms, d.values.value[o],
          ewma::OutputSuffix(static_cast<ewma::Output>(o))});
    }
  }
}

namespace {

std::vector<std::shared_ptr<WriteBackQueue>> Unowned(
    const std::vector<WriteBackQueue*>& queues) {
  std::vector<std::shared_ptr<WriteBackQueue>> shared;
  for (WriteBackQueue* q : queues) {
    shared.emplace_back(std::shared_ptr<WriteBackQueue>(), q);  // aliasing
  }
  return shared;
}

}  // namespace

Fanout::Fanout(std::vector<WriteBackQueue*> queues) {
  auto targets = std::make_shared<Targets>();
  for (auto& q : Unowned(queues)) targets->push_back(Target{std::move(q), 0});
  targets_ = std::move(targets);
}

std::unique_ptr<Fanout> Fanout::Sharing(
    std::vector<std::shared_ptr<WriteBackQueue>> queues) {
  auto fanout = std::make_unique<Fanout>(std::vector<WriteBackQueue*>{});
  auto targets = std::make_shared<Targets>();
  for (auto& q : queues) targets->push_back(Target{std::move(q), 0});
  fanout->targets_ = std::move(targets);
  return fanout;
}

std::shared_ptr<const Fanout::Targets> Fanout::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_;
}

bool Fanout::Retiring() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !retiring_.empty();
}

std::vector<std::shared_ptr<WriteBackQueue>> Fanout::queues() const {
  std::vector<std::shared_ptr<WriteBackQueue>> out;
  for (const Target& t : *Current()) out.push_back(t.queue);
  return out;
}

void Fanout::SetQueues(std::vector<std::shared_ptr<WriteBackQueue>> queues,
                       std::vector<std::shared_ptr<WriteBackQueue>> retiring) {
  const std::shared_ptr<const Targets> old = Current();
  auto next = std::make_shared<Targets>();
  // The ingest lock is held: no push runs, and the next one gets a tag
  // above last_seq_.
  const uint64_t first_new_tag = last_seq_.load(std::memory_order_relaxed) + 1;
  for (auto& q : queues) {
    uint64_t first_tag = first_new_tag;
    for (const Target& t : *old) {
      if (t.queue == q) first_tag = t.first_tag;
    }
    next->push_back(Target{std::move(q), first_tag});
  }
  std::lock_guard<std::mutex> lock(mu_);
  targets_ = std::move(next);
  for (auto& q : retiring) retiring_.push_back(std::move(q));
}

void Fanout::Retired(const WriteBackQueue* queue) {
  std::lock_guard<std::mutex> lock(mu_);
  retiring_.erase(
      std::remove_if(retiring_.begin(), retiring_.end(),
                     [queue](const auto& q) { return q.get() == queue; }),
      retiring_.end());
}

bool Fanout::HoldsLabelViews() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !targets_->empty() || !retiring_.empty();
}

bool Fanout::HasRoomFor(const ewma::SeriesHashes& series) {
  for (const Target& t : *Current()) {
    if (!t.queue->HasRoomFor(series)) return false;
  }
  return true;
}

void Fanout::Push(uint64_t seq,
                  const std::vector<ewma::EmittedDerived>& derived) {
  // Without a request log every call comes with seq 0; the queues need
  // increasing tags.
  const uint64_t last = last_seq_.load(std::memory_order_relaxed);
  const uint64_t tag = seq > last ? seq : last + 1;
  batch_.clear();
  ExpandDerived(derived, &batch_);
  const std::shared_ptr<const Targets> targets = Current();
  for (size_t i = 0; i < targets->size(); ++i) {
    WriteBackQueue* queue = (*targets)[i].queue.get();
    // The last queue may take the batch itself; the others get copies.
    std::vector<QueuedSample> samples =
        i + 1 == targets->size() ? std::move(batch_) : batch_;
    const size_t n = samples.size();
    if (!queue->TryEnqueue(std::move(samples), tag)) {
      refused_ += n;
      log::Error("writeback", "queue refused the samples of a log record",
                 {{"target", queue->name()},
                  {"samples", n},
                  {"log_seq", seq}});
    }
  }
  last_seq_.store(tag, std::memory_order_release);
}

bool Fanout::WaitForRoom(const ewma::SeriesHashes& series,
                         std::chrono::steady_clock::time_point deadline) {
  while (!HasRoomFor(series)) {
    if (stopped_ || std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

bool Fanout::WaitAcknowledged(uint64_t seq,
                              std::chrono::steady_clock::time_point deadline) {
  // Every logged record is pushed before the next one is logged, so records
  // past the last push do not exist yet, and records before the first push
  // of this process were delivered before the checkpoint it started from.
  seq = std::min(seq, last_seq_.load(std::memory_order_acquire));
  // A queue removed meanwhile is not waited for: what it did not deliver
  // is dropped for good. The queues in force are looked up afresh each
  // round. A queue stopping after its removal is waited for (its drain is
  // bounded) as it may hold views of label sets the caller then releases.
  while (true) {
    bool done = !Retiring();
    if (done && seq != 0) {
      for (const Target& t : *Current()) {
        // Records before a queue's first tag were pushed before it was
        // added: none of them is for it.
        if (t.first_tag <= seq && t.queue->AcknowledgedThrough() < seq) {
          done = false;
          break;
        }
      }
    }
    if (done) return true;
    if (stopped_ || std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace promewma::writeback
