#include "csv2rw/bad_row_log.h"

#include <algorithm>

namespace promewma::csv2rw {

BadRowLog::BadRowLog(std::string file_name, size_t max_kept)
    : file_name_(std::move(file_name)), max_kept_(max_kept) {}

bool BadRowLog::Earlier(const Entry& a, const Entry& b) {
  return a.line != b.line ? a.line < b.line : a.seq < b.seq;
}

void BadRowLog::Add(uint64_t line, std::string reason) {
  const uint64_t seq = count_++;
  // After a trim, a row past the last kept line can never make the report
  // (most bad rows arrive in line order): count it and move on.
  if (trimmed_ && line > last_kept_line_) return;
  kept_.push_back({line, seq, std::move(reason)});
  if (kept_.size() >= 2 * max_kept_) Trim();
}

void BadRowLog::Trim() {
  std::sort(kept_.begin(), kept_.end(), Earlier);
  kept_.resize(max_kept_);
  trimmed_ = true;
  last_kept_line_ = kept_.back().line;
}

std::vector<std::string> BadRowLog::Report() const {
  std::vector<const Entry*> sorted;
  for (const Entry& e : kept_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const Entry* a, const Entry* b) { return Earlier(*a, *b); });
  if (sorted.size() > max_kept_) sorted.resize(max_kept_);
  std::vector<std::string> lines;
  for (const Entry* e : sorted) {
    lines.push_back(file_name_ + ":" + std::to_string(e->line) + ": " +
                    e->reason);
  }
  if (count_ > sorted.size()) {
    lines.push_back(file_name_ + ": ... and " +
                    std::to_string(count_ - sorted.size()) + " more bad rows");
  }
  return lines;
}

}  // namespace promewma::csv2rw
