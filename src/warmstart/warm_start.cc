#include "warmstart/warm_start.h"

#include <algorithm>
#include <utility>

#include "codec/snappy_block.h"
#include "common/log.h"
#include "common/thread_role.h"
#include "ewma/series_estimator.h"
#include "head/head.h"
#include "model/labels.h"
#include "remote/batch_encoder.h"

namespace promewma::warmstart {
namespace {

using Clock = std::chrono::steady_clock;

// How long a worker waits before applying held samples again when the
// database refuses them for now (its write-back queue is full): the queue
// drains within moments, and the series' later samples wait behind these.
constexpr std::chrono::milliseconds kApplyRetry{200};

const char* ResultName(WarmResult result) {
  switch (result) {
    case WarmResult::kWarmed:
      return "warmed";
    case WarmResult::kEmpty:
      return "empty";
    case WarmResult::kFailed:
      return "failed";
    case WarmResult::kSkipped:
      return "skipped";
  }
  return "failed";
}

std::string Describe(const std::string& labels) {
  return model::LabelSetView(labels).ToString();
}

}  // namespace

WarmStart::WarmStart(const config::WarmStartConfig& config, db::Database* db,
                     SourceFactory sources, prometheus::Registry& registry)
    : config_(config),
      db_(db),
      make_source_(std::move(sources)),
      series_family_(prometheus::BuildCounter()
                         .Name("promewma_warm_start_series_total")
                         .Help("Series new to this process, by how their "
                               "warm start ended: warmed (history replayed), "
                               "empty (no history: cold), failed (read "
                               "failed or budget spent: cold), skipped (no "
                               "room to hold their samples: cold).")
                         .Register(registry)),
      history_samples_(prometheus::BuildCounter()
                           .Name("promewma_warm_start_history_samples_total")
                           .Help("History samples read and replayed through "
                                 "the estimator.")
                           .Register(registry)
                           .Add({})),
      refused_requests_(
          prometheus::BuildCounter()
              .Name("promewma_warm_start_refused_requests_total")
              .Help("Remote-write requests refused with 503 because the "
                    "samples they would add to held series exceed "
                    "warm_start.max_held_samples.")
              .Register(registry)
              .Add({})),
      unapplied_samples_(
          prometheus::BuildCounter()
              .Name("promewma_warm_start_unapplied_samples_total")
              .Help("Held samples the database refused at shutdown; the "
                    "request log keeps them and the next start replays them.")
                        .Register(registry)
                        .Add({})),
      held_series_gauge_(prometheus::BuildGauge()
                             .Name("promewma_warm_start_held_series")
                             .Help("Series being warmed now.")
                             .Register(registry)
                             .Add({})),
      held_samples_gauge_(prometheus::BuildGauge()
                              .Name("promewma_warm_start_held_samples")
                              .Help("Live samples held for the series being "
                                    "warmed.")
                              .Register(registry)
                              .Add({})),
      duration_(prometheus::BuildHistogram()
                    .Name("promewma_warm_start_duration_seconds")
                    .Help("From a series' first live sample to its held "
                          "samples applied, warm or cold.")
                    .Register(registry)
                    .Add({}, prometheus::Histogram::BucketBoundaries{
                                 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                 30, 60})) {
  for (int r = 0; r < kWarmResultCount; ++r) {
    series_.push_back(&series_family_.Add(
        {{"result", ResultName(static_cast<WarmResult>(r))}}));
  }
}

WarmStart::~WarmStart() { Stop(); }

void WarmStart::Start() {
  for (int i = 0; i < config_.concurrency; ++i) {
    sources_.push_back(make_source_());
  }
  for (auto& source : sources_) {
    workers_.emplace_back([this, s = source.get()] {
      // History fetched for series already being written: nothing waits.
      SetThisThreadRole("warm-start", ThreadRole::kBackground);
      Work(s);
    });
  }
}

void WarmStart::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_.store(true);
  }
  work_cv_.notify_all();
  for (auto& source : sources_) source->Cancel();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  // What no worker took: cold, with what it holds.
  std::vector<std::string> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [labels, held] : held_) left.push_back(labels);
    queue_.clear();
  }
  for (const std::string& labels : left) {
    series_[static_cast<int>(WarmResult::kFailed)]->Increment();
    ApplyAndRelease(labels, nullptr);
  }
}

