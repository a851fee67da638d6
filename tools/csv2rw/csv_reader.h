// CsvReader: splits CSV text (RFC 4180) into records of fields without
// copying it.
//
// Rules: fields are separated by the delimiter (',' by default) and records
// by LF or CRLF; the last record needs no line break. A field that starts
// with '"' is quoted: it runs to the next lone '"', may hold delimiters and
// line breaks, and "" inside it stands for one '"'. A '"' inside an
// unquoted field is an ordinary byte (lenient, like most readers). Empty
// lines are skipped. A UTF-8 byte order mark at the start is skipped.
//
// Field views point into the input, except quoted fields holding "", which
// point into the reader's own buffer; either way they stay valid until the
// next call to Next(). After warming up, reading a record allocates
// nothing.
//
// Thread-safety: not thread-safe; the input must outlive the reader.

#ifndef PROMEWMA_TOOLS_CSV2RW_CSV_READER_H_
#define PROMEWMA_TOOLS_CSV2RW_CSV_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace promewma::csv2rw {

class CsvReader {
 public:
  explicit CsvReader(std::string_view data, char delimiter = ',');

  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Moves to the next record. Returns false when there is none left.
  bool Next();

  // The current record's fields.
  const std::vector<std::string_view>& fields() const { return fields_; }
  // The 1-based line the current record starts on.
  uint64_t line() const { return line_; }
  // nullptr, or why the current record is malformed ("unterminated quoted
  // field", "text after a closing quote"); its fields are then unspecified.
  // The reader resumes at the next line after a malformed record; an
  // unterminated quote runs to the end of the input.
  const char* error() const { return error_; }
  // Bytes of the input consumed so far.
  size_t position() const { return pos_; }
  size_t size() const { return data_.size(); }

 private:
  // A quoted field with "" escapes, unescaped into scratch_.
  struct Unescaped {
    size_t field;
    size_t offset;
    size_t size;
  };

  std::string_view data_;
  char delimiter_;
  size_t pos_ = 0;          // where the next record starts
  uint64_t next_line_ = 1;  // the line at pos_
  uint64_t line_ = 0;
  const char* error_ = nullptr;
  std::vector<std::string_view> fields_;
  std::string scratch_;
  std::vector<Unescaped> unescaped_;
};

// `text` without leading and trailing spaces and tabs: CSV writers often
// pad fields, and numbers and times never start or end with a blank.
inline std::string_view TrimBlanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_CSV_READER_H_
