#include "csv2rw/live_replay.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "remote/batch_encoder.h"

namespace promewma::csv2rw {

namespace {

// The gap assumed between passes of a file with a single timestamp.
constexpr int64_t kSingleTimestampStepMs = 1000;

std::string FormatSpeed(double speed) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", speed);
  return buf;
}

}  // namespace

int64_t SystemReplayClock::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SystemReplayClock::SleepUntilMs(int64_t t_ms) {
  // The system clock may be stepped while sleeping: sleep in pieces and
  // look again, so a step backwards cannot stretch one wait without end.
  for (int64_t now = NowMs(); now < t_ms; now = NowMs()) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min<int64_t>(t_ms - now, 1000)));
  }
}

Result<ReplayTimeline> ReplayTimeline::Make(const std::vector<Row>& rows,
                                            const ReplayOptions& options,
                                            int64_t start_ms) {
  if (!(options.speed >= 0) || std::isinf(options.speed)) {
    return Status::InvalidArgument("--replay: must be a number > 0, got " +
                                   FormatSpeed(options.speed));
  }
  ReplayTimeline t;
  t.first_ms_ = rows.front().timestamp_ms;
  int64_t step = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const int64_t gap = rows[i].timestamp_ms - rows[i - 1].timestamp_ms;
    if (gap > 0 && (step == 0 || gap < step)) step = gap;
  }
  t.step_ms_ = step > 0 ? step : kSingleTimestampStepMs;
  t.span_ms_ = rows.back().timestamp_ms - t.first_ms_ + t.step_ms_;
  t.start_ms_ = start_ms;
  t.speed_ = options.speed;
  if (options.shift_to_now) {
    t.base_ms_ = start_ms;
    t.scale_ = options.speed > 0 ? 1 / options.speed : 1;
  } else if (options.end_at_now) {
    t.base_ms_ = start_ms - (rows.back().timestamp_ms - t.first_ms_);
    t.scale_ = 1;
  } else {
    t.base_ms_ = t.first_ms_;
    t.scale_ = 1;
  }
  // Rounding keeps distinct times distinct (and in order) while a step
  // stays at least one millisecond after scaling.
  if (static_cast<double>(t.step_ms_) * t.scale_ < 1) {
    return Status::InvalidArgument(
        "--replay: at " + FormatSpeed(options.speed) + "x, rows " +
        std::to_string(t.step_ms_) +
        " ms apart would be stamped in the same millisecond (with "
        "--shift-to-now each row is stamped with its send time); the "
        "largest speed for this file is " +
        FormatSpeed(static_cast<double>(t.step_ms_)));
  }
  t.pass_shift_ms_ = options.shift_to_now
                         ? std::llround(static_cast<double>(t.span_ms_) *
                                        t.scale_)
                         : t.span_ms_;
  return t;
}

int64_t ReplayTimeline::Stamp(int64_t t, uint64_t pass) const {
  const int64_t offset =
      scale_ == 1 ? t - first_ms_
                  : std::llround(static_cast<double>(t - first_ms_) * scale_);
  return base_ms_ + offset + static_cast<int64_t>(pass) * pass_shift_ms_;
}

int64_t ReplayTimeline::DueMs(int64_t t, uint64_t pass) const {
  if (speed_ == 0) return start_ms_;
  const double original =
      static_cast<double>(t - first_ms_) +
      static_cast<double>(pass) * static_cast<double>(span_ms_);
  return start_ms_ + std::llround(original / speed_);
}

Status ReplayRows(const SeriesBuilder& series, size_t batch_size,
                  const ReplayOptions& options, ReplayClock* clock,
                  BatchSink* sink, ReplayStats* stats,
                  const std::function<void(uint64_t, const ReplayStats&)>&
                      on_pass_end) {
  const std::vector<Row>& rows = series.rows();
  Result<ReplayTimeline> made =
      ReplayTimeline::Make(rows, options, clock->NowMs());
  if (!made.ok()) return made.status();
  const ReplayTimeline& timeline = *made;

  std::vector<const Row*> order;
  std::vector<remote::OutgoingSample> samples;
  remote::BatchEncoder encoder;  // reuses its buffers batch after batch
  order.reserve(batch_size);
  samples.reserve(batch_size);
  for (uint64_t pass = 0;; ++pass) {
    size_t next = 0;
    while (next < rows.size()) {
      // Wait for the next row, then take every row due by now (at most a
      // batch), so a replay behind its schedule catches up in full batches.
      const int64_t due = timeline.DueMs(rows[next].timestamp_ms, pass);
      int64_t now = clock->NowMs();
      if (now < due) {
        clock->SleepUntilMs(due);
        now = clock->NowMs();
      }
      order.clear();
      bool one_series = true;
      while (next < rows.size() && order.size() < batch_size &&
             timeline.DueMs(rows[next].timestamp_ms, pass) <= now) {
        one_series &= rows[next].series == rows[0].series;
        order.push_back(&rows[next]);
        ++next;
      }
      if (!one_series) {
        std::sort(order.begin(), order.end(), [](const Row* a, const Row* b) {
          return a->series != b->series ? a->series < b->series
                                        : a->timestamp_ms < b->timestamp_ms;
        });
      }
      samples.clear();
      for (const Row* row : order) {
        samples.push_back(remote::OutgoingSample{
            series.labels(row->series),
            timeline.Stamp(row->timestamp_ms, pass), row->value});
      }
      if (Status s = sink->Write(encoder.EncodeSnappy(samples), samples.size());
          !s.ok()) {
        return s;
      }
      stats->samples += samples.size();
      ++stats->requests;
    }
    stats->passes = pass + 1;
    if (on_pass_end) on_pass_end(pass, *stats);
    if (!options.loop) break;
    if (options.max_passes != 0 && stats->passes >= options.max_passes) break;
  }
  return sink->Close();
}

}  // namespace promewma::csv2rw