Status WarmStart::Hold(const codec::DecodedWriteRequest& request,
                       const codec::DecodedWriteRequest** rest) {
  *rest = nullptr;
  thread_local_held().clear();
  const size_t n = request.series.size();
  const head::Head& head = *db_->head();
  // Which series the head does not know, outside mu_: this is the cost
  // warm start adds to every request, a lookup per series.
  thread_local std::vector<uint8_t> unknown;
  unknown.assign(n, 0);
  bool any_unknown = false;
  for (size_t i = 0; i < n; ++i) {
    const codec::DecodedSeries& s = request.series[i];
    if (s.sample_count == 0) continue;
    if (!head.Knows(s.labels_hash, s.labels)) {
      unknown[i] = 1;
      any_unknown = true;
    }
  }
  // A series is held from before the head knows it until after its held
  // samples are applied, so with nothing held, known series pass.
  if (!any_unknown && held_count_.load(std::memory_order_acquire) == 0) {
    return Status::Ok();
  }
  // An invalid label set makes the database refuse the whole request, which
  // must then hold nothing either.
  for (size_t i = 0; i < n; ++i) {
    if (unknown[i] && !request.series[i].labels_validated &&
        !codec::ValidateSeriesLabels(request, i).ok()) {
      return Status::Ok();
    }
  }

  thread_local std::vector<uint8_t> hold;
  hold.assign(n, 0);
  bool any_held = false;
  bool any_new = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Once stopping, no series starts to be held; those held go on being
    // held until Stop applies them, so their samples stay in order.
    const bool stopping = stopping_.load();
    uint64_t adding = 0;
    if (!held_.empty()) {
      for (size_t i = 0; i < n; ++i) {
        const codec::DecodedSeries& s = request.series[i];
        if (s.sample_count == 0) continue;
        if (held_.count(std::string(s.labels)) != 0) {
          hold[i] = 1;
          adding += s.sample_count;
        }
      }
    }
    if (held_samples_ + adding > config_.max_held_samples) {
      refused_requests_.Increment();
      return Status::Unavailable(
          "warm start holds warm_start.max_held_samples samples of series "
          "it is warming; nothing applied, retry later");
    }
    const auto now = Clock::now();
    for (size_t i = 0; i < n; ++i) {
      const codec::DecodedSeries& s = request.series[i];
      if (!unknown[i] || hold[i] || stopping) continue;
      std::string labels(s.labels);
      auto it = held_.find(labels);
      if (it == held_.end()) {
        const ewma::EstimatorParams* params =
            head.ParamsOf(model::LabelSetView(s.labels));
        if (params == nullptr) continue;  // ignored by the head: no state
        // Warmed and released since the check above.
        if (head.Knows(s.labels_hash, s.labels)) continue;
        if (held_samples_ + adding + s.sample_count >
            config_.max_held_samples) {
          series_[static_cast<int>(WarmResult::kSkipped)]->Increment();
          continue;
        }
        Held& held = held_[labels];
        held.labels_hash = s.labels_hash;
        held.params = params;
        held.first_ms = request.samples[s.first_sample].timestamp_ms;
        for (uint32_t k = 0; k < s.sample_count; ++k) {
          held.first_ms = std::min(
              held.first_ms, request.samples[s.first_sample + k].timestamp_ms);
        }
        held.since = now;
        held.deadline = now + config_.budget;
        queue_.push_back(std::move(labels));
        any_new = true;
      }
      hold[i] = 1;
      adding += s.sample_count;
    }
    // The samples, in request order (a series may appear more than once).
    for (size_t i = 0; i < n; ++i) {
      if (!hold[i]) continue;
      any_held = true;
      const codec::DecodedSeries& s = request.series[i];
      auto it = held_.find(std::string(s.labels));
      thread_local_held().push_back(it->first);
      std::vector<codec::DecodedSample>& samples = it->second.samples;
      samples.insert(samples.end(), request.samples.begin() + s.first_sample,
                     request.samples.begin() + s.first_sample + s.sample_count);
    }
    held_samples_ += adding;
    held_count_.store(held_.size(), std::memory_order_release);
    held_series_gauge_.Set(static_cast<double>(held_.size()));
    held_samples_gauge_.Set(static_cast<double>(held_samples_));
  }
  if (any_new) work_cv_.notify_all();
  if (!any_held) return Status::Ok();

  // The rest of the request, to apply now.
  thread_local codec::DecodedWriteRequest rest_request;
  rest_request.Clear();
  for (size_t i = 0; i < n; ++i) {
    if (hold[i]) continue;
    codec::DecodedSeries s = request.series[i];
    s.first_sample = static_cast<uint32_t>(rest_request.samples.size());
    rest_request.samples.insert(
        rest_request.samples.end(),
        request.samples.begin() + request.series[i].first_sample,
        request.samples.begin() + request.series[i].first_sample +
            s.sample_count);
    rest_request.series.push_back(s);
  }
  *rest = &rest_request;
  return Status::Ok();
}

