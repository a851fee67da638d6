#include "head/head.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <utility>

#include <boost/container/deque.hpp>
#include <boost/container/options.hpp>

#include "codec/xor_chunk.h"
#include "head/label_arena.h"
#include "head/series_table.h"

namespace promewma::head {

using ewma::DerivedValues;
using ewma::EmittedDerived;
using ewma::EstimatorParams;
using ewma::EstimatorState;
using ewma::Output;
using ewma::SampleOutcome;

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kNotFinite:
      return "not_finite";
    case DropReason::kOutOfOrder:
      return "out_of_order";
    case DropReason::kConflict:
      return "duplicate_timestamp";
    case DropReason::kDuplicate:
      return "duplicate";
    case DropReason::kDerivedSeries:
      return "derived_series";
    case DropReason::kUnmatched:
      return "unmatched";
    case DropReason::kHistogram:
      return "histogram";
    case DropReason::kSeriesLimit:
      return "series_limit";
  }
  return "unknown";
}

void ApplyResult::Clear() {
  std::vector<SealedChunk> kept_sealed = std::move(sealed);
  std::vector<EmittedDerived> kept_derived = std::move(derived);
  kept_sealed.clear();
  kept_derived.clear();
  *this = ApplyResult();
  sealed = std::move(kept_sealed);
  derived = std::move(kept_derived);
}

namespace {

// What replaying a raw head needs of the state before it (see
// DeriveOutputChunk): the ordering fields of EstimatorState guard against
// samples older than the head, and every head sample is newer, so they are
// left out. Of the time-of-day profile only the slots the head's samples
// changed are kept, with their values from before: a head of 10-second
// samples spans 20 minutes, two or three 15-minute slots, so this is a few
// bytes where a copy of the profile would be 192.
struct HeadStart {
  double mean = 0;
  double spread = 0;
  double weight_sq = 0;
  uint64_t count = 0;
  int64_t last_sample_ms = 0;
  int64_t season_start_ms = 0;
  // (slot << 16) | the slot's value before the head's first write to it.
  std::vector<uint32_t> season_undo;

  // Starts a head at state `s` (which has no profile writes undone yet).
  void Begin(const EstimatorState& s) {
    mean = s.mean;
    spread = s.spread;
    weight_sq = s.weight_sq;
    count = s.count;
    last_sample_ms = s.last_sample_ms;
    season_start_ms = s.season_start_ms;
    season_undo.clear();
  }
  // A restored head: its start state with its full profile, and the
  // series' state now.
  void Begin(const EstimatorState& start, const EstimatorState& now) {
    Begin(start);
    for (int i = 0; i < ewma::kMaxSeasonSlots; ++i) {
      if (start.season[i] != now.season[i]) NoteSeasonWrite(i, start.season[i]);
    }
  }
  bool Undoes(int slot) const {
    for (uint32_t u : season_undo) {
      if (static_cast<int>(u >> 16) == slot) return true;
    }
    return false;
  }
  // Slot `slot` held `before` when a head sample wrote it.
  void NoteSeasonWrite(int slot, ewma::SeasonSlot before) {
    if (!Undoes(slot)) {
      season_undo.push_back(static_cast<uint32_t>(slot) << 16 | before);
    }
  }
  // The state before the head's first sample, given the series' state
  // `now`. With `pending_slot` >= 0, `now` also holds one write of a sample
  // after the head, which left that slot at `pending_before`.
  EstimatorState ToState(const EstimatorState& now, int pending_slot = -1,
                         ewma::SeasonSlot pending_before = 0) const {
    EstimatorState s;
    s.mean = mean;
    s.spread = spread;
    s.weight_sq = weight_sq;
    s.count = count;
    s.last_sample_ms = last_sample_ms;
    s.season_start_ms = season_start_ms;
    s.season = now.season;
    for (uint32_t u : season_undo) {
      s.season.Set(static_cast<int>(u >> 16),
                   static_cast<ewma::SeasonSlot>(u & 0xFFFF));
    }
    if (pending_slot >= 0 && !Undoes(pending_slot)) {
      s.season.Set(pending_slot, pending_before);
    }
    return s;  // last_timestamp_ms: before any sample
  }
  size_t heap_bytes() const {
    return season_undo.capacity() * sizeof(uint32_t);
  }
};

// The state of a series that starts afresh: nothing learned, but samples
// older than the last one it accepted (or conflicting with it) are still
// refused, since they are in the request log and the store already.
EstimatorState FreshStateAfter(const EstimatorState& old) {
  EstimatorState fresh;
  fresh.last_timestamp_ms = old.last_timestamp_ms;
  fresh.last_value_bits = old.last_value_bits;
  return fresh;
}

// An open head chunk with nothing in it yet: no buffer until its first
// sample, and one that grows by half up to the head's cap.
codec::XorChunkAppender EmptyHeadChunk() {
  codec::XorChunkAppender chunk(0);
  chunk.set_capacity_limit(Head::kMaxHeadChunkBufferBytes);
  return chunk;
}

}  // namespace

