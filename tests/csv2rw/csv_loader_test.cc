// LoadCsv and SeriesBuilder: bad rows reported as exact "FILE:LINE: reason"
// lines, file-level errors, sorting, duplicates, label-column grouping and
// label validation.

#include "csv2rw/csv_loader.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace promewma::csv2rw {
namespace {

constexpr int64_t kOct1 = 1727740800000;  // 2024-10-01T00:00:00Z

struct Loaded {
  Status status;
  std::unique_ptr<SeriesBuilder> series;
  uint64_t rows_read = 0, exact_duplicates = 0, bad = 0;
  std::vector<std::string> report;
};

Loaded Load(const std::string& text, LoadOptions options = {}) {
  BadRowLog bad_rows("f.csv");
  ProgressBar progress(false, stderr);
  Result<LoadedCsv> r = LoadCsv(text, options, &bad_rows, &progress);
  Loaded out;
  out.status = r.status();
  if (r.ok()) {
    out.series = std::move(r->series);
    out.rows_read = r->rows_read;
    out.exact_duplicates = r->exact_duplicates;
  }
  out.bad = bad_rows.count();
  out.report = bad_rows.Report();
  return out;
}

// (series name, timestamp, value) of every row in send order.
std::vector<std::tuple<std::string, int64_t, double>> Rows(
    const SeriesBuilder& s) {
  std::vector<std::tuple<std::string, int64_t, double>> out;
  for (const Row& r : s.rows()) {
    out.emplace_back(s.SeriesName(r.series), r.timestamp_ms, r.value);
  }
  return out;
}

TEST_CASE("every kind of bad row is reported as FILE:LINE: reason") {
  const Loaded l = Load(
      "timestamp,value\n"
      "2024-10-01 00:00:00,1\n"
      "2024-10-01 00:01:00,abc\n"
      "2024-10-01 00:02:00\n"
      "2024-13-01 00:00:00,5\n"
      "2024-10-01 00:03:00,nan\n"
      "2024-10-01 00:04:00,-Inf\n"
      "2024-10-01 00:05:00,\n"
      "2024-10-01 00:06:00,1e999\n"
      "\"2024-10-01 00:07:00\"x,1\n"
      "2024-10-01 00:00:00,2\n"
      "2024-10-01 00:00:00,1\n"
      "2024-10-01 00:08:00,1,extra\n"
      "yesterday,3\n"
      "2024-10-01 00:09:00,0x10\n");
  REQUIRE(l.status.ok());
  CHECK(l.report ==
        std::vector<std::string>{
            "f.csv:3: bad value \"abc\" in column value: not a number",
            "f.csv:4: expected 2 fields as in the header, got 1",
            "f.csv:5: bad time \"2024-13-01 00:00:00\": month out of range",
            "f.csv:6: bad value \"nan\" in column value: NaN and Inf are not "
            "accepted",
            "f.csv:7: bad value \"-Inf\" in column value: NaN and Inf are not "
            "accepted",
            "f.csv:8: empty value in column value",
            "f.csv:9: bad value \"1e999\" in column value: out of range",
            "f.csv:10: text after a closing quote",
            "f.csv:11: duplicate timestamp 2024-10-01T00:00:00Z in series "
            "cpu_utilization with a different value: 2 here, 1 on line 2",
            "f.csv:13: expected 2 fields as in the header, got 3",
            "f.csv:14: bad time \"yesterday\": expected ISO 8601 "
            "(YYYY-MM-DD[THH:MM:SS][Z|+hh:mm]) or epoch seconds or "
            "milliseconds",
            "f.csv:15: bad value \"0x10\" in column value: not a number",
        });
  CHECK(l.bad == 12);
  CHECK(l.rows_read == 14);
  CHECK(l.exact_duplicates == 1);  // line 12 repeats line 2
  CHECK(Rows(*l.series) ==
        std::vector<std::tuple<std::string, int64_t, double>>{
            {"cpu_utilization", kOct1, 1.0}});
}

TEST_CASE("long bad fields are cut, control bytes escaped") {
  const Loaded l =
      Load("timestamp,value\n2024-10-01 00:00:00,\"a\tb\"\n" +
           std::string("2024-10-01 00:01:00,") + std::string(100, '7') + "x\n");
  CHECK(l.report == std::vector<std::string>{
                        "f.csv:2: bad value \"a\\tb\" in column value: not a "
                        "number",
                        "f.csv:3: bad value \"" + std::string(64, '7') +
                            "\"... in column value: not a number"});
}

TEST_CASE("the report shows the first 20 bad rows, then how many more") {
  std::string text = "timestamp,value\n";
  for (int i = 0; i < 25; ++i) text += "2024-10-01 00:00:00,x\n";
  const Loaded l = Load(text);
  REQUIRE(l.report.size() == 21);
  CHECK(l.report.front() ==
        "f.csv:2: bad value \"x\" in column value: not a number");
  CHECK(l.report[19] ==
        "f.csv:21: bad value \"x\" in column value: not a number");
  CHECK(l.report[20] == "f.csv: ... and 5 more bad rows");
  CHECK(l.bad == 25);
}

TEST_CASE("BadRowLog keeps the earliest lines whatever order they come in") {
  BadRowLog log("x.csv", 3);
  for (uint64_t line : {50, 40, 30, 20, 10, 60, 5, 70}) {
    log.Add(line, "r" + std::to_string(line));
  }
  CHECK(log.count() == 8);
  CHECK(log.Report() == std::vector<std::string>{
                            "x.csv:5: r5", "x.csv:10: r10", "x.csv:20: r20",
                            "x.csv: ... and 5 more bad rows"});
  BadRowLog few("y.csv");
  few.Add(3, "b");
  few.Add(2, "a");
  CHECK(few.Report() == std::vector<std::string>{"y.csv:2: a", "y.csv:3: b"});
}

TEST_CASE("file-level problems are a status, not bad rows") {
  CHECK(Load("").status.message() == "the file is empty");
  CHECK(Load("\n\r\n\n").status.message() == "the file is empty");
  CHECK(Load("timestamp,value\n").status.message() ==
        "no data rows after the header");
  CHECK(Load("timestamp,value\n\n\n").status.message() ==
        "no data rows after the header");
  CHECK(Load("\"timestamp,value\n1,2\n").status.message() ==
        "line 1: header: unterminated quoted field");
  CHECK(
      Load("time,value\n1,2\n").status.message().rfind("no time column:", 0) ==
      0);
  LoadOptions small;
  small.max_rows_in_memory = 2;
  const Loaded l = Load("timestamp,value\n1,1\n2,2\nbad,3\n3,3\n", small);
  CHECK(l.status.code() == StatusCode::kResourceExhausted);
  CHECK(l.status.message() ==
        "more than 2 rows, the --max-rows-in-memory limit (rows are sorted "
        "in memory, 24 bytes each); raise it or split the file");
  LoadOptions exact;
  exact.max_rows_in_memory = 2;
  CHECK(Load("timestamp,value\n1,1\n2,2\nbad,3\n", exact).status.ok());
}

TEST_CASE("the original format: Date and Timestamp joined, quotes, blanks") {
  const Loaded l = Load(
      "Date,Timestamp,CPU_Utilization\r\n"
      "2024-10-01,00:00:00,16.89\r\n"
      "\"2024-10-01\",\"00:01:00\",\"21.55\"\r\n"
      " 2024-10-01 , 00:02:00 , +1e1 \r\n"
      "2024-10-01,00:03:00,-0.5");
  REQUIRE(l.status.ok());
  CHECK(l.report.empty());
  CHECK(Rows(*l.series) ==
        std::vector<std::tuple<std::string, int64_t, double>>{
            {"cpu_utilization", kOct1, 16.89},
            {"cpu_utilization", kOct1 + 60000, 21.55},
            {"cpu_utilization", kOct1 + 120000, 10.0},
            {"cpu_utilization", kOct1 + 180000, -0.5}});
}

TEST_CASE("unsorted input is sorted by time") {
  const Loaded l = Load(
      "timestamp,value\n"
      "1727740860,2\n"
      "1727740980,4\n"
      "1727740800,1\n"
      "1727740920,3\n");
  REQUIRE(l.status.ok());
  CHECK(Rows(*l.series) ==
        std::vector<std::tuple<std::string, int64_t, double>>{
            {"cpu_utilization", kOct1, 1.0},
            {"cpu_utilization", kOct1 + 60000, 2.0},
            {"cpu_utilization", kOct1 + 120000, 3.0},
            {"cpu_utilization", kOct1 + 180000, 4.0}});
}

TEST_CASE(
    "duplicates: identical ones dropped, conflicting ones reported, "
    "the first in the file kept") {
  const Loaded l = Load(
      "timestamp,value\n"
      "1727740860,2\n"
      "1727740800,1.0\n"
      "1727740800,1\n"      // same value as line 3 (another spelling)
      "1727740860,2.5\n"    // conflicts with line 2
      "1727740860,3\n"      // conflicts with line 2 too
      "1727740800,1e0\n");  // same again
  REQUIRE(l.status.ok());
  CHECK(l.exact_duplicates == 2);
  CHECK(l.report ==
        std::vector<std::string>{
            "f.csv:5: duplicate timestamp 2024-10-01T00:01:00Z in series "
            "cpu_utilization with a different value: 2.5 here, 2 on line 2",
            "f.csv:6: duplicate timestamp 2024-10-01T00:01:00Z in series "
            "cpu_utilization with a different value: 3 here, 2 on line 2"});
  CHECK(Rows(*l.series) ==
        std::vector<std::tuple<std::string, int64_t, double>>{
            {"cpu_utilization", kOct1, 1.0},
            {"cpu_utilization", kOct1 + 60000, 2.0}});
}

TEST_CASE("a label column groups one CSV into several series") {
  LoadOptions options;
  options.columns.label_columns = {{"host", "machine"}, {"dc", "site"}};
  options.series.metric = "node_cpu";
  options.series.labels = {{"job", "backfill"}};
  const Loaded l = Load(
      "timestamp,machine,site,value\n"
      "1727740860,b,x,20\n"
      "1727740800,a,x,1\n"
      "1727740800,b,x,10\n"
      "1727740860,a,x,2\n"
      "1727740800,\" c \",,100\n"  // blanks trimmed; an empty value omits dc
      "1727740800,a,y,7\n"
      "1727740800,a,x,1\n",  // a duplicate, within its own series only
      options);
  REQUIRE(l.status.ok());
  CHECK(l.report.empty());
  CHECK(l.exact_duplicates == 1);
  REQUIRE(l.series->series_count() == 4);
  // Send order: by time, then by series in first-seen order.
  CHECK(Rows(*l.series) ==
        std::vector<std::tuple<std::string, int64_t, double>>{
            {"node_cpu{dc=\"x\", host=\"b\", job=\"backfill\"}", kOct1, 10.0},
            {"node_cpu{dc=\"x\", host=\"a\", job=\"backfill\"}", kOct1, 1.0},
            {"node_cpu{host=\"c\", job=\"backfill\"}", kOct1, 100.0},
            {"node_cpu{dc=\"y\", host=\"a\", job=\"backfill\"}", kOct1, 7.0},
            {"node_cpu{dc=\"x\", host=\"b\", job=\"backfill\"}", kOct1 + 60000,
             20.0},
            {"node_cpu{dc=\"x\", host=\"a\", job=\"backfill\"}", kOct1 + 60000,
             2.0}});
}

TEST_CASE("time-ordered input with several series at one time") {
  LoadOptions options;
  options.columns.label_columns = {{"host", "host"}};
  const Loaded l = Load(
      "timestamp,host,value\n"
      "1727740800,a,1\n"
      "1727740800,b,2\n"
      "1727740860,b,4\n"
      "1727740860,a,3\n"
      "1727740860,b,5\n",  // conflicts with line 4
      options);
  REQUIRE(l.status.ok());
  CHECK(l.report == std::vector<std::string>{
                        "f.csv:6: duplicate timestamp 2024-10-01T00:01:00Z in "
                        "series cpu_utilization{host=\"b\"} with a different "
                        "value: 5 here, 4 on line 4"});
  CHECK(Rows(*l.series) ==
        std::vector<std::tuple<std::string, int64_t, double>>{
            {"cpu_utilization{host=\"a\"}", kOct1, 1.0},
            {"cpu_utilization{host=\"b\"}", kOct1, 2.0},
            {"cpu_utilization{host=\"a\"}", kOct1 + 60000, 3.0},
            {"cpu_utilization{host=\"b\"}", kOct1 + 60000, 4.0}});
}

TEST_CASE("a label value that is not UTF-8 is a bad row") {
  LoadOptions options;
  options.columns.label_columns = {{"host", "host"}};
  const Loaded l = Load(
      "timestamp,host,value\n1,ok,1\n2,\xff\xfe,2\n3,\xff\xfe,3\n", options);
  REQUIRE(l.status.ok());
  CHECK(l.report ==
        std::vector<std::string>{
            "f.csv:3: label \"host\" has a value that is not valid UTF-8",
            "f.csv:4: label \"host\" has a value that is not valid UTF-8"});
  CHECK(l.series->series_count() == 1);
}

TEST_CASE("metric and label flags are checked with the model's rules") {
  SeriesOptions o;
  CHECK(ValidateSeriesOptions(o).ok());
  o.metric = "cpu usage";
  CHECK(ValidateSeriesOptions(o).message() ==
        "--metric: invalid metric name \"cpu usage\" (must match "
        "[a-zA-Z_:][a-zA-Z0-9_:]*)");
  o.metric = "node:cpu_utilisation:rate5m";
  CHECK(ValidateSeriesOptions(o).ok());
  o.labels = {{"__name__", "x"}};
  CHECK(ValidateSeriesOptions(o).message() ==
        "--label: the label __name__ is set by --metric");
  o.labels = {{"1host", "x"}};
  CHECK(ValidateSeriesOptions(o).message() ==
        "--label: invalid label name \"1host\" (must match "
        "[a-zA-Z_][a-zA-Z0-9_]*)");
  o.labels = {{"host", "\xff"}};
  CHECK(ValidateSeriesOptions(o).message() ==
        "--label host: the value is not valid UTF-8");
  o.labels = {{"host", "a"}};
  o.label_column_labels = {"host"};
  CHECK(ValidateSeriesOptions(o).message() ==
        "--label-column: label \"host\" is given more than once");
  o.label_column_labels = {"dc", "bad-name"};
  CHECK(ValidateSeriesOptions(o).message() ==
        "--label-column: invalid label name \"bad-name\" (must match "
        "[a-zA-Z_][a-zA-Z0-9_]*)");
}

TEST_CASE("FormatValue gives the shortest text that reads back") {
  CHECK(FormatValue(16.89) == "16.89");
  CHECK(FormatValue(2.0) == "2");
  CHECK(FormatValue(0.1 + 0.2) == "0.30000000000000004");
  CHECK(FormatValue(-1e300) == "-1e+300");
}

}  // namespace
}  // namespace promewma::csv2rw