std::vector<std::string>& WarmStart::thread_local_held() {
  thread_local std::vector<std::string> held;
  return held;
}

void WarmStart::Logged(uint64_t seq) {
  std::vector<std::string>& last = thread_local_held();
  if (last.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& labels : last) {
    // Applied and released meanwhile (so logged again): nothing to keep.
    // Applied but held still: the record stays with the next batch, which
    // only keeps the log a little longer.
    auto it = held_.find(labels);
    if (it == held_.end()) continue;
    std::vector<uint64_t>& records = it->second.records;
    if (records.empty() || records.back() != seq) records.push_back(seq);
  }
  last.clear();
}

uint64_t WarmStart::OldestUnappliedRecord() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t oldest = unapplied_records_.empty() ? 0 : unapplied_records_.front();
  for (const auto& [labels, held] : held_) {
    for (const std::vector<uint64_t>* records :
         {&held.records, &held.applying_records}) {
      if (!records->empty() && (oldest == 0 || records->front() < oldest)) {
        oldest = records->front();
      }
    }
  }
  return oldest;
}

void WarmStart::Work(HistorySource* source) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [this] { return stopping_.load() || !queue_.empty(); });
    if (stopping_.load()) return;
    const std::string labels = std::move(queue_.front());
    queue_.pop_front();
    Held meta;
    {
      const Held& held = held_.at(labels);
      meta.labels_hash = held.labels_hash;
      meta.params = held.params;
      meta.first_ms = held.first_ms;
      meta.since = held.since;
      meta.deadline = held.deadline;
    }
    lock.unlock();
    head::SeriesSnapshot snapshot;
    WarmResult result = WarmResult::kFailed;
    const bool warmed = Warm(source, labels, meta, &snapshot, &result);
    series_[static_cast<int>(result)]->Increment();
    ApplyAndRelease(labels, warmed ? &snapshot : nullptr);
    duration_.Observe(
        std::chrono::duration<double>(Clock::now() - meta.since).count());
    lock.lock();
  }
}