// Not cache-line aligned: every access to a series holds its shard's lock,
// and a shard keeps its series in blocks of its own (Shard::series), so
// two cores never write neighbouring series at once. Padding each one to
// 64 bytes would cost 24 bytes a series for nothing.
//
// Only the raw samples of the open head chunk are kept. The derived heads
// (ewma, thresholds, ...) are a function of them and of the state before
// their first sample, and are re-derived when read (sealed chunks keep
// that state too): this keeps one chunk per series in memory instead of
// three, and one chunk append per sample on the hot path.
struct Head::Series {
  // Canonical label encoding, in the shard's arena.
  const char* label_data = nullptr;
  uint32_t label_size = 0;
  // Why the series is ignored when params is nullptr.
  DropReason ignored_reason = DropReason::kUnmatched;
  uint64_t labels_hash = 0;
  // Parameters of the rule that selected the series; nullptr when ignored.
  const EstimatorParams* params = nullptr;
  // state.last_timestamp_ms is also the timestamp of `latest`.
  EstimatorState state;
  HeadStart head_start;  // the state before the first sample of `head`
  // Outputs of the last accepted sample (present == 0: none yet).
  DerivedValues latest;
  // Raw samples of the open head chunk; allocates on its first sample.
  codec::XorChunkAppender head = EmptyHeadChunk();
  // Head::Now() when a request last carried a sample for it (DropIdleSeries).
  int64_t last_arrival_ms = 0;

  std::string_view labels() const { return {label_data, label_size}; }
};

struct Head::Shard {
  mutable std::mutex mu;
  // Guarded by mu. A deque keeps Series addresses stable for the table. In
  // blocks of 64: std::deque gives a struct this size a heap block each,
  // whose allocator header and map entry cost 24 bytes a series.
  boost::container::deque<
      Series, void,
      boost::container::deque_options_t<boost::container::block_size<64u>>>
      series;
  SeriesTable<Series> table;
  LabelArena labels;
  // Slots of dropped series (label_size == 0), reused by new ones.
  std::vector<Series*> free;
  // Arenas CompactLabels replaced, kept until ReleaseRetiredLabels: the
  // write-back queues may still hold views of their label sets.
  std::vector<LabelArena> retired;
};

namespace {

bool HasDerivedSuffix(std::string_view name) {
  for (int i = 0; i < ewma::kOutputCount; ++i) {
    std::string_view suffix = ewma::OutputSuffix(static_cast<Output>(i));
    if (name.size() >= suffix.size() &&
        name.substr(name.size() - suffix.size()) == suffix) {
      return true;
    }
  }
  return false;
}

std::string RejectionMessage(SampleOutcome outcome, model::LabelSetView labels,
                             int64_t timestamp_ms, int64_t last_ms) {
  std::string msg = outcome == SampleOutcome::kOutOfOrder
                        ? "out of order sample"
                        : "duplicate sample with a different value";
  msg += " for series " + labels.ToString() + ": timestamp " +
         std::to_string(timestamp_ms);
  msg += outcome == SampleOutcome::kOutOfOrder ? " is older than the last one, "
                                               : " equals the last one, ";
  msg += std::to_string(last_ms);
  return msg;
}

void PushSealed(uint64_t labels_hash, const codec::XorChunkAppender& chunk,
                const ChunkDerivation& derivation,
                std::vector<SealedChunk>* sealed) {
  if (chunk.num_samples() == 0) return;
  sealed->push_back(SealedChunk{labels_hash, chunk.min_time(),
                                chunk.max_time(), std::string(chunk.bytes()),
                                derivation});
}

}  // namespace

