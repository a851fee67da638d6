// Head: the in-memory series promewma processes, the "engine". For each
// input series it keeps the estimator's state (ewma/series_estimator.h), its
// latest outputs, and its open raw head chunk, a Prometheus XOR chunk that is
// sealed when full (120 samples), when the next sample could take its buffer
// past kMaxHeadChunkBufferBytes, or when a sample falls in the next time
// bucket, and handed to the caller to store.
//
// Applying a decoded remote-write request is Prepare (find or validate the
// series, changes nothing) then Commit (create series, update each state and
// append to each head). The database layer (db/database.h) logs a request
// between the two halves, so a request that cannot be applied is never
// logged.
//
// Series identity is the canonical label-set encoding (model/labels.h); its
// hash picks one of kShardCount shards, and each shard owns its series under
// its own mutex. A request is bucketed by shard and each touched shard is
// locked once, so two requests run in parallel unless they hit the same
// shard at the same instant, and there is no global lock on the hot path.
// Within a request each series' samples are applied in the order the sender
// wrote them.
//
// Which series are processed, and with which parameters, is decided once
// when a series is first seen: names ending in a derived suffix are ignored
// (loop guard); with no rules every other series uses the defaults; with
// rules the first matching rule's parameters apply and unmatched series are
// ignored. Reconfigure (a configuration reload) decides it again for every
// known series.
//
// Thread-safety: all public methods are thread-safe.

#ifndef PROMEWMA_HEAD_HEAD_H_
#define PROMEWMA_HEAD_HEAD_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "codec/write_request.h"
#include "codec/xor_chunk.h"
#include "ewma/estimator_params.h"
#include "ewma/series_estimator.h"
#include "model/labels.h"
#include "model/matcher.h"
#include "head/chunk_derivation.h"
#include "head/series_limits.h"
#include "head/time_bucket.h"
#include "ewma/derived_sink.h"

