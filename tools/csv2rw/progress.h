// ProgressBar: one self-redrawing status line on a terminal, for csv2rw's
// two phases (reading the CSV, sending the batches):
//
//   csv2rw: sending [########------------]  41%  1,650,000 samples  2.1M
//   samples/s  ETA 2s
//
// The bar is drawn only when enabled (csv2rw enables it when stderr is a
// terminal), so logs and pipes stay clean. Update is cheap enough to call
// per batch: it redraws at most every 100 ms.
//
// Thread-safety: not thread-safe.

#ifndef PROMEWMA_TOOLS_CSV2RW_PROGRESS_H_
#define PROMEWMA_TOOLS_CSV2RW_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace promewma::csv2rw {

class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;

  // Draws on `out` when `enabled`; otherwise every call does nothing.
  ProgressBar(bool enabled, FILE* out);

  // Starts a phase: what is being done ("reading"), the total amount of
  // work (bytes, samples) and the unit of the counted items ("rows").
  void Start(std::string_view what, uint64_t total_work, std::string_view unit);
  // `work_done` of the total so far, and `count` items.
  void Update(uint64_t work_done, uint64_t count);
  // Erases the line.
  void Finish();

  bool enabled() const { return enabled_; }

  // The line drawn for the given state (no control characters).
  static std::string Render(std::string_view what, uint64_t work_done,
                            uint64_t total_work, uint64_t count,
                            std::string_view unit, double elapsed_seconds);

 private:
  bool enabled_;
  FILE* out_;
  std::string what_, unit_;
  uint64_t total_work_ = 0;
  Clock::time_point started_, last_drawn_;
  bool drawn_ = false;
};

// 1234567 -> "1,234,567".
std::string WithThousands(uint64_t n);

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_PROGRESS_H_
