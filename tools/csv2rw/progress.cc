#include "csv2rw/progress.h"

#include <algorithm>
#include <cmath>

namespace promewma::csv2rw {

namespace {

// Redrawing more often than this only costs terminal bandwidth.
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr int kBarWidth = 20;

// "950", "12.3k", "2.1M".
std::string Rate(double per_second) {
  char buf[32];
  if (per_second >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.1fM", per_second / 1e6);
  } else if (per_second >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1fk", per_second / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f", per_second);
  }
  return buf;
}

// "7s", "3m05s", "1h02m".
std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::ceil(seconds));
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds",
                  static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm",
                  static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  }
  return buf;
}

}  // namespace

std::string WithThousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

ProgressBar::ProgressBar(bool enabled, FILE* out)
    : enabled_(enabled), out_(out) {}

void ProgressBar::Start(std::string_view what, uint64_t total_work,
                        std::string_view unit) {
  if (!enabled_) return;
  what_ = std::string(what);
  unit_ = std::string(unit);
  total_work_ = total_work;
  started_ = Clock::now();
  last_drawn_ = Clock::time_point();
}

void ProgressBar::Update(uint64_t work_done, uint64_t count) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  if (now - last_drawn_ < kRedrawInterval) return;
  last_drawn_ = now;
  const double elapsed = std::chrono::duration<double>(now - started_).count();
  const std::string line =
      Render(what_, work_done, total_work_, count, unit_, elapsed);
  // \r and "erase to end of line": the new line may be shorter.
  std::fprintf(out_, "\r%s\x1b[K", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(out_, "\r\x1b[K");
  std::fflush(out_);
  drawn_ = false;
}

std::string ProgressBar::Render(std::string_view what, uint64_t work_done,
                                uint64_t total_work, uint64_t count,
                                std::string_view unit, double elapsed_seconds) {
  const double fraction =
      total_work == 0 ? 1.0
                      : std::min(1.0, static_cast<double>(work_done) /
                                          static_cast<double>(total_work));
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string line = "csv2rw: " + std::string(what) + " [";
  line.append(static_cast<size_t>(filled), '#');
  line.append(static_cast<size_t>(kBarWidth - filled), '-');
  char percent[16];
  std::snprintf(percent, sizeof(percent), "] %3d%%",
                static_cast<int>(fraction * 100));
  line += percent;
  line += "  " + WithThousands(count) + " " + std::string(unit);
  if (elapsed_seconds > 0) {
    line += "  " + Rate(static_cast<double>(count) / elapsed_seconds) + " " +
            std::string(unit) + "/s";
  }
  if (fraction > 0 && fraction < 1 && elapsed_seconds > 0) {
    line += "  ETA " + Duration(elapsed_seconds * (1 - fraction) / fraction);
  }
  return line;
}

}  // namespace promewma::csv2rw