namespace promewma::head {

struct SeriesRule {
  model::Selector selector;
  ewma::EstimatorParams params;
};

// Of these, defaults, rules, limits and series_idle_timeout_ms may change
// while the head runs (Head::Reconfigure); the others are fixed at
// construction.
struct HeadOptions {
  ewma::EstimatorParams defaults;
  // First match wins; empty means every series uses `defaults`.
  std::vector<SeriesRule> rules;
  // Collect every emitted derived sample in ApplyResult::derived, for
  // write-back. Off when nothing consumes them. Head::SetCollectDerived
  // changes it.
  bool collect_derived = false;
  // A head chunk is sealed when a sample falls in another time bucket
  // (head/time_bucket.h), so retention can drop a bucket whole.
  int64_t chunk_bucket_ms = kDefaultChunkBucketMs;
  // What a new series must satisfy (series_limits.h).
  SeriesLimits limits;
  // A series that has received no sample for this long is dropped by
  // DropIdleSeries. kIdleTimeoutResetAfter: each series' own reset_after
  // (after which its next sample would start afresh anyway); 0: never.
  int64_t series_idle_timeout_ms = kIdleTimeoutResetAfter;
  static constexpr int64_t kIdleTimeoutResetAfter = -1;
  // What idleness is measured with: milliseconds on any epoch, read once
  // per committed request. Null: the steady clock. Tests set a fake one.
  std::function<int64_t()> clock;
};

// A series whose last sample was a stale marker (its target is gone) is
// idle after this long, or its idle timeout if shorter: Prometheus'
// default lookback delta, after which a query no longer sees it anyway.
inline constexpr int64_t kStaleSeriesIdleMs = 5 * 60 * 1000;

// A processed series DropIdleSeries dropped: what finding its stored
// history needs once the head has forgotten it.
struct DroppedSeries {
  std::string labels;  // canonical encoding
  uint64_t labels_hash = 0;
  ewma::OutputMask outputs = 0;
  int64_t last_timestamp_ms = 0;  // of its newest sample
};

// A head chunk that filled up (or crossed a bucket) and must be stored,
// with what re-deriving its outputs needs.
struct SealedChunk {
  uint64_t labels_hash;  // identity of the input series
  int64_t min_time_ms;
  int64_t max_time_ms;
  std::string bytes;  // Prometheus XOR chunk of the raw samples
  ChunkDerivation derivation;
};

// The open head chunk of one series (raw, or an output derived from it),
// copied out of the head.
struct HeadChunk {
  int64_t min_time_ms = 0;
  int64_t max_time_ms = 0;
  std::string bytes;  // empty when the series has no open chunk
};

// Why a received sample was not applied. Index into ApplyResult::dropped.
enum class DropReason : uint8_t {
  kNotFinite,      // NaN / +-Inf value
  kOutOfOrder,     // older than the series' last sample
  kConflict,       // same timestamp as the last sample, different value
  kDuplicate,      // identical to the last sample (accepted, no effect)
  kDerivedSeries,  // name ends in a derived suffix (loop guard)
  kUnmatched,      // no rule matches the series
  kHistogram,      // native histogram samples are not processed
  kSeriesLimit,    // a new series over limits.max_active_series
};
inline constexpr int kDropReasonCount = 8;
std::string_view DropReasonName(DropReason reason);

struct ApplyResult {
  uint64_t received = 0;  // float samples + native histogram samples
  uint64_t applied = 0;   // finite samples folded into a state
  uint64_t stale = 0;     // stale markers passed on
  uint64_t new_series = 0;
  // New series not created because the head holds
  // limits.max_active_series (their samples: dropped[kSeriesLimit]).
  uint64_t refused_series = 0;
  // The limit that refused the request (Prepare failed), or that refused
  // some of its new series (refused_series > 0); kNone otherwise.
  Refusal refusal = Refusal::kNone;
  std::array<uint64_t, kDropReasonCount> dropped{};
  // Set when samples were rejected (out of order or conflicting): names the
  // first such series in request order and why. Empty otherwise.
  std::string rejection;
  // Raw head chunks this request sealed, for the caller to store.
  std::vector<SealedChunk> sealed;
  // With HeadOptions::collect_derived: the outputs of every accepted
  // sample, in request order per series.
  std::vector<ewma::EmittedDerived> derived;
  // Newest timestamp among the samples applied (INT64_MIN: none).
  int64_t max_timestamp_ms = std::numeric_limits<int64_t>::min();

  uint64_t dropped_by(DropReason r) const {
    return dropped[static_cast<int>(r)];
  }
  // Resets every field but keeps the vectors' capacity: a writer reuses one
  // result request after request.
  void Clear();
};

// Everything the head knows about one processed series: what a checkpoint
// saves and Head::Restore puts back.
struct SeriesSnapshot {
  std::string labels;  // canonical encoding
  ewma::EstimatorState state;
  int64_t latest_ms = 0;
  ewma::DerivedValues latest;
  // The parameters the series ran with, and its state before the first
  // sample of its open head chunk: with the raw head they give back the
  // derived head chunks.
  ewma::EstimatorParams params;
  ewma::EstimatorState head_start;
  std::string head;  // open raw head chunk bytes; empty: none
};

// What Head::Reconfigure did to the series it knew.
struct ReconfigureStats {
  uint64_t unchanged = 0;  // processed with equal parameters: state kept
  uint64_t restarted = 0;  // parameters changed: head sealed, state afresh
  uint64_t dropped = 0;    // no rule selects it any more
  // Ignored series forgotten, so that their next sample is judged by the
  // new rules.
  uint64_t forgotten = 0;
};

// The latest sample of one processed series and the outputs it produced.
struct LatestDerived {
  model::LabelSetView labels;  // input series; valid while the head lives
  int64_t timestamp_ms;
  double input_value;  // the input sample at timestamp_ms
  ewma::DerivedValues values;
};

class Head {
 private:
  struct Series;
  struct Shard;

