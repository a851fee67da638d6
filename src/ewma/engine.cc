#include "ewma/engine.h"

#include <deque>
#include <limits>
#include <mutex>

#include "codec/xor_chunk.h"
#include "ewma/series_table.h"

namespace promewma::ewma {

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
  }
  return "unknown";
}

// Cache-line aligned: series of different writers sit side by side in a
// shard's deque, and without alignment two cores updating neighbours would
// keep stealing the shared line from each other (false sharing).
struct alignas(64) Engine::Series {
  std::string label_bytes;  // canonical encoding, owned
  uint64_t labels_hash = 0;
  // Parameters of the rule that selected the series; nullptr when the series
  // is ignored, with the reason in ignored_reason.
  const EstimatorParams* params = nullptr;
  DropReason ignored_reason = DropReason::kUnmatched;
  EstimatorState state;
  // Outputs of the last accepted sample (present == 0: none yet).
  int64_t latest_ms = 0;
  DerivedValues latest;
  // Open head chunks by stored kind; made on a kind's first sample.
  std::array<std::unique_ptr<codec::XorChunkAppender>, kStoredKinds> heads;

  std::string_view labels() const { return label_bytes; }
};

struct Engine::Shard {
  mutable std::mutex mu;
  // Guarded by mu. A deque keeps Series addresses stable for the table.
  std::deque<Series> series;
  SeriesTable<Series> table;
};

