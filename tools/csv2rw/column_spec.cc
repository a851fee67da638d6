#include "csv2rw/column_spec.h"

#include <optional>

#include "common/one_line.h"
#include "csv2rw/csv_reader.h"

namespace promewma::csv2rw {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// The header's columns, quoted, for messages: "a", "b", "c".
std::string ListColumns(const std::vector<std::string_view>& header) {
  std::string out;
  for (std::string_view name : header) {
    if (!out.empty()) out += ", ";
    out += "\"" + EscapeToOneLine(TrimBlanks(name)) + "\"";
  }
  return out;
}

// The index of `name`: an exact match, else the only case-insensitive one.
std::optional<size_t> Find(const std::vector<std::string_view>& header,
                           std::string_view name) {
  std::optional<size_t> folded;
  int folded_matches = 0;
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string_view column = TrimBlanks(header[i]);
    if (column == name) return i;
    if (EqualsIgnoreCase(column, name)) {
      folded = i;
      ++folded_matches;
    }
  }
  return folded_matches == 1 ? folded : std::nullopt;
}

}  // namespace

Result<ColumnSpec> ResolveColumns(const std::vector<std::string_view>& header,
                                  const ColumnOptions& options) {
  ColumnSpec spec;
  spec.field_count = header.size();
  auto missing = [&](std::string_view name, std::string_view flag) {
    return Status::InvalidArgument(
        "column \"" + EscapeToOneLine(name) + "\" (" + std::string(flag) +
        ") is not in the header; its columns are " + ListColumns(header));
  };

  if (!options.time_columns.empty()) {
    for (const std::string& name : options.time_columns) {
      auto index = Find(header, name);
      if (!index) return missing(name, "--time-column");
      spec.time_indexes.push_back(*index);
    }
  } else {
    auto date = Find(header, "date");
    auto timestamp = Find(header, "timestamp");
    if (date && timestamp) {
      spec.time_indexes = {*date, *timestamp};
    } else if (timestamp) {
      spec.time_indexes = {*timestamp};
    } else {
      return Status::InvalidArgument(
          "no time column: expected \"timestamp\" or \"Date\" and "
          "\"Timestamp\" (or name it with --time-column); the header's "
          "columns are " +
          ListColumns(header));
    }
  }

  if (!options.value_column.empty()) {
    auto index = Find(header, options.value_column);
    if (!index) return missing(options.value_column, "--value-column");
    spec.value_index = *index;
  } else {
    auto index = Find(header, "cpu_utilization");
    if (!index) index = Find(header, "value");
    if (!index) {
      return Status::InvalidArgument(
          "no value column: expected \"CPU_Utilization\" or \"value\" (or "
          "name it with --value-column); the header's columns are " +
          ListColumns(header));
    }
    spec.value_index = *index;
  }
  spec.value_name = std::string(TrimBlanks(header[spec.value_index]));

  for (const auto& [label, column] : options.label_columns) {
    auto index = Find(header, column);
    if (!index) return missing(column, "--label-column " + label);
    spec.label_names.push_back(label);
    spec.label_indexes.push_back(*index);
  }
  return spec;
}

}  // namespace promewma::csv2rw
