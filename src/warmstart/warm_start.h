// WarmStart: a series this process has no state for (new to it after a
// reshard, or after its data directory was lost) is warmed from its raw
// history before its live samples are applied, so it does not start cold.
//
// Each series goes through these states:
//
//   unknown --first live sample--> held: queued --worker--> held: reading
//     --history read (or failed, or budget spent)--> applying --> known
//
// While a series is held, its live samples are kept in memory, in arrival
// order, and nothing of the series is logged, applied or emitted: no raw
// sample, no derived sample, no threshold. A worker reads the series' raw
// history in [first live sample - lookback, first live sample) from the
// warm_start source, replays it through the estimator with the series'
// parameters, and hands the state to Database::IngestHeld, which restores
// the series from it and then logs and applies the held samples (in their
// order, with their own timestamps: the derived samples they produce are
// written back like any others, only later). Samples that arrive while
// the held ones are being applied are held too and follow them, so the
// series' samples are applied in arrival order. Only then is the series
// released, and its later samples go to the database directly.
//
// Why hold rather than apply and mark: a threshold from a cold state is
// wrong for the series' first few dozen samples (the spread of a handful
// of samples), and derived samples written back to a store cannot be taken
// back or re-marked there. Holding costs a delay of at most `budget`
// for the series' outputs, and memory for its live samples meanwhile.
//
// Bounds. Ingest never waits for a read: Hold only sorts samples. A series
// waits at most `budget` from its first sample: past it, or when the read
// fails or the source has no history, it starts cold with what it holds.
// Held samples, all series together, are bounded by max_held_samples: a
// new series that does not fit starts cold at once, and a request whose
// samples of already-held series do not fit is refused with Unavailable
// (503, retried by the sender; nothing of it is held or applied).
//
// Durability: a held sample is acknowledged (2xx) with its request, which
// the database logs whole (db/series_gate.h); it is logged again when its
// series is applied. Until then the checkpoint keeps the first record from
// the log (OldestUnappliedRecord), so a crash in between loses nothing:
// the recovery replays the held samples, cold (the history is not read
// again). The restored state is in the head only until the next checkpoint
// saves it (Database::IngestHeld).
//
// Thread-safety: Hold is called by every ingesting thread at once; the
// other methods from one controlling thread. Lock order: mu_, then the
// head's shard locks (Hold checks which series the head knows under mu_);
// the workers call the database without holding mu_.

#ifndef PROMEWMA_WARMSTART_WARM_START_H_
#define PROMEWMA_WARMSTART_WARM_START_H_

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "codec/write_request.h"
#include "config/config.h"
#include "db/database.h"
#include "db/series_gate.h"
#include "ewma/estimator_params.h"
#include "warmstart/history_source.h"

namespace promewma::warmstart {

// How each series that was held ended (promewma_warm_start_series_total's
// result label).
enum class WarmResult {
  kWarmed,   // history read and replayed
  kEmpty,    // the source had no history before the first sample: cold
  kFailed,   // the read failed or the budget ran out first: cold
  kSkipped,  // not held at all: no room (max_held_samples): cold
};
inline constexpr int kWarmResultCount = 4;

class WarmStart : public db::SeriesGate {
 public:
  using SourceFactory = std::function<std::unique_ptr<HistorySource>()>;

  // `sources` makes one history source per worker thread. Self-metrics
  // (promewma_warm_start_*) are registered in `registry`.
  // REQUIRES: `db` outlives this; call Start, then db->SetSeriesGate(this).
  WarmStart(const config::WarmStartConfig& config, db::Database* db,
            SourceFactory sources, prometheus::Registry& registry);
  // Stop()s.
  ~WarmStart() override;
  WarmStart(const WarmStart&) = delete;
  WarmStart& operator=(const WarmStart&) = delete;

  // Starts the worker threads.
  void Start();
  // Aborts the reads in progress and stops the workers; every series still
  // held is then applied cold with what it holds. Call once ingest has
  // stopped (or after db->SetSeriesGate(nullptr)). Idempotent.
  void Stop();

  Status Hold(const codec::DecodedWriteRequest& request,
              const codec::DecodedWriteRequest** rest) override;
  void Logged(uint64_t seq) override;
  uint64_t OldestUnappliedRecord() const override;

  // Waits up to `timeout` until no series is held; true when none is.
  bool WaitIdle(std::chrono::milliseconds timeout);

  // Series that ended with `result` so far.
  uint64_t series(WarmResult result) const;
  // Series held now, and their held samples.
  uint64_t held_series() const;
  uint64_t held_samples() const;

 private:
  // A series being warmed.
  struct Held {
    uint64_t labels_hash = 0;
    const ewma::EstimatorParams* params = nullptr;  // the head's; never null
    int64_t first_ms = 0;  // its first live sample: history ends before
    std::chrono::steady_clock::time_point since;     // first sample's arrival
    std::chrono::steady_clock::time_point deadline;  // since + budget
    std::vector<codec::DecodedSample> samples;  // live samples, held
    // The log records holding `samples`, ascending; and those of the batch
    // being applied now.
    std::vector<uint64_t> records;
    std::vector<uint64_t> applying_records;
  };

  // The series the calling thread's last Hold held, for Logged.
  static std::vector<std::string>& thread_local_held();

  void Work(HistorySource* source);
  // Reads and replays `labels`' history; false (and *result set) when the
  // series starts cold.
  bool Warm(HistorySource* source, const std::string& labels, const Held& held,
            head::SeriesSnapshot* snapshot, WarmResult* result);
  // Applies the held samples of `labels` (after restoring `snapshot`, when
  // given) until none is left, then releases the series.
  void ApplyAndRelease(const std::string& labels,
                       const head::SeriesSnapshot* snapshot);
  // Logs and applies `samples` of `labels` through the database, retrying
  // while it is unavailable (a full write-back queue) until Stop; false
  // when they could not be applied.
  bool ApplySamples(const std::string& labels,
                    const std::vector<codec::DecodedSample>& samples,
                    const head::SeriesSnapshot* snapshot);

  const config::WarmStartConfig config_;
  db::Database* const db_;
  const SourceFactory make_source_;

  prometheus::Family<prometheus::Counter>& series_family_;
  std::vector<prometheus::Counter*> series_;  // by WarmResult
  prometheus::Counter& history_samples_;
  prometheus::Counter& refused_requests_;
  prometheus::Counter& unapplied_samples_;
  prometheus::Gauge& held_series_gauge_;
  prometheus::Gauge& held_samples_gauge_;
  prometheus::Histogram& duration_;

  std::vector<std::unique_ptr<HistorySource>> sources_;  // one per worker
  std::vector<std::thread> workers_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // queue_ grew, or stopping_
  std::condition_variable idle_cv_;  // held_ shrank
  // Guarded by mu_:
  std::unordered_map<std::string, Held> held_;  // by canonical labels
  std::deque<std::string> queue_;               // held, waiting for a worker
  uint64_t held_samples_ = 0;                   // over held_
  // Records of held samples that could not be applied, ascending: kept in
  // the log for the next start.
  std::vector<uint64_t> unapplied_records_;
  bool stopped_ = false;
  // Set under mu_; read without it by the workers' retry loop too.
  std::atomic<bool> stopping_{false};
  // held_.size(), for Hold's check without mu_.
  std::atomic<size_t> held_count_{0};
};

}  // namespace promewma::warmstart

#endif  // PROMEWMA_WARMSTART_WARM_START_H_
