// DerivedSampleSink: where derived samples go once their request is applied
// (the write-back queues), and EmittedDerived, the outputs of one accepted
// input sample.
//
// The database asks the sink for room before anything is applied, so a
// request the sink cannot take is refused whole (503) and the sender's retry
// is exact; and a checkpoint only takes effect once the sink has
// acknowledged every request it could include, so after a crash whatever
// the targets had not acknowledged is derived again by the log replay and
// sent again (at least once).
//
// The interface lives with the estimator's outputs, below both the database
// that feeds it and the write-back module that implements it.

#ifndef PROMEWMA_EWMA_DERIVED_SINK_H_
#define PROMEWMA_EWMA_DERIVED_SINK_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "ewma/series_estimator.h"

namespace promewma::ewma {

// The outputs one accepted input sample produced.
struct EmittedDerived {
  uint64_t labels_hash;     // input series
  std::string_view labels;  // its canonical labels; valid while the head
                            // lives, or until a dropped series' labels are
                            // released (head.h ReleaseRetiredLabels)
  int64_t timestamp_ms;
  DerivedValues values;
};

// The input series of a request, by label hash: what admission looks at.
// Sinks shard by input series, so these say which shards a request's
// derived samples can go to.
using SeriesHashes = std::vector<uint64_t>;

class DerivedSampleSink {
 public:
  virtual ~DerivedSampleSink() = default;
  // Whether a request with these input series may be applied now: each
  // place its derived samples would queue is below its capacity. A request
  // is never refused for its size alone: an admitted one may take a place
  // over its capacity by its own samples, and then nothing more goes there
  // until it drains below. Room only grows until the next Push (the ingest
  // lock is held in between).
  virtual bool HasRoomFor(const SeriesHashes& series) = 0;
  // Takes the derived samples of log record `seq`.
  // REQUIRES: HasRoomFor(their input series) returned true since the last
  // Push.
  virtual void Push(uint64_t seq, const std::vector<EmittedDerived>& derived) = 0;
  // Waits until HasRoomFor(series), or `deadline`; false on timeout or once
  // stopped. Used by the log replay, which cannot refuse a record.
  virtual bool WaitForRoom(const SeriesHashes& series,
                           std::chrono::steady_clock::time_point deadline) = 0;
  // The sink was shut down: it will never have room again.
  virtual bool stopped() const { return false; }
  // Whether the sink may still hold views of label sets pushed to it
  // (EmittedDerived::labels): while it may, retired label sets are released
  // only once WaitAcknowledged has returned true.
  virtual bool HoldsLabelViews() const { return true; }
  // Waits until every sample pushed with a seq <= `seq` has been delivered
  // or given up on; false at `deadline`.
  virtual bool WaitAcknowledged(
      uint64_t seq, std::chrono::steady_clock::time_point deadline) = 0;
};

}  // namespace promewma::ewma

#endif  // PROMEWMA_EWMA_DERIVED_SINK_H_
