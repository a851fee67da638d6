// ProgressBar: the rendered line, and silence when disabled (stderr not a
// terminal).

#include "csv2rw/progress.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

namespace promewma::csv2rw {
namespace {

TEST_CASE("the line shows the bar, the count, the rate and the ETA") {
  CHECK(ProgressBar::Render("sending", 410, 1000, 1650000, "samples", 0.8) ==
        "csv2rw: sending [########------------]  41%  1,650,000 samples  "
        "2.1M samples/s  ETA 2s");
  CHECK(ProgressBar::Render("reading", 0, 1000, 0, "rows", 0) ==
        "csv2rw: reading [--------------------]   0%  0 rows");
  CHECK(ProgressBar::Render("reading", 1000, 1000, 4032, "rows", 2) ==
        "csv2rw: reading [####################] 100%  4,032 rows  2.0k rows/s");
  CHECK(ProgressBar::Render("sending", 1, 100, 5, "samples", 10) ==
        "csv2rw: sending [--------------------]   1%  5 samples  0 samples/s  "
        "ETA 16m30s");
}

TEST_CASE("numbers with thousands separators") {
  CHECK(WithThousands(0) == "0");
  CHECK(WithThousands(999) == "999");
  CHECK(WithThousands(1000) == "1,000");
  CHECK(WithThousands(1234567) == "1,234,567");
}

TEST_CASE("a disabled bar writes nothing and an enabled one erases itself") {
  char* buf = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&buf, &size);
  REQUIRE(out != nullptr);
  {
    ProgressBar off(false, out);
    off.Start("reading", 100, "rows");
    off.Update(50, 50);
    off.Finish();
  }
  std::fflush(out);
  CHECK(size == 0);
  ProgressBar on(true, out);
  on.Start("reading", 100, "rows");
  on.Update(50, 50);
  on.Update(60, 60);  // within 100 ms of the last draw: skipped
  on.Finish();
  std::fflush(out);
  const std::string text(buf, size);
  CHECK(text.rfind("\rcsv2rw: reading [##########----------]  50%  50 rows",
                   0) == 0);
  CHECK(text.find("60 rows") == std::string::npos);
  CHECK(text.size() >= 4);
  CHECK(text.substr(text.size() - 4) == "\r\x1b[K");
  std::fclose(out);
  std::free(buf);
}

}  // namespace
}  // namespace promewma::csv2rw
