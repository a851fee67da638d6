// RowParser: the time and value of one CSV record, or why it is bad.
//
// The record must have as many fields as the header. The time columns are
// joined with a space and parsed by a TimeParser; the value is a decimal
// floating-point number (std::from_chars, so "1e3" and ".5" are fine; a
// leading '+' is allowed). Blanks around a time or value are ignored.
// NaN and +-Inf are refused: a CSV holds measurements, and the receiver
// would skip them anyway.
//
// Reasons are short and quote the offending text (escaped, at most 64
// bytes), for example:
//   expected 3 fields as in the header, got 2
//   bad time "2024-13-01 00:00:00": month out of range
//   bad value "abc" in column CPU_Utilization: not a number
//   bad value "nan" in column CPU_Utilization: NaN and Inf are not accepted
//   empty value in column CPU_Utilization
//
// Thread-safety: not thread-safe (the time parser caches).

#ifndef PROMEWMA_TOOLS_CSV2RW_ROW_PARSER_H_
#define PROMEWMA_TOOLS_CSV2RW_ROW_PARSER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "csv2rw/column_spec.h"
#include "csv2rw/time_parser.h"

namespace promewma::csv2rw {

class RowParser {
 public:
  RowParser(ColumnSpec spec, TimeParser time_parser);

  // Parses `fields` into *timestamp_ms and *value. On failure returns false
  // and sets *reason. Allocates only on failure.
  bool Parse(const std::vector<std::string_view>& fields, int64_t* timestamp_ms,
             double* value, std::string* reason);

  const ColumnSpec& spec() const { return spec_; }

 private:
  ColumnSpec spec_;
  TimeParser time_parser_;
  std::string why_;  // scratch for the time parser's reason
};

// Parses a whole decimal number (no blanks). false for anything else, NaN
// and Inf included; *why then says which.
bool ParseValue(std::string_view text, double* value, const char** why);

// `text` quoted for a message: escaped, cut to 64 bytes with "...".
std::string QuoteForMessage(std::string_view text);

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_ROW_PARSER_H_
