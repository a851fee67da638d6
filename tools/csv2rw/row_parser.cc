#include "csv2rw/row_parser.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "common/one_line.h"
#include "csv2rw/csv_reader.h"

namespace promewma::csv2rw {

namespace {

// Longest joined time text accepted; the longest sensible ISO 8601 time
// with nanoseconds and an offset is about 35 bytes.
constexpr size_t kMaxTimeBytes = 128;

}  // namespace

std::string QuoteForMessage(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out = "\"" + EscapeToOneLine(text.substr(0, kMax)) + "\"";
  if (text.size() > kMax) out += "...";
  return out;
}

bool ParseValue(std::string_view text, double* value, const char** why) {
  const char* first = text.data();
  const char* last = first + text.size();
  // from_chars takes no '+', but spreadsheets write one.
  if (first != last && *first == '+') ++first;
  const auto [ptr, ec] = std::from_chars(first, last, *value);
  if (ec == std::errc::result_out_of_range) {
    *why = "out of range";
    return false;
  }
  if (ec != std::errc() || ptr != last || first == last) {
    *why = "not a number";
    return false;
  }
  if (!std::isfinite(*value)) {
    *why = "NaN and Inf are not accepted";
    return false;
  }
  return true;
}

RowParser::RowParser(ColumnSpec spec, TimeParser time_parser)
    : spec_(std::move(spec)), time_parser_(std::move(time_parser)) {}

bool RowParser::Parse(const std::vector<std::string_view>& fields,
                      int64_t* timestamp_ms, double* value,
                      std::string* reason) {
  if (fields.size() != spec_.field_count) {
    *reason = "expected " + std::to_string(spec_.field_count) +
              " fields as in the header, got " + std::to_string(fields.size());
    return false;
  }

  std::string_view time;
  char joined[kMaxTimeBytes];
  if (spec_.time_indexes.size() == 1) {
    time = TrimBlanks(fields[spec_.time_indexes[0]]);
  } else {
    size_t n = 0;
    for (size_t i = 0; i < spec_.time_indexes.size(); ++i) {
      const std::string_view part = TrimBlanks(fields[spec_.time_indexes[i]]);
      if (n + part.size() + 1 > kMaxTimeBytes) {
        *reason =
            "bad time: longer than " + std::to_string(kMaxTimeBytes) + " bytes";
        return false;
      }
      if (i > 0) joined[n++] = ' ';
      std::memcpy(joined + n, part.data(), part.size());
      n += part.size();
    }
    time = std::string_view(joined, n);
  }
  if (!time_parser_.Parse(time, timestamp_ms, &why_)) {
    *reason = "bad time " + QuoteForMessage(time) + ": " + why_;
    return false;
  }

  const std::string_view text = TrimBlanks(fields[spec_.value_index]);
  if (text.empty()) {
    *reason = "empty value in column " + spec_.value_name;
    return false;
  }
  const char* why = nullptr;
  if (!ParseValue(text, value, &why)) {
    *reason = "bad value " + QuoteForMessage(text) + " in column " +
              spec_.value_name + ": " + why;
    return false;
  }
  return true;
}

}  // namespace promewma::csv2rw