 public:
  // A power of two; the top bits of the label hash pick the shard, the low
  // bits the slot in its table. 64 shards keep the chance that two of the
  // HTTP workers want the same shard at the same moment small.
  static constexpr int kShardBits = 6;
  static constexpr int kShardCount = 1 << kShardBits;
  // The largest buffer an open head chunk holds. A series of CPU ratios
  // with a few significant digits fills 120 samples in about 300 bytes;
  // one whose values use every mantissa bit (about 9 bytes a sample) is
  // sealed at about 48 samples instead of growing to 1.6 KB. With the
  // series' own state, labels and index slot (about 340 bytes) and a
  // time-of-day profile (about 210) an active series stays under 1 KiB.
  // Prometheus caps its XOR chunks at 1024 bytes for the same reason: a
  // bounded cost per series.
  static constexpr uint16_t kMaxHeadChunkBufferBytes = 448;

  explicit Head(HeadOptions options);
  ~Head();
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // Applies every sample of a decoded request: Prepare, then Commit. Fails
  // with InvalidArgument, changing nothing, when the label set of a series
  // new to the head is invalid. Otherwise rejected samples (out of order,
  // conflicting) do not stop the others; result->rejection names the first.
  Status Apply(const codec::DecodedWriteRequest& request, ApplyResult* result);

  // A request resolved against the head's series, between Prepare and
  // Commit. Reuse one per thread: it keeps its buffers' capacity.
  class PreparedRequest {
   public:
    // Which limit a failed Prepare refused the request for; kNone when it
    // failed for another reason (invalid labels) or succeeded.
    Refusal refusal() const { return refusal_; }

   private:
    friend class Head;
    std::vector<uint32_t> order_;  // series indexes, bucketed by shard
    std::array<uint32_t, kShardCount + 1> bucket_start_{};
    std::vector<Series*> resolved_;  // known series, nullptr for new ones
    Refusal refusal_ = Refusal::kNone;
    uint64_t drops_seen_ = 0;  // Head::drops_ when Prepare began
  };

  // First half of Apply: finds the request's known series and validates the
  // label sets of new ones. Changes nothing. The durable ingest path logs
  // the request between the two halves, so a request that cannot be applied
  // is never logged.
  Status Prepare(const codec::DecodedWriteRequest& request,
                 PreparedRequest* prepared) const;
  // Second half of Apply: creates new series and applies every sample.
  // A series Prepare found and DropIdleSeries dropped since is created
  // afresh, as a new one.
  // REQUIRES: Prepare(request, prepared) succeeded; DropIdleSeries does not
  // run at the same time (the database serialises them).
  void Commit(const codec::DecodedWriteRequest& request,
              PreparedRequest* prepared, ApplyResult* result);

  // Calls `visit` for every processed series that has emitted something and
  // whose latest outputs are not stale markers. Holds one shard lock at a
  // time; `visit` must not call back into the head.
  void VisitLatest(
      const std::function<void(const LatestDerived&)>& visit) const;

  // One processed series, for matching remote-read queries.
  struct SeriesInfo {
    model::LabelSetView labels;  // valid during the visit only
    uint64_t labels_hash;
    ewma::OutputMask outputs;  // its outputs, readable besides its raw samples
  };
  // Calls `visit` for every processed series, one shard lock at a time.
  void VisitSeries(const std::function<void(const SeriesInfo&)>& visit) const;

  // Copies the open head chunk of a series: its raw samples when `output`
  // is empty, else that output derived from them. False when the series is
  // unknown. Only the raw head is kept in memory: an output's head is
  // re-derived from it, which costs about as much as decoding it.
  bool CopyHeadChunk(uint64_t labels_hash, std::string_view labels,
                     std::optional<ewma::Output> output, HeadChunk* out) const;

  // The options the head was constructed with. The parts Reconfigure
  // changes are read through limits() and ParamsOf() instead.
  const HeadOptions& options() const { return options_; }
  // The series limits in force.
  const SeriesLimits& limits() const { return current()->limits; }

