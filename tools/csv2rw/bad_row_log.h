// BadRowLog: the bad rows of one CSV file, reported as "FILE:LINE: reason".
//
// Every bad row is counted; the reasons of the `max_kept` lowest line
// numbers are kept, so a file with millions of bad rows costs bounded
// memory and the report shows the first ones in file order whichever
// stage found them (parsing, or the duplicate check after sorting).
//
// Thread-safety: not thread-safe.

#ifndef PROMEWMA_TOOLS_CSV2RW_BAD_ROW_LOG_H_
#define PROMEWMA_TOOLS_CSV2RW_BAD_ROW_LOG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace promewma::csv2rw {

class BadRowLog {
 public:
  // REQUIRES: max_kept > 0.
  explicit BadRowLog(std::string file_name, size_t max_kept = 20);

  void Add(uint64_t line, std::string reason);

  uint64_t count() const { return count_; }

  // "FILE:LINE: reason" for the kept rows in line order, then, when rows
  // were left out, "FILE: ... and N more bad rows".
  std::vector<std::string> Report() const;

 private:
  struct Entry {
    uint64_t line;
    uint64_t seq;  // insertion order, to keep a stable order within a line
    std::string reason;
  };

  static bool Earlier(const Entry& a, const Entry& b);
  // Keeps the max_kept_ earliest entries.
  void Trim();

  std::string file_name_;
  size_t max_kept_;
  uint64_t count_ = 0;
  std::vector<Entry> kept_;      // fewer than 2*max_kept_, in no order
  bool trimmed_ = false;         // Trim has dropped entries
  uint64_t last_kept_line_ = 0;  // the latest line kept by the last Trim
};

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_BAD_ROW_LOG_H_
