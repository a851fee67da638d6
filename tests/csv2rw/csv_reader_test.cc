// CsvReader: field splitting, RFC 4180 quotes, line endings, empty lines,
// line numbers and malformed records.

#include "csv2rw/csv_reader.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace promewma::csv2rw {
namespace {

struct Record {
  uint64_t line;
  std::vector<std::string> fields;
  std::string error;
  bool operator==(const Record& o) const {
    return line == o.line && fields == o.fields && error == o.error;
  }
};

std::ostream& operator<<(std::ostream& os, const Record& r) {
  os << r.line << ":";
  for (const auto& f : r.fields) os << "[" << f << "]";
  if (!r.error.empty()) os << " error=" << r.error;
  return os;
}

std::vector<Record> ReadAll(std::string_view text, char delimiter = ',') {
  CsvReader reader(text, delimiter);
  std::vector<Record> out;
  while (reader.Next()) {
    Record r{reader.line(), {}, reader.error() ? reader.error() : ""};
    if (r.error.empty()) {
      for (std::string_view f : reader.fields()) r.fields.emplace_back(f);
    }
    out.push_back(r);
  }
  return out;
}

TEST_CASE("plain records, with and without a final line break") {
  const std::vector<Record> want = {{1, {"a", "b", "c"}, ""},
                                    {2, {"1", "2", "3"}, ""}};
  CHECK(ReadAll("a,b,c\n1,2,3\n") == want);
  CHECK(ReadAll("a,b,c\n1,2,3") == want);
  CHECK(ReadAll("a,b,c\r\n1,2,3\r\n") == want);
  CHECK(ReadAll("a,b,c\r\n1,2,3") == want);
  CHECK(ReadAll("a,b,c\r\n1,2,3\r") == want);
}

TEST_CASE("empty fields, and empty lines are skipped but counted") {
  CHECK(ReadAll("a,,c\n,\n\n\r\n,x,\n") ==
        std::vector<Record>{{1, {"a", "", "c"}, ""},
                            {2, {"", ""}, ""},
                            {5, {"", "x", ""}, ""}});
  CHECK(ReadAll("").empty());
  CHECK(ReadAll("\n\n\r\n").empty());
}

TEST_CASE("quoted fields: delimiters, line breaks and doubled quotes") {
  const auto records = ReadAll(
      "name,note\n\"a,b\",\"say \"\"hi\"\"\"\n\"two\nlines\",x\nz,\"\"\n");
  CHECK(records == std::vector<Record>{{1, {"name", "note"}, ""},
                                       {2, {"a,b", "say \"hi\""}, ""},
                                       {3, {"two\nlines", "x"}, ""},
                                       {5, {"z", ""}, ""}});
  // A quoted last field followed by CRLF, and at the very end.
  CHECK(ReadAll("\"a\"\r\n\"b\"") ==
        std::vector<Record>{{1, {"a"}, ""}, {2, {"b"}, ""}});
  // Several escaped fields in one record keep their own values.
  CHECK(ReadAll("\"\"\"1\",\"2\"\"\",\"3\"") ==
        std::vector<Record>{{1, {"\"1", "2\"", "3"}, ""}});
}

TEST_CASE("a quote inside an unquoted field is an ordinary byte") {
  CHECK(ReadAll("5\" disk,x\n") ==
        std::vector<Record>{{1, {"5\" disk", "x"}, ""}});
}

TEST_CASE("malformed records are reported and reading goes on") {
  CHECK(ReadAll("a,b\n\"x\"y,1\nc,d\n") ==
        std::vector<Record>{{1, {"a", "b"}, ""},
                            {2, {}, "text after a closing quote"},
                            {3, {"c", "d"}, ""}});
  CHECK(ReadAll("a,b\n1,\"open\nmore\n") ==
        std::vector<Record>{{1, {"a", "b"}, ""},
                            {2, {}, "unterminated quoted field"}});
}

TEST_CASE("other delimiters and a byte order mark") {
  CHECK(ReadAll("a;b\n1,5;2\n", ';') ==
        std::vector<Record>{{1, {"a", "b"}, ""}, {2, {"1,5", "2"}, ""}});
  CHECK(ReadAll("a\tb\n1\t2\n", '\t') ==
        std::vector<Record>{{1, {"a", "b"}, ""}, {2, {"1", "2"}, ""}});
  CHECK(ReadAll("\xEF\xBB\xBFtimestamp,value\n") ==
        std::vector<Record>{{1, {"timestamp", "value"}, ""}});
}

TEST_CASE("position advances to the end") {
  const std::string text = "a,b\n1,2\n";
  CsvReader reader(text);
  REQUIRE(reader.Next());
  CHECK(reader.position() == 4);
  REQUIRE(reader.Next());
  CHECK(reader.position() == text.size());
  CHECK_FALSE(reader.Next());
}

TEST_CASE("TrimBlanks strips spaces and tabs only") {
  CHECK(TrimBlanks("  1.5\t") == "1.5");
  CHECK(TrimBlanks("\t ") == "");
  CHECK(TrimBlanks("a b") == "a b");
}

}  // namespace
}  // namespace promewma::csv2rw