bool WarmStart::Warm(HistorySource* source, const std::string& labels,
                     const Held& held, head::SeriesSnapshot* snapshot,
                     WarmResult* result) {
  *result = WarmResult::kFailed;
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      held.deadline - Clock::now());
  if (remaining.count() <= 0) {
    log::Warn("warmstart", "budget spent before the read; starting cold",
              {{"series", Describe(labels)}});
    return false;
  }
  const int64_t end_ms = held.first_ms - 1;
  const int64_t start_ms = held.first_ms - config_.lookback.count();
  Result<remote::ReadSeries> read =
      source->Read(labels, start_ms, end_ms, remaining);
  if (!read.ok()) {
    log::Warn("warmstart", "history read failed; starting cold",
              {{"series", Describe(labels)}, {"err", read.status().message()}});
    return false;
  }
  if (Clock::now() > held.deadline) {
    log::Warn("warmstart", "read outlasted the budget; starting cold",
              {{"series", Describe(labels)}});
    return false;
  }
  ewma::EstimatorState state;
  ewma::DerivedValues values;
  ewma::DerivedValues latest;
  int64_t latest_ms = 0;
  uint64_t applied = 0;
  for (size_t k = 0; k < read->timestamps_ms.size(); ++k) {
    const int64_t t = read->timestamps_ms[k];
    if (t < start_ms || t > end_ms) continue;
    const ewma::SampleOutcome outcome =
        ewma::UpdateEstimator(*held.params, &state, t, read->values[k], &values);
    if (outcome == ewma::SampleOutcome::kApplied) {
      latest = values;
      latest_ms = t;
      ++applied;
    }
  }
  history_samples_.Increment(static_cast<double>(applied));
  if (applied == 0) {
    *result = WarmResult::kEmpty;
    log::Info("warmstart", "no history in the lookback; starting cold",
              {{"series", Describe(labels)}});
    return false;
  }
  snapshot->labels = labels;
  snapshot->state = state;
  snapshot->latest_ms = latest_ms;
  snapshot->latest = latest;
  snapshot->params = *held.params;
  snapshot->head_start = state;
  snapshot->head.clear();
  *result = WarmResult::kWarmed;
  log::Debug("warmstart", "series warmed",
             {{"series", Describe(labels)}, {"history_samples", applied}});
  return true;
}

void WarmStart::ApplyAndRelease(const std::string& labels,
                                const head::SeriesSnapshot* snapshot) {
  std::vector<codec::DecodedSample> batch;
  bool first = true;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = held_.find(labels);
      // The batch just applied is logged again: its records may go.
      it->second.applying_records.clear();
      batch.clear();
      batch.swap(it->second.samples);
      it->second.applying_records.swap(it->second.records);
      if (batch.empty()) {
        held_.erase(it);
        held_count_.store(held_.size(), std::memory_order_release);
        held_series_gauge_.Set(static_cast<double>(held_.size()));
        idle_cv_.notify_all();
        return;
      }
      held_samples_ -= batch.size();
      held_samples_gauge_.Set(static_cast<double>(held_samples_));
    }
    if (!ApplySamples(labels, batch, first ? snapshot : nullptr)) {
      // Logged but not applied (the database refused them at shutdown):
      // the log keeps their records, and the next start replays them.
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<uint64_t>& records = held_.find(labels)->second.applying_records;
      unapplied_records_.insert(unapplied_records_.end(), records.begin(),
                                records.end());
      std::sort(unapplied_records_.begin(), unapplied_records_.end());
      records.clear();
    }
    first = false;
  }
}

bool WarmStart::ApplySamples(const std::string& labels,
                             const std::vector<codec::DecodedSample>& samples,
                             const head::SeriesSnapshot* snapshot) {
  std::vector<remote::OutgoingSample> outgoing;
  outgoing.reserve(samples.size());
  for (const codec::DecodedSample& s : samples) {
    outgoing.push_back({labels, s.timestamp_ms, s.value});
  }
  std::string raw;
  remote::EncodeWriteRequest(outgoing, &raw);
  const std::string body = codec::CompressSnappyBlock(raw);
  codec::DecodedWriteRequest decoded;
  Status s = codec::DecodeWriteRequest(raw, &decoded);
  head::ApplyResult result;
  while (s.ok()) {
    s = db_->IngestHeld(snapshot, decoded, body, &result);
    if (s.ok()) return true;
    if (s.code() != StatusCode::kUnavailable || stopping_.load()) break;
    std::this_thread::sleep_for(kApplyRetry);
  }
  unapplied_samples_.Increment(static_cast<double>(samples.size()));
  // The request log keeps them for the next start.
  log::Error("warmstart", "held samples not applied",
             {{"series", Describe(labels)},
              {"samples", samples.size()},
              {"err", s.message()}});
  return false;
}

bool WarmStart::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return held_.empty(); });
}

uint64_t WarmStart::series(WarmResult result) const {
  return static_cast<uint64_t>(series_[static_cast<int>(result)]->Value());
}

uint64_t WarmStart::held_series() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.size();
}

uint64_t WarmStart::held_samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_samples_;
}

}  // namespace promewma::warmstart