  // Whether the head has seen the series (processed or ignored).
  bool Knows(uint64_t labels_hash, std::string_view labels) const;
  // The parameters a series new to the head would be processed with (its
  // first matching rule's, or the defaults); nullptr when it would be
  // ignored (a derived name, or no rule matches).
  const ewma::EstimatorParams* ParamsOf(model::LabelSetView labels) const {
    DropReason ignored;
    return ParamsFor(labels, &ignored);
  }

  // Calls `visit` with a snapshot of every processed series, taken one
  // shard lock at a time and visited after that lock is released (a slow
  // visitor holds up no writer): each snapshot is consistent, but requests
  // applied meanwhile may be in some snapshots and not in others. Replaying
  // such a request on the restored state is harmless: samples a series
  // already holds are duplicates or out of order, which change nothing.
  void VisitSnapshots(
      const std::function<void(const SeriesSnapshot&)>& visit) const;

  // Recreates a series from a snapshot, with the parameters the current
  // rules give it. When those differ from the snapshot's (the configuration
  // changed), or no rule selects the series any more (it is dropped), its
  // open head chunk is sealed with the parameters it was received under and
  // appended to *sealed for the caller to store, so no stored sample
  // changes meaning; with changed parameters it then starts afresh (as
  // Reconfigure does).
  // REQUIRES: the series is not known yet.
  Status Restore(const SeriesSnapshot& snapshot,
                 std::vector<SealedChunk>* sealed);

  // Drops every series of one shard (0 .. kShardCount - 1) that has
  // received no sample for its idle timeout
  // (HeadOptions::series_idle_timeout_ms; kStaleSeriesIdleMs at most after
  // a stale marker): its state, labels and index slot are freed for new
  // series (label bytes once ReleaseRetiredLabels is called). The open
  // head chunk of a processed series is sealed into *sealed, with its
  // derivation, for the caller to store before it forgets the series, and
  // the series is described in *dropped, so its history stays readable. A
  // series that sends again later starts afresh, as after reset_after.
  // Returns the number dropped (ignored series too). One shard at a time,
  // so that a caller can let requests in between: dropping a generation
  // of 5,000 series at once held every write up for 3-7 ms.
  // REQUIRES: no Commit runs meanwhile (the database holds its ingest lock).
  uint64_t DropIdleSeries(size_t shard, std::vector<SealedChunk>* sealed,
                          std::vector<DroppedSeries>* dropped);

  // Puts new parameters, rules, series limits and idle timeout in force
  // (the other fields of `options` are ignored) and judges every known
  // series by them, one shard lock at a time:
  //   - same parameters as before: kept exactly (EWMA, profile, head);
  //   - other parameters: its open head chunk is sealed with the old ones
  //     into *sealed, and it starts afresh, as a new series does, except
  //     that samples older than the last one it accepted stay refused;
  //   - no rule selects it any more: dropped as DropIdleSeries drops it
  //     (head sealed into *sealed, described in *dropped);
  //   - an ignored series is forgotten, so its next sample is judged anew.
  // Label bytes are freed as DropIdleSeries frees them
  // (ReleaseRetiredLabels).
  // REQUIRES: no Commit runs meanwhile (the database holds its ingest lock).
  void Reconfigure(const HeadOptions& options,
                   std::vector<SealedChunk>* sealed,
                   std::vector<DroppedSeries>* dropped,
                   ReconfigureStats* stats);

  // Frees the label blocks DropIdleSeries has compacted away. Views of
  // label sets handed out before (ewma::EmittedDerived::labels) point into
  // them, so call it once no such view is held any more: with write-back,
  // once the sink has acknowledged every sample pushed before the drop.
  void ReleaseRetiredLabels();

  // Turns HeadOptions::collect_derived on or off (write-back targets came
  // or went at a reload). REQUIRES: no Commit runs meanwhile.
  void SetCollectDerived(bool collect) {
    collect_derived_.store(collect, std::memory_order_relaxed);
  }