Head::Head(HeadOptions options)
    : options_(std::move(options)),
      collect_derived_(options_.collect_derived) {
  // At a million series every 8 bytes here are 8 MB of RSS.
  static_assert(sizeof(Series) <= 296, "a series' fixed part: 296 bytes");
  generations_.push_back(RulesFrom(options_));
  current_.store(generations_.back().get(), std::memory_order_release);
  shards_.reserve(kShardCount);
  for (int i = 0; i < kShardCount; ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

Head::~Head() = default;

std::unique_ptr<const Head::Rules> Head::RulesFrom(const HeadOptions& options) {
  return std::make_unique<const Rules>(Rules{options.defaults, options.rules,
                                             options.limits,
                                             options.series_idle_timeout_ms});
}

const EstimatorParams* Head::ParamsFor(model::LabelSetView labels,
                                         DropReason* ignored_reason) const {
  if (HasDerivedSuffix(labels.MetricName())) {
    *ignored_reason = DropReason::kDerivedSeries;
    return nullptr;
  }
  const Rules& rules = *current();
  if (rules.rules.empty()) return &rules.defaults;
  for (const SeriesRule& rule : rules.rules) {
    if (rule.selector.Matches(labels)) return &rule.params;
  }
  *ignored_reason = DropReason::kUnmatched;
  return nullptr;
}

template <typename Visit>
void Head::ForEachByShard(const PreparedRequest& prepared,
                            Visit visit) const {
  for (int shard_index = 0; shard_index < kShardCount; ++shard_index) {
    const uint32_t begin = prepared.bucket_start_[shard_index];
    const uint32_t end = prepared.bucket_start_[shard_index + 1];
    if (begin == end) continue;
    Shard& shard = *shards_[shard_index];
    std::lock_guard<std::mutex> lock(shard.mu);
    for (uint32_t k = begin; k < end; ++k) visit(shard, prepared.order_[k]);
  }
}

Status Head::Apply(const codec::DecodedWriteRequest& request,
                     ApplyResult* result) {
  thread_local PreparedRequest prepared;
  Status s = Prepare(request, &prepared);
  if (!s.ok()) return s;
  Commit(request, &prepared, result);
  return Status::Ok();
}

Status Head::Prepare(const codec::DecodedWriteRequest& request,
                       PreparedRequest* prepared) const {
  // Bucket the request's series by shard with a counting sort, which keeps
  // request order within each shard (and so per-series sample order).
  const size_t n = request.series.size();
  std::vector<uint32_t>& order = prepared->order_;
  std::vector<Series*>& resolved = prepared->resolved_;
  std::array<uint32_t, kShardCount + 1>& bucket_start = prepared->bucket_start_;
  prepared->refusal_ = Refusal::kNone;
  prepared->drops_seen_ = drops_.load(std::memory_order_acquire);
  order.resize(n);
  resolved.assign(n, nullptr);
  bucket_start.fill(0);
  for (const codec::DecodedSeries& s : request.series) {
    ++bucket_start[ShardOf(s.labels_hash) + 1];
  }
  for (int i = 0; i < kShardCount; ++i) bucket_start[i + 1] += bucket_start[i];
  std::array<uint32_t, kShardCount> fill{};
  for (size_t i = 0; i < n; ++i) {
    size_t shard = ShardOf(request.series[i].labels_hash);
    order[bucket_start[shard] + fill[shard]++] = static_cast<uint32_t>(i);
  }

  // Find the series we already know. Their label sets were validated when
  // they were created; only new ones need it, and all of them must pass
  // before anything is applied (a bad request changes nothing). Pointers
  // stay valid until Commit unless DropIdleSeries runs in between, which
  // Commit notices (drops_) and then looks every series up again.
  bool any_new = false;
  ForEachByShard(*prepared, [&](Shard& shard, uint32_t i) {
    const codec::DecodedSeries& in = request.series[i];
    resolved[i] = shard.table.Find(in.labels_hash, in.labels);
    any_new |= resolved[i] == nullptr;
  });
  if (any_new) {
    const SeriesLimits& limits = current()->limits;
    for (size_t i = 0; i < n; ++i) {
      if (resolved[i] != nullptr) continue;
      Status s = codec::ValidateSeriesLabels(request, i);
      if (s.ok()) {
        s = CheckLabelLimits(model::LabelSetView(request.series[i].labels), i,
                             limits, &prepared->refusal_);
      }
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

void Head::Commit(const codec::DecodedWriteRequest& request,
                    PreparedRequest* prepared, ApplyResult* result) {
  result->Clear();
  result->received = request.samples.size() + request.histogram_count;
  result->dropped[static_cast<int>(DropReason::kHistogram)] =
      request.histogram_count;
  std::vector<Series*>& resolved = prepared->resolved_;
  if (drops_.load(std::memory_order_acquire) != prepared->drops_seen_) {
    // Series were dropped since Prepare: its pointers may be to freed
    // slots, so every series is looked up again.
    std::fill(resolved.begin(), resolved.end(), nullptr);
  }
  const int64_t now = Now();
  // Create the new series and apply every sample.
  size_t first_rejected = std::numeric_limits<size_t>::max();
  uint64_t created = 0, ignored_created = 0;
  ForEachByShard(*prepared, [&](Shard& shard, uint32_t series_index) {
    const codec::DecodedSeries& in = request.series[series_index];
    Series* series = resolved[series_index];
    if (series == nullptr) {
      // Another writer (or an earlier entry of this request) may have
      // created it since pass 1.
      series = shard.table.Find(in.labels_hash, in.labels);
    }
    if (series == nullptr) {
      DropReason ignored_reason = DropReason::kUnmatched;
      const EstimatorParams* params =
          ParamsFor(model::LabelSetView(in.labels), &ignored_reason);
      if (params != nullptr && AtSeriesLimit(created)) {
        result->dropped[static_cast<int>(DropReason::kSeriesLimit)] +=
            in.sample_count;
        ++result->refused_series;
        return;
      }
      series = NewSeriesSlot(&shard);
      const std::string_view labels = shard.labels.Copy(in.labels);
      series->label_data = labels.data();
      series->label_size = static_cast<uint32_t>(labels.size());
      series->labels_hash = in.labels_hash;
      series->params = params;
      series->ignored_reason = ignored_reason;
      shard.table.Insert(in.labels_hash, series);
      ++(series->params != nullptr ? created : ignored_created);
    }
    series->last_arrival_ms = now;
    if (series->params == nullptr) {
      result->dropped[static_cast<int>(series->ignored_reason)] +=
          in.sample_count;
      return;
    }
    ApplySamples(request, series_index, series, result, &first_rejected);
  });
  result->new_series = created;
  if (result->refused_series != 0) result->refusal = Refusal::kActiveSeries;
  if (created) active_series_.fetch_add(created, std::memory_order_relaxed);
  if (ignored_created)
    ignored_series_.fetch_add(ignored_created, std::memory_order_relaxed);
}

int64_t Head::Now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Head::Series* Head::NewSeriesSlot(Shard* shard) {
  if (shard->free.empty()) return &shard->series.emplace_back();
  Series* slot = shard->free.back();
  shard->free.pop_back();
  return slot;
}

void Head::CompactLabels(Shard* shard) {
  // Half dead and at least a block's worth: a copy pass then frees at
  // least as much as it copies, so its cost is amortised over the drops.
  const size_t dead = shard->labels.dead_bytes();
  if (dead < (64u << 10) || dead * 2 < shard->labels.memory_bytes()) return;
  LabelArena fresh;
  for (Series& s : shard->series) {
    if (s.label_size == 0) continue;  // a free slot
    const std::string_view copy = fresh.Copy(s.labels());
    s.label_data = copy.data();
  }
  shard->retired.push_back(std::move(shard->labels));
  shard->labels = std::move(fresh);
}

void Head::ReleaseRetiredLabels() {
  for (const std::unique_ptr<Shard>& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    shard->retired.clear();
    shard->retired.shrink_to_fit();
  }
}

uint64_t Head::DropIdleSeries(size_t shard_index,
                              std::vector<SealedChunk>* sealed,
                              std::vector<DroppedSeries>* dropped) {
  const int64_t now = Now();
  const Rules& rules = *current();
  uint64_t total = 0, processed = 0;
  Shard& shard = *shards_.at(shard_index);
  std::lock_guard<std::mutex> lock(shard.mu);
  for (Series& s : shard.series) {
    if (s.label_size == 0) continue;  // a free slot
    int64_t timeout = rules.series_idle_timeout_ms;
    if (timeout == HeadOptions::kIdleTimeoutResetAfter) {
      timeout = s.params != nullptr ? s.params->reset_after_ms
                                    : rules.defaults.reset_after_ms;
    }
    if (timeout <= 0) continue;  // never dropped
    if (s.latest.stale) timeout = std::min(timeout, kStaleSeriesIdleMs);
    if (now - s.last_arrival_ms < timeout) continue;
    // Before the first slot is freed: a request prepared before looks its
    // series up again at Commit.
    if (total == 0) drops_.fetch_add(1, std::memory_order_acq_rel);
    if (s.params != nullptr) {
      PushSealed(s.labels_hash, s.head,
                 ChunkDerivation{*s.params, s.head_start.ToState(s.state)},
                 sealed);
      dropped->push_back(DroppedSeries{std::string(s.labels()), s.labels_hash,
                                       s.params->outputs,
                                       s.state.last_timestamp_ms});
      ++processed;
    }
    shard.table.Erase(s.labels_hash, &s);
    shard.labels.Release(s.labels());
    s = Series();  // frees the head chunk; label_size 0 marks it free
    shard.free.push_back(&s);
    ++total;
  }
  if (total > 0) CompactLabels(&shard);
  active_series_.fetch_sub(processed, std::memory_order_relaxed);
  ignored_series_.fetch_sub(total - processed, std::memory_order_relaxed);
  return total;
}

bool Head::AtSeriesLimit(uint64_t created_so_far) const {
  const uint64_t max = current()->limits.max_active_series;
  // Commits are serialised by the database, so the count is exact there;
  // Head::Apply from several threads may overshoot by what they create at
  // the same instant.
  return max != 0 &&
         active_series_.load(std::memory_order_relaxed) + created_so_far >= max;
}

void Head::AppendRaw(Series* series, int64_t timestamp_ms, double value,
                     const EstimatorState& prior, const SeasonWrite& write,
                     ApplyResult* result) const {
  codec::XorChunkAppender& head = series->head;
  if (head.num_samples() > 0) {
    // Samples only move forward, so a head that began before the sample's
    // bucket belongs to an earlier one.
    const int64_t bucket_start =
        BucketStartOf(timestamp_ms, options_.chunk_bucket_ms);
    if (head.num_samples() >= codec::XorChunkAppender::kMaxSamplesPerChunk ||
        head.capacity_for_next_append() > kMaxHeadChunkBufferBytes ||
        head.min_time() < bucket_start) {
      // The bytes are copied and the buffer kept for the next chunk: the
      // series holds one buffer as large as its chunks grow (the cap at
      // most) instead of freeing it and growing a new one from 64 bytes at
      // every seal. That churn, 100,000 series sealing several times an
      // hour, left small holes all over the heap that malloc_trim cannot
      // give back, and cost a tenth of the ingest CPU in malloc and free.
      PushSealed(series->labels_hash, head,
                 ChunkDerivation{*series->params,
                                 series->head_start.ToState(
                                     series->state, write.slot, write.before)},
                 &result->sealed);
      head.Clear();
    }
  }
  if (head.num_samples() == 0) series->head_start.Begin(prior);
  if (write.slot >= 0) {
    series->head_start.NoteSeasonWrite(write.slot, write.before);
  }
  head.Append(timestamp_ms, value);
}

void Head::ApplySamples(const codec::DecodedWriteRequest& request,
                          size_t series_index, Series* series,
                          ApplyResult* result, size_t* first_rejected) const {
  const codec::DecodedSeries& in = request.series[series_index];
  const codec::DecodedSample* samples =
      request.samples.data() + in.first_sample;
  DerivedValues out;
  const int season_slots = series->params->season_slots;
  for (uint32_t j = 0; j < in.sample_count; ++j) {
    // The state before the sample, without its profile (a copy of that
    // would allocate): the slot the sample may write, and its value.
    EstimatorState prior;
    prior.mean = series->state.mean;
    prior.spread = series->state.spread;
    prior.weight_sq = series->state.weight_sq;
    prior.count = series->state.count;
    prior.last_sample_ms = series->state.last_sample_ms;
    prior.last_timestamp_ms = series->state.last_timestamp_ms;
    prior.season_start_ms = series->state.season_start_ms;
    SeasonWrite write;
    if (season_slots > 0) {
      write.slot = ewma::SeasonSlotOf(samples[j].timestamp_ms, season_slots);
      write.before = series->state.season[write.slot];
    }
    const SampleOutcome outcome =
        ewma::UpdateEstimator(*series->params, &series->state,
                        samples[j].timestamp_ms, samples[j].value, &out);
    switch (outcome) {
      case SampleOutcome::kApplied:
      case SampleOutcome::kStale:
        ++(outcome == SampleOutcome::kApplied ? result->applied
                                              : result->stale);
        series->latest = out;
        if (samples[j].timestamp_ms > result->max_timestamp_ms)
          result->max_timestamp_ms = samples[j].timestamp_ms;
        AppendRaw(series, samples[j].timestamp_ms, samples[j].value, prior,
                  write, result);
        if (out.present != 0 &&
            collect_derived_.load(std::memory_order_relaxed)) {
          result->derived.push_back(EmittedDerived{
              series->labels_hash, series->labels(), samples[j].timestamp_ms,
              out});
        }
        break;
      case SampleOutcome::kDuplicate:
        ++result->dropped[static_cast<int>(DropReason::kDuplicate)];
        break;
      case SampleOutcome::kNotFinite:
        ++result->dropped[static_cast<int>(DropReason::kNotFinite)];
        break;
      case SampleOutcome::kOutOfOrder:
      case SampleOutcome::kConflict:
        ++result->dropped[static_cast<int>(outcome == SampleOutcome::kOutOfOrder
                                               ? DropReason::kOutOfOrder
                                               : DropReason::kConflict)];
        if (series_index < *first_rejected) {
          *first_rejected = series_index;
          result->rejection = RejectionMessage(
              outcome, model::LabelSetView(series->labels()),
              samples[j].timestamp_ms, prior.last_timestamp_ms);
        }
        break;
    }
  }
}

void Head::VisitSnapshots(
    const std::function<void(const SeriesSnapshot&)>& visit) const {
  // A shard's snapshots are copied under its lock and visited after it:
  // the visitor writes the checkpoint (RocksDB batches of megabytes), and
  // nearly every request touches every shard, so writing under the lock
  // held up all writers for as long. The copies are reused from shard to
  // shard.
  std::vector<SeriesSnapshot> copies;
  for (const auto& shard : shards_) {
    size_t n = 0;
    {
      std::lock_guard<std::mutex> lock(shard->mu);
      if (copies.size() < shard->series.size()) {
        copies.resize(shard->series.size());
      }
      for (const Series& s : shard->series) {
        if (s.params == nullptr) continue;
        SeriesSnapshot& snapshot = copies[n++];
        snapshot.labels = s.labels();
        snapshot.state = s.state;
        snapshot.latest_ms = s.state.last_timestamp_ms;
        snapshot.latest = s.latest;
        snapshot.params = *s.params;
        snapshot.head_start = s.head_start.ToState(s.state);
        snapshot.head.assign(s.head.bytes());
      }
    }
    for (size_t i = 0; i < n; ++i) visit(copies[i]);
  }
}

Status Head::Restore(const SeriesSnapshot& snapshot,
                       std::vector<SealedChunk>* sealed) {
  const uint64_t hash = model::HashLabelSet(snapshot.labels);
  Shard& shard = *shards_[ShardOf(hash)];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.table.Find(hash, snapshot.labels) != nullptr) {
    return Status::InvalidArgument(
        "series restored twice: " +
        model::LabelSetView(snapshot.labels).ToString());
  }
  DropReason ignored;
  const EstimatorParams* params =
      ParamsFor(model::LabelSetView(snapshot.labels), &ignored);
  codec::XorChunkAppender raw = EmptyHeadChunk();
  if (!snapshot.head.empty()) {
    Result<codec::XorChunkAppender> resumed =
        codec::XorChunkAppender::Resume(snapshot.head);
    if (!resumed.ok()) return resumed.status();
    raw = std::move(resumed).value();
    // A saved head already past the cap is sealed at its next sample.
    raw.set_capacity_limit(kMaxHeadChunkBufferBytes);
  }
  if (raw.num_samples() > 0 &&
      (params == nullptr || *params != snapshot.params)) {
    // Its outputs keep the parameters the samples were received under.
    PushSealed(hash, raw, ChunkDerivation{snapshot.params, snapshot.head_start},
               sealed);
    raw = EmptyHeadChunk();
  }
  if (params == nullptr) return Status::Ok();  // the rules changed
  Series& series = *NewSeriesSlot(&shard);
  const std::string_view labels = shard.labels.Copy(snapshot.labels);
  series.label_data = labels.data();
  series.label_size = static_cast<uint32_t>(labels.size());
  series.labels_hash = hash;
  series.params = params;
  if (*params == snapshot.params) {
    series.state = snapshot.state;
    series.head_start.Begin(snapshot.head_start, snapshot.state);
    series.latest = snapshot.latest;
  } else {
    series.state = FreshStateAfter(snapshot.state);  // its head is sealed
  }
  series.head = std::move(raw);
  series.last_arrival_ms = Now();
  shard.table.Insert(hash, &series);
  active_series_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

void Head::Reparameterise(Series* series, const EstimatorParams* params,
                          std::vector<SealedChunk>* sealed) const {
  PushSealed(series->labels_hash, series->head,
             ChunkDerivation{*series->params,
                             series->head_start.ToState(series->state)},
             sealed);
  series->head = EmptyHeadChunk();
  series->state = FreshStateAfter(series->state);
  series->latest = DerivedValues();
  series->params = params;
}

void Head::Reconfigure(const HeadOptions& options,
                       std::vector<SealedChunk>* sealed,
                       std::vector<DroppedSeries>* dropped,
                       ReconfigureStats* stats) {
  *stats = ReconfigureStats();
  {
    std::lock_guard<std::mutex> lock(generations_mu_);
    generations_.push_back(RulesFrom(options));
    current_.store(generations_.back().get(), std::memory_order_release);
  }
  // Before any slot is freed: a request prepared from here on looks its
  // series up again at Commit.
  drops_.fetch_add(1, std::memory_order_acq_rel);
  uint64_t forgotten_processed = 0;
  for (const std::unique_ptr<Shard>& shard_ptr : shards_) {
    Shard& shard = *shard_ptr;
    std::lock_guard<std::mutex> lock(shard.mu);
    bool any = false;
    for (Series& s : shard.series) {
      if (s.label_size == 0) continue;  // a free slot
      DropReason ignored = DropReason::kUnmatched;
      const EstimatorParams* params =
          ParamsFor(model::LabelSetView(s.labels()), &ignored);
      if (s.params != nullptr && params != nullptr) {
        if (*params == *s.params) {
          s.params = params;  // the old generation's copy stays valid too
          ++stats->unchanged;
        } else {
          Reparameterise(&s, params, sealed);
          ++stats->restarted;
        }
        continue;
      }
      if (s.params == nullptr && params == nullptr) continue;  // still ignored
      if (s.params != nullptr) {
        // Its stored history stays readable, as an idle series' does.
        PushSealed(s.labels_hash, s.head,
                   ChunkDerivation{*s.params, s.head_start.ToState(s.state)},
                   sealed);
        dropped->push_back(DroppedSeries{std::string(s.labels()),
                                         s.labels_hash, s.params->outputs,
                                         s.state.last_timestamp_ms});
        ++stats->dropped;
        ++forgotten_processed;
      } else {
        ++stats->forgotten;
      }
      shard.table.Erase(s.labels_hash, &s);
      shard.labels.Release(s.labels());
      s = Series();
      shard.free.push_back(&s);
      any = true;
    }
    if (any) CompactLabels(&shard);
  }
  active_series_.fetch_sub(forgotten_processed, std::memory_order_relaxed);
  ignored_series_.fetch_sub(stats->forgotten, std::memory_order_relaxed);
}

void Head::VisitSeries(
    const std::function<void(const SeriesInfo&)>& visit) const {
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    for (const Series& s : shard->series) {
      if (s.params == nullptr) continue;
      visit(SeriesInfo{model::LabelSetView(s.labels()), s.labels_hash,
                       s.params->outputs});
    }
  }
}

uint64_t Head::MemoryBytes() const {
  uint64_t bytes = sizeof(Head) + shards_.size() * sizeof(Shard);
  for (const std::unique_ptr<Shard>& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    bytes += shard->series.size() * sizeof(Series) +
             shard->table.memory_bytes() + shard->labels.memory_bytes();
    for (const LabelArena& retired : shard->retired) {
      bytes += retired.memory_bytes();
    }
    for (const Series& series : shard->series) {
      bytes += series.head.capacity() + series.state.season.heap_bytes() +
               series.head_start.heap_bytes();
    }
  }
  return bytes;
}

bool Head::Knows(uint64_t labels_hash, std::string_view labels) const {
  const Shard& shard = *shards_[ShardOf(labels_hash)];
  std::lock_guard<std::mutex> lock(shard.mu);
  return shard.table.Find(labels_hash, labels) != nullptr;
}

bool Head::CopyHeadChunk(uint64_t labels_hash, std::string_view labels,
                           std::optional<Output> output,
                           HeadChunk* out) const {
  const Shard& shard = *shards_[ShardOf(labels_hash)];
  std::lock_guard<std::mutex> lock(shard.mu);
  const Series* s = shard.table.Find(labels_hash, labels);
  if (s == nullptr || s->params == nullptr) return false;
  out->bytes.clear();
  if (s->head.num_samples() == 0) return true;
  const codec::XorChunkAppender* head = &s->head;
  codec::XorChunkAppender derived(0);
  if (output.has_value()) {
    // Built by this head from these parameters: the replay cannot fail.
    (void)DeriveOutputChunk(
        ChunkDerivation{*s->params, s->head_start.ToState(s->state)},
        s->head.bytes(),
        *output, &derived);
    head = &derived;
    if (head->num_samples() == 0) return true;
  }
  out->min_time_ms = head->min_time();
  out->max_time_ms = head->max_time();
  out->bytes.assign(head->bytes());
  return true;
}

void Head::VisitLatest(
    const std::function<void(const LatestDerived&)>& visit) const {
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    for (const Series& s : shard->series) {
      if (s.params == nullptr || s.latest.present == 0 || s.latest.stale)
        continue;
      double input_value;
      std::memcpy(&input_value, &s.state.last_value_bits,
                  sizeof(input_value));
      visit(LatestDerived{model::LabelSetView(s.labels()),
                          s.state.last_timestamp_ms, input_value, s.latest});
    }
  }
}

}  // namespace promewma::head
