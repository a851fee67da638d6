// Live replay for csv2rw: the rows of a SeriesBuilder sent at the pace of
// their timestamps (--replay SPEED), over and over (--loop), and stamped
// relative to the current time (--shift-to-now), so that Prometheus rules
// and promewma see a recorded history as if it happened now.
//
// The timeline. Let `first` and `last` be the file's first and last
// timestamps and `step` the smallest gap between two successive distinct
// timestamps (1 s when the file has one timestamp). A pass is one send of
// every row; pass p (0, 1, ...) of a row at original time t is
//
//   sent at     start + ((t - first) + p * span) / SPEED
//   stamped     base  + (t - first) * scale + p * span * scale
//
// where span = last - first + step (the next pass follows the last row as
// the next row would), start is the wall-clock time the replay begins,
// and, rounded to milliseconds:
//
//   --shift-to-now   base = start, scale = 1 / SPEED (1 without --replay):
//                    each row is stamped with the time it is sent
//   --end-at-now     base = start - (last - first), scale = 1, no pacing:
//                    a history that ends now, for a backfill
//   otherwise        base = first, scale = 1: the original timestamps,
//                    moved forward by one span per pass
//
// Timestamps therefore only grow, across passes too, and each series'
// samples stay in order. A SPEED at which two successive timestamps would
// round to the same millisecond is refused.
//
// Sending: the replay sleeps until the next row is due, then sends every
// row due by then, at most batch_size a request (grouped by series, as
// WriteBatches does); rows due at one time are one request when they fit.
// Without --replay nothing waits and the batches are as WriteBatches cuts
// them. A replay that falls behind (a slow receiver, retries) catches up
// by sending what is due in full batches.
//
// Thread-safety: not thread-safe; one replay at a time per sink.

#ifndef PROMEWMA_TOOLS_CSV2RW_LIVE_REPLAY_H_
#define PROMEWMA_TOOLS_CSV2RW_LIVE_REPLAY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "csv2rw/batch_writer.h"
#include "csv2rw/series_builder.h"
#include "promewma/status.h"

namespace promewma::csv2rw {

struct ReplayOptions {
  double speed = 0;           // --replay; 0: no pacing
  bool loop = false;          // --loop
  bool shift_to_now = false;  // --shift-to-now
  bool end_at_now = false;    // --end-at-now; not with speed or shift_to_now
  // With loop: stop after this many passes (0: never). For tests.
  uint64_t max_passes = 0;
};

// What a replay reads the time from and waits with; tests replace it so
// that they run untimed.
class ReplayClock {
 public:
  virtual ~ReplayClock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() = 0;
  // Returns at or after `t_ms` (NowMs() >= t_ms).
  virtual void SleepUntilMs(int64_t t_ms) = 0;
};

// The system clock.
class SystemReplayClock : public ReplayClock {
 public:
  int64_t NowMs() override;
  void SleepUntilMs(int64_t t_ms) override;
};

// The mapping above for one file and one start time.
class ReplayTimeline {
 public:
  // REQUIRES: rows is not empty and sorted by timestamp (SeriesBuilder
  // after Finish). Fails when options.speed < 0 or when the speed would
  // stamp two successive timestamps in one millisecond.
  static Result<ReplayTimeline> Make(const std::vector<Row>& rows,
                                     const ReplayOptions& options,
                                     int64_t start_ms);

  // The timestamp row time `t` is sent with in pass `pass`.
  int64_t Stamp(int64_t t, uint64_t pass) const;
  // The wall-clock time at which it is due; start_ms without --replay.
  int64_t DueMs(int64_t t, uint64_t pass) const;
  // How far one pass moves the stamps forward.
  int64_t pass_shift_ms() const { return pass_shift_ms_; }
  int64_t step_ms() const { return step_ms_; }

 private:
  int64_t first_ms_ = 0;
  int64_t span_ms_ = 0;        // last - first + step
  int64_t step_ms_ = 0;
  int64_t start_ms_ = 0;
  int64_t base_ms_ = 0;
  double speed_ = 0;           // 0: not paced
  double scale_ = 1;
  int64_t pass_shift_ms_ = 0;  // round(span * scale)
};

struct ReplayStats {
  uint64_t samples = 0;   // taken by the sink
  uint64_t requests = 0;  // bodies given to the sink
  uint64_t passes = 0;    // completed passes
};

// Replays the rows of `series` (after Finish) to `sink` as described
// above, calling `on_pass_end(pass, stats)` after each completed pass.
// Returns after one pass, or max_passes with loop (never when 0), or at
// the first failure of the sink.
// REQUIRES: batch_size > 0; series has at least one row.
Status ReplayRows(const SeriesBuilder& series, size_t batch_size,
                  const ReplayOptions& options, ReplayClock* clock,
                  BatchSink* sink, ReplayStats* stats,
                  const std::function<void(uint64_t, const ReplayStats&)>&
                      on_pass_end = {});

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_LIVE_REPLAY_H_