  // Bytes the head holds: its series (state, latest outputs, open head
  // chunk buffers), their label sets and the series index. Walks every
  // series, one shard lock at a time (about 10 ms a million series): for
  // /metrics, not for the hot path.
  uint64_t MemoryBytes() const;

  uint64_t active_series() const {
    return active_series_.load(std::memory_order_relaxed);
  }
  uint64_t ignored_series() const {
    return ignored_series_.load(std::memory_order_relaxed);
  }

 private:
  static size_t ShardOf(uint64_t labels_hash) {
    return static_cast<size_t>(labels_hash >> (64 - kShardBits));
  }
  // Runs visit(shard, series_index) for every series of a prepared request,
  // shard by shard, each shard locked once.
  // (A template, defined and used in head.cc only: the visitor is
  // called per series on the hot path and must inline.)
  template <typename Visit>
  void ForEachByShard(const PreparedRequest& prepared, Visit visit) const;

  // REQUIRES: the series' shard lock is held.
  void ApplySamples(const codec::DecodedWriteRequest& request,
                    size_t series_index, Series* series, ApplyResult* result,
                    size_t* first_rejected) const;
  // Appends one accepted sample to the series' raw head chunk, sealing the
  // head first when it is full or the sample is in another time bucket.
  // `prior` is the series' state before the sample, without its profile;
  // `write` what the sample did to the profile.
  // REQUIRES: the series' shard lock is held.
  // A sample's write to its time-of-day slot: which slot (-1: no season)
  // and the value the slot held before.
  struct SeasonWrite {
    int slot = -1;
    ewma::SeasonSlot before = 0;
  };
  void AppendRaw(Series* series, int64_t timestamp_ms, double value,
                 const ewma::EstimatorState& prior, const SeasonWrite& write,
                 ApplyResult* result) const;
  // A slot for a new series in `shard`: a freed one, else a new one.
  // REQUIRES: the shard's lock is held.
  static Series* NewSeriesSlot(Shard* shard);
  // Copies the shard's live label sets into a fresh arena once dropped
  // series' bytes outweigh them. REQUIRES: the shard's lock is held.
  static void CompactLabels(Shard* shard);
  int64_t Now() const;
  // Whether a new processed series would go over limits.max_active_series,
  // with `created_so_far` created by the commit in progress.
  bool AtSeriesLimit(uint64_t created_so_far) const;
  const ewma::EstimatorParams* ParamsFor(model::LabelSetView labels,
                                   DropReason* ignored_reason) const;

  // The reloadable part of HeadOptions.
  struct Rules {
    ewma::EstimatorParams defaults;
    std::vector<SeriesRule> rules;
    SeriesLimits limits;
    int64_t series_idle_timeout_ms;
  };
  static std::unique_ptr<const Rules> RulesFrom(const HeadOptions& options);
  const Rules* current() const {
    return current_.load(std::memory_order_acquire);
  }
  // Seals the open head of a processed series with the parameters it ran
  // under, then gives it `params` and a fresh state that still refuses
  // samples older than its last. REQUIRES: the series' shard lock is held.
  void Reparameterise(Series* series, const ewma::EstimatorParams* params,
                      std::vector<SealedChunk>* sealed) const;

  const HeadOptions options_;
  // options_.collect_derived, as changed by SetCollectDerived.
  std::atomic<bool> collect_derived_;
  // The rules in force, one of generations_. Series point at parameters in
  // them, and a reader may hold a pointer read just before a Reconfigure,
  // so every generation lives as long as the head: a reload adds a few
  // hundred bytes.
  std::atomic<const Rules*> current_{nullptr};
  std::mutex generations_mu_;
  std::vector<std::unique_ptr<const Rules>> generations_;  // generations_mu_
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> active_series_{0};
  std::atomic<uint64_t> ignored_series_{0};
  // DropIdleSeries calls so far: a Commit whose Prepare saw fewer looks
  // its series up again.
  std::atomic<uint64_t> drops_{0};
};

}  // namespace promewma::head

#endif  // PROMEWMA_HEAD_HEAD_H_
