#include "csv2rw/csv_reader.h"

#include <algorithm>
#include <cstring>

namespace promewma::csv2rw {

CsvReader::CsvReader(std::string_view data, char delimiter)
    : data_(data), delimiter_(delimiter) {
  if (data_.size() >= 3 && std::memcmp(data_.data(), "\xEF\xBB\xBF", 3) == 0) {
    pos_ = 3;
  }
}

bool CsvReader::Next() {
  fields_.clear();
  unescaped_.clear();
  scratch_.clear();
  error_ = nullptr;
  const char* const begin = data_.data();
  const char* const end = begin + data_.size();
  const char* p = begin + pos_;

  // Empty lines (LF, CRLF) between records carry no record.
  while (p < end) {
    if (*p == '\n') {
      ++p;
      ++next_line_;
    } else if (*p == '\r' && (p + 1 == end || p[1] == '\n')) {
      p += p + 1 == end ? 1 : 2;
      ++next_line_;
    } else {
      break;
    }
  }
  if (p == end) {
    pos_ = data_.size();
    return false;
  }
  line_ = next_line_;

  while (true) {
    if (p < end && *p == '"') {
      const char* const start = ++p;
      size_t unescaped_at = std::string::npos;
      const char* close;
      while (true) {
        close = static_cast<const char*>(std::memchr(p, '"', end - p));
        if (close == nullptr) {
          next_line_ += std::count(start, end, '\n');
          error_ = "unterminated quoted field";
          pos_ = data_.size();
          return true;
        }
        if (close + 1 < end && close[1] == '"') {  // "" stands for "
          if (unescaped_at == std::string::npos) unescaped_at = scratch_.size();
          scratch_.append(p, close + 1);
          p = close + 2;
          continue;
        }
        break;
      }
      if (unescaped_at == std::string::npos) {
        fields_.emplace_back(start, close - start);
      } else {
        scratch_.append(p, close);
        unescaped_.push_back(
            {fields_.size(), unescaped_at, scratch_.size() - unescaped_at});
        fields_.emplace_back();
      }
      next_line_ += std::count(start, close, '\n');
      p = close + 1;
      if (p == end) break;
      if (*p == delimiter_) {
        ++p;
        continue;
      }
      if (*p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'))) {
        p += *p == '\n' || p + 1 == end ? 1 : 2;
        ++next_line_;
        break;
      }
      error_ = "text after a closing quote";
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
      p = nl == nullptr ? end : nl + 1;
      if (nl != nullptr) ++next_line_;
      pos_ = static_cast<size_t>(p - begin);
      return true;
    }

    const char* const start = p;
    while (p < end && *p != delimiter_ && *p != '\n') ++p;
    if (p < end && *p == delimiter_) {
      fields_.emplace_back(start, p - start);
      ++p;
      continue;
    }
    // The last field of the record: drop the CR of a CRLF.
    const char* field_end = p;
    if (field_end > start && field_end[-1] == '\r') --field_end;
    fields_.emplace_back(start, field_end - start);
    if (p < end) {
      ++p;
      ++next_line_;
    }
    break;
  }
  for (const Unescaped& u : unescaped_) {
    fields_[u.field] = std::string_view(scratch_.data() + u.offset, u.size);
  }
  pos_ = static_cast<size_t>(p - begin);
  return true;
}

}  // namespace promewma::csv2rw