namespace {

bool HasDerivedSuffix(std::string_view name) {
  for (int i = 0; i < kOutputCount; ++i) {
    std::string_view suffix = OutputSuffix(static_cast<Output>(i));
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

}  // namespace

Engine::Engine(EngineOptions options) : options_(std::move(options)) {
  shards_.reserve(kShardCount);
  for (int i = 0; i < kShardCount; ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

Engine::~Engine() = default;

const EstimatorParams* Engine::ParamsFor(model::LabelSetView labels,
                                         DropReason* ignored_reason) const {
  if (HasDerivedSuffix(labels.MetricName())) {
    *ignored_reason = DropReason::kDerivedSeries;
    return nullptr;
  }
  if (options_.rules.empty()) return &options_.defaults;
  for (const SeriesRule& rule : options_.rules) {
    if (rule.selector.Matches(labels)) return &rule.params;
  }
  *ignored_reason = DropReason::kUnmatched;
  return nullptr;
}

template <typename Visit>
void Engine::ForEachByShard(const PreparedRequest& prepared,
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

Status Engine::Apply(const codec::DecodedWriteRequest& request,
                     ApplyResult* result) {
  thread_local PreparedRequest prepared;
  Status s = Prepare(request, &prepared);
  if (!s.ok()) return s;
  Commit(request, &prepared, result);
  return Status::Ok();
}

Status Engine::Prepare(const codec::DecodedWriteRequest& request,
                       PreparedRequest* prepared) const {
  // Bucket the request's series by shard with a counting sort, which keeps
  // request order within each shard (and so per-series sample order).
  const size_t n = request.series.size();
  std::vector<uint32_t>& order = prepared->order_;
  std::vector<Series*>& resolved = prepared->resolved_;
  std::array<uint32_t, kShardCount + 1>& bucket_start = prepared->bucket_start_;
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
  // stay valid until Commit because series are never removed while the
  // engine lives.
  bool any_new = false;
  ForEachByShard(*prepared, [&](Shard& shard, uint32_t i) {
    const codec::DecodedSeries& in = request.series[i];
    resolved[i] = shard.table.Find(in.labels_hash, in.labels);
    any_new |= resolved[i] == nullptr;
  });
  if (any_new) {
    for (size_t i = 0; i < n; ++i) {
      if (resolved[i] != nullptr) continue;
      Status s = codec::ValidateSeriesLabels(request, i);
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

void Engine::Commit(const codec::DecodedWriteRequest& request,
                    PreparedRequest* prepared, ApplyResult* result) {
  *result = ApplyResult();
  result->received = request.samples.size() + request.histogram_count;
  result->dropped[static_cast<int>(DropReason::kHistogram)] =
      request.histogram_count;
  std::vector<Series*>& resolved = prepared->resolved_;
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
      series = &shard.series.emplace_back();
      series->label_bytes.assign(in.labels);
      series->labels_hash = in.labels_hash;
      series->params = ParamsFor(model::LabelSetView(series->label_bytes),
                                 &series->ignored_reason);
      shard.table.Insert(in.labels_hash, series);
      ++(series->params != nullptr ? created : ignored_created);
    }
    if (series->params == nullptr) {
      result->dropped[static_cast<int>(series->ignored_reason)] +=
          in.sample_count;
      return;
    }
    ApplySamples(request, series_index, series, result, &first_rejected);
  });
  result->new_series = created;
  if (created) active_series_.fetch_add(created, std::memory_order_relaxed);
  if (ignored_created)
    ignored_series_.fetch_add(ignored_created, std::memory_order_relaxed);
}

void Engine::AppendStored(Series* series, uint8_t kind, int64_t timestamp_ms,
                          int64_t bucket_start_ms, double value,
                          ApplyResult* result) const {
  std::unique_ptr<codec::XorChunkAppender>& head = series->heads[kind];
  if (head != nullptr && head->num_samples() > 0) {
    // Samples only move forward, so a head that began before this sample's
    // bucket belongs to an earlier one.
    if (head->num_samples() >= codec::XorChunkAppender::kMaxSamplesPerChunk ||
        head->min_time() < bucket_start_ms) {
      result->sealed.push_back(SealedChunk{series->labels_hash, kind,
                                           head->min_time(), head->max_time(),
                                           std::string(head->bytes())});
      head.reset();
    }
  }
  if (head == nullptr) head = std::make_unique<codec::XorChunkAppender>();
  head->Append(timestamp_ms, value);
}

void Engine::ApplySamples(const codec::DecodedWriteRequest& request,
                          size_t series_index, Series* series,
                          ApplyResult* result, size_t* first_rejected) const {
  const codec::DecodedSeries& in = request.series[series_index];
  const codec::DecodedSample* samples =
      request.samples.data() + in.first_sample;
  DerivedValues out;
  for (uint32_t j = 0; j < in.sample_count; ++j) {
    const int64_t last_ms = series->state.last_timestamp_ms;
    const SampleOutcome outcome =
        UpdateEstimator(*series->params, &series->state,
                        samples[j].timestamp_ms, samples[j].value, &out);
    switch (outcome) {
      case SampleOutcome::kApplied:
      case SampleOutcome::kStale:
        ++(outcome == SampleOutcome::kApplied ? result->applied
                                              : result->stale);
        series->latest = out;
        series->latest_ms = samples[j].timestamp_ms;
        if (samples[j].timestamp_ms > result->max_timestamp_ms)
          result->max_timestamp_ms = samples[j].timestamp_ms;
        {
          // One division per sample (not per stored series): the start of
          // the time bucket the sample falls in, floored for t < 0 too.
          const int64_t t = samples[j].timestamp_ms;
          const int64_t b = options_.chunk_bucket_ms;
          const int64_t bucket_start = (t / b - (t % b < 0 ? 1 : 0)) * b;
          AppendStored(series, kRawKind, t, bucket_start, samples[j].value,
                       result);
          for (int o = 0; o < kOutputCount; ++o) {
            if (out.present & (1u << o)) {
              AppendStored(series, StoredKindOf(static_cast<Output>(o)), t,
                           bucket_start, out.value[o], result);
            }
          }
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
              outcome, model::LabelSetView(series->label_bytes),
              samples[j].timestamp_ms, last_ms);
        }
        break;
    }
  }
}

void Engine::VisitSnapshots(
    const std::function<void(const SeriesSnapshot&)>& visit) const {
  SeriesSnapshot snapshot;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    for (const Series& s : shard->series) {
      if (s.params == nullptr) continue;
      snapshot.labels = s.label_bytes;
      snapshot.state = s.state;
      snapshot.latest_ms = s.latest_ms;
      snapshot.latest = s.latest;
      for (int k = 0; k < kStoredKinds; ++k) {
        if (s.heads[k] != nullptr && s.heads[k]->num_samples() > 0) {
          snapshot.heads[k].assign(s.heads[k]->bytes());
        } else {
          snapshot.heads[k].clear();
        }
      }
      visit(snapshot);
    }
  }
}

Status Engine::Restore(const SeriesSnapshot& snapshot) {
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
  if (params == nullptr) return Status::Ok();  // the rules changed
  std::array<std::unique_ptr<codec::XorChunkAppender>, kStoredKinds> heads;
  for (int k = 0; k < kStoredKinds; ++k) {
    if (snapshot.heads[k].empty()) continue;
    Result<codec::XorChunkAppender> resumed =
        codec::XorChunkAppender::Resume(snapshot.heads[k]);
    if (!resumed.ok()) return resumed.status();
    heads[k] =
        std::make_unique<codec::XorChunkAppender>(std::move(resumed).value());
  }
  Series& series = shard.series.emplace_back();
  series.label_bytes = snapshot.labels;
  series.labels_hash = hash;
  series.params = params;
  series.state = snapshot.state;
  series.latest_ms = snapshot.latest_ms;
  series.latest = snapshot.latest;
  series.heads = std::move(heads);
  shard.table.Insert(hash, &series);
  active_series_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

void Engine::VisitSeries(
    const std::function<void(const SeriesInfo&)>& visit) const {
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    for (const Series& s : shard->series) {
      if (s.params == nullptr) continue;
      visit(SeriesInfo{model::LabelSetView(s.label_bytes), s.labels_hash,
                       s.params->outputs});
    }
  }
}

bool Engine::CopyHeadChunk(uint64_t labels_hash, std::string_view labels,
                           uint8_t kind, HeadChunk* out) const {
  const Shard& shard = *shards_[ShardOf(labels_hash)];
  std::lock_guard<std::mutex> lock(shard.mu);
  const Series* s = shard.table.Find(labels_hash, labels);
  if (s == nullptr || s->params == nullptr) return false;
  const auto& head = s->heads[kind];
  if (head == nullptr || head->num_samples() == 0) {
    out->bytes.clear();
    return true;
  }
  out->min_time_ms = head->min_time();
  out->max_time_ms = head->max_time();
  out->bytes.assign(head->bytes());
  return true;
}

void Engine::VisitLatest(
    const std::function<void(const LatestDerived&)>& visit) const {
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    for (const Series& s : shard->series) {
      if (s.params == nullptr || s.latest.present == 0 || s.latest.stale)
        continue;
      visit(LatestDerived{model::LabelSetView(s.label_bytes), s.latest_ms,
                          s.latest});
    }
  }
}

}  // namespace promewma::ewma
