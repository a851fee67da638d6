// Column selection for csv2rw: which header columns hold the time, the
// value and the label values.
//
// Built-in formats, found with no flags (names compared case-insensitively,
// surrounding blanks ignored):
//   Date,Timestamp,CPU_Utilization   the original project's: the time is
//                                    Date and Timestamp joined by a space
//   timestamp,value                  NAB's
// The time columns are "Date" + "Timestamp" when the header has both, else
// "timestamp". The value column is "CPU_Utilization", else "value".
// --time-column / --value-column name others; --label-column maps a label
// to a column. A name matches a column exactly, or else case-insensitively
// when exactly one column matches that way.
//
// Thread-safety: pure functions and values.

#ifndef PROMEWMA_TOOLS_CSV2RW_COLUMN_SPEC_H_
#define PROMEWMA_TOOLS_CSV2RW_COLUMN_SPEC_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promewma/status.h"

namespace promewma::csv2rw {

struct ColumnOptions {
  std::vector<std::string> time_columns;  // empty: detect
  std::string value_column;               // empty: detect
  // (label name, column name), in flag order.
  std::vector<std::pair<std::string, std::string>> label_columns;
};

struct ColumnSpec {
  size_t field_count = 0;            // fields in the header
  std::vector<size_t> time_indexes;  // joined with a space, in order
  size_t value_index = 0;
  std::vector<size_t> label_indexes;  // parallel to label_names
  std::vector<std::string> label_names;
  std::string value_name;  // the value column, as in the header
};

// Resolves `options` against the header's fields. InvalidArgument says
// which column is missing and lists the header's columns.
Result<ColumnSpec> ResolveColumns(const std::vector<std::string_view>& header,
                                  const ColumnOptions& options);

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_COLUMN_SPEC_H_
