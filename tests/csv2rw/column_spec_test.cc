// Header detection: both built-in formats with no flags, explicit columns,
// case-insensitive matching, and messages that list the header's columns.

#include "csv2rw/column_spec.h"

#include <catch2/catch.hpp>

namespace promewma::csv2rw {
namespace {

using Header = std::vector<std::string_view>;

TEST_CASE("the original project's format needs no flags") {
  for (const Header& header :
       {Header{"Date", "Timestamp", "CPU_Utilization"},
        Header{"date", "TIMESTAMP", "cpu_utilization"},
        Header{" Date", "Timestamp ", "CPU_Utilization\t"}}) {
    Result<ColumnSpec> spec = ResolveColumns(header, {});
    REQUIRE(spec.ok());
    CHECK(spec->time_indexes == std::vector<size_t>{0, 1});
    CHECK(spec->value_index == 2);
    CHECK(spec->field_count == 3);
  }
  // Any order.
  Result<ColumnSpec> spec =
      ResolveColumns({"CPU_Utilization", "Timestamp", "Date"}, {});
  REQUIRE(spec.ok());
  CHECK(spec->time_indexes == std::vector<size_t>{2, 1});
  CHECK(spec->value_index == 0);
  CHECK(spec->value_name == "CPU_Utilization");
}

TEST_CASE("NAB's format needs no flags") {
  Result<ColumnSpec> spec = ResolveColumns({"timestamp", "value"}, {});
  REQUIRE(spec.ok());
  CHECK(spec->time_indexes == std::vector<size_t>{0});
  CHECK(spec->value_index == 1);
  CHECK(spec->value_name == "value");
  // CPU_Utilization is preferred over value when both are there.
  spec = ResolveColumns({"Timestamp", "value", "CPU_Utilization"}, {});
  REQUIRE(spec.ok());
  CHECK(spec->value_index == 2);
}

TEST_CASE("explicit columns, label columns, exact match before folded") {
  ColumnOptions options;
  options.time_columns = {"day", "clock"};
  options.value_column = "load";
  options.label_columns = {{"host", "Host"}, {"dc", "site"}};
  Result<ColumnSpec> spec =
      ResolveColumns({"site", "clock", "HOST", "load", "day"}, options);
  REQUIRE(spec.ok());
  CHECK(spec->time_indexes == std::vector<size_t>{4, 1});
  CHECK(spec->value_index == 3);
  CHECK(spec->label_indexes == std::vector<size_t>{2, 0});
  CHECK(spec->label_names == std::vector<std::string>{"host", "dc"});

  options = {};
  options.value_column = "Load";
  spec = ResolveColumns({"timestamp", "load", "Load"}, options);
  REQUIRE(spec.ok());
  CHECK(spec->value_index == 2);  // the exact match
  options.value_column = "LOAD";  // two folded matches: ambiguous
  spec = ResolveColumns({"timestamp", "load", "Load"}, options);
  CHECK(spec.status().message() ==
        "column \"LOAD\" (--value-column) is not in the header; its columns "
        "are \"timestamp\", \"load\", \"Load\"");
}

TEST_CASE("missing columns are named, with the header's columns") {
  CHECK(ResolveColumns({"time", "cpu"}, {}).status().message() ==
        "no time column: expected \"timestamp\" or \"Date\" and "
        "\"Timestamp\" (or name it with --time-column); the header's columns "
        "are \"time\", \"cpu\"");
  CHECK(ResolveColumns({"timestamp", "cpu"}, {}).status().message() ==
        "no value column: expected \"CPU_Utilization\" or \"value\" (or name "
        "it with --value-column); the header's columns are \"timestamp\", "
        "\"cpu\"");
  ColumnOptions options;
  options.time_columns = {"Date", "Clock"};
  CHECK(ResolveColumns({"Date", "value"}, options).status().message() ==
        "column \"Clock\" (--time-column) is not in the header; its columns "
        "are \"Date\", \"value\"");
  options = {};
  options.label_columns = {{"host", "machine"}};
  CHECK(ResolveColumns({"timestamp", "value"}, options).status().message() ==
        "column \"machine\" (--label-column host) is not in the header; its "
        "columns are \"timestamp\", \"value\"");
}

}  // namespace
}  // namespace promewma::csv2rw
