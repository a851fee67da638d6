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

Fanout::Fanout(std::vector<WriteBackQueue*> queues)
    : queues_(std::move(queues)) {}

bool Fanout::HasRoomFor(const ewma::SeriesHashes& series) {
  for (const WriteBackQueue* q : queues_) {
    if (!q->HasRoomFor(series)) return false;
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
  for (size_t i = 0; i < queues_.size(); ++i) {
    // The last queue may take the batch itself; the others get copies.
    std::vector<QueuedSample> samples =
        i + 1 == queues_.size() ? std::move(batch_) : batch_;
    const size_t n = samples.size();
    if (!queues_[i]->TryEnqueue(std::move(samples), tag)) {
      refused_ += n;
      log::Error("writeback", "queue refused the samples of a log record",
                 {{"target", queues_[i]->name()},
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
  if (seq == 0) return true;
  for (const WriteBackQueue* q : queues_) {
    while (q->AcknowledgedThrough() < seq) {
      if (stopped_ || std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }
  return true;
}

}  // namespace promewma::writeback
