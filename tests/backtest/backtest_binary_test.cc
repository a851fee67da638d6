// The real backtest binary on NAB CPU series from ../shared/data/nab: the
// files it writes agree with each other and with the summary it prints.

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "testing/peers.h"
#include "testing/subprocess.h"

namespace promewma::backtest {
namespace {

using namespace std::chrono_literals;
using testing::RunCommand;
using testing::TempDir;

const std::string kBacktest = std::string(PROMEWMA_BINARY_DIR) + "/bin/backtest";
const std::string kNab = std::string(PROMEWMA_SOURCE_DIR) + "/../shared/data/nab";

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> Split(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
  if (!line.empty() && line.back() == ',') fields.push_back("");
  return fields;
}

TEST_CASE("backtest on a NAB series writes series, episodes and a plot that "
          "agree with its summary") {
  INFO("the NAB CPU series and anomaly_windows.json belong in " << kNab);
  REQUIRE(std::filesystem::exists(kNab + "/anomaly_windows.json"));
  const std::string csv = kNab + "/ec2_cpu_utilization_24ae8d.csv";
  REQUIRE(std::filesystem::exists(csv));
  TempDir dir;
  const std::string series = dir.path() + "/series.csv";
  const std::string episodes = dir.path() + "/episodes.csv";
  const std::string plot = dir.path() + "/plot.png";
  std::string out, err;
  const int rc = RunCommand(
      {kBacktest, csv, "--windows", kNab + "/anomaly_windows.json",
       "--keep-firing-for", "1h", "--out-series", series, "--out-episodes",
       episodes, "--plot", plot},
      dir.path(), &out, &err, 120s);
  INFO(out << err);
  REQUIRE(rc == 0);

  // Every row of the file, with its derived values and the alert state.
  std::vector<std::string> rows = Lines(series);
  REQUIRE(rows.size() == 4032 + 1);
  CHECK(rows[0] ==
        "series,timestamp_ms,value,ewma,upper_threshold,lower_threshold,"
        "stddev,anomaly_score,condition,firing");
  // First sample: 2014-02-14 14:30:00 UTC, 0.132; its EWMA is itself and
  // there is no band yet.
  std::vector<std::string> first = Split(rows[1]);
  REQUIRE(first.size() == 10);
  CHECK(first[1] == "1392388200000");
  CHECK(std::stod(first[2]) == 0.132);
  CHECK(std::stod(first[3]) == 0.132);
  CHECK(first[4].empty());

  // Episodes: each fired where the series CSV turns firing, and the
  // outcomes add up to the summary line.
  std::vector<std::string> eps = Lines(episodes);
  REQUIRE(eps.size() >= 2);
  int caught = 0, false_episodes = 0;
  for (size_t i = 1; i < eps.size(); ++i) {
    std::vector<std::string> f = Split(eps[i]);
    REQUIRE(f.size() == 6);
    CHECK(f[0] == "ec2_cpu_utilization_24ae8d.csv");
    caught += f[5] == "caught";
    false_episodes += f[5] == "false";
    bool found = false;
    for (size_t r = 2; r < rows.size(); ++r) {
      std::vector<std::string> row = Split(rows[r]);
      if (row[1] == f[3]) {
        found = true;
        CHECK(row[9] == "1");
        CHECK(Split(rows[r - 1])[9] == "0");
      }
    }
    CHECK(found);
  }
  std::ostringstream line;
  line << "total: " << caught << "/2 windows caught, " << false_episodes
       << " false episodes, " << (2 - caught) << " missed";
  CHECK(out.find(line.str()) != std::string::npos);
  CHECK(out.find("NAB standard score") != std::string::npos);

  std::ifstream png(plot, std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  CHECK(std::string(magic + 1, 3) == "PNG");
}

// The lines of a series CSV without their first field (the series name,
// which differs: the CSV's series has no labels, the backfilled one has
// source="...").
std::vector<std::string> WithoutSeriesNames(const std::string& path) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(path)) {
    out.push_back(line.substr(line.find(',')));
  }
  return out;
}

TEST_CASE("backtest reads history over remote read and finds what it finds "
          "in the CSV the history was backfilled from") {
  const std::string csv = kNab + "/ec2_cpu_utilization_24ae8d.csv";
  INFO("the NAB CPU series belong in " << kNab);
  REQUIRE(std::filesystem::exists(csv));
  testing::PromewmaOptions options;
  options.args = {"--log-level", "warn"};
  auto promewma = testing::StartPromewma(options);
  TempDir dir;
  std::string out, err;
  REQUIRE(RunCommand({testing::Csv2rwBinary(), csv, "--url",
                      promewma->url() + "/api/v1/write", "--label",
                      "source=24ae8d"},
                     dir.path(), &out, &err, 60s) == 0);

  const std::string windows = kNab + "/anomaly_windows.json";
  std::string from_csv, from_remote;
  REQUIRE(RunCommand({kBacktest, csv, "--windows", windows,
                      "--keep-firing-for", "1h", "--out-series",
                      dir.path() + "/csv.csv"},
                     dir.path(), &from_csv, &err, 120s) == 0);
  const int rc = RunCommand(
      {kBacktest, "--remote-read-url", promewma->url() + "/api/v1/read",
       "--match", "cpu_utilization{source=\"24ae8d\"}", "--start",
       "2014-01-01 00:00:00", "--windows", windows, "--windows-key",
       "ec2_cpu_utilization_24ae8d.csv", "--keep-firing-for", "1h",
       "--out-series", dir.path() + "/remote.csv"},
      dir.path(), &from_remote, &err, 120s);
  INFO(from_remote << err);
  REQUIRE(rc == 0);
  CHECK(from_remote == from_csv);
  CHECK(from_remote.find("total: 2/2 windows caught") != std::string::npos);
  const std::vector<std::string> a = WithoutSeriesNames(dir.path() + "/csv.csv");
  const std::vector<std::string> b =
      WithoutSeriesNames(dir.path() + "/remote.csv");
  REQUIRE(a.size() == 4033);
  CHECK(a == b);
  REQUIRE(promewma->Stop() == 0);
}

TEST_CASE("backtest refuses an unknown alert expression and a bad duration") {
  TempDir dir;
  std::string out, err;
  CHECK(RunCommand({kBacktest, "x.csv", "--expr", "lower"}, dir.path(), &out,
                   &err, 30s) == 2);
  CHECK(err.find("--expr: expected upper, score or two-sided") !=
        std::string::npos);
  CHECK(RunCommand({kBacktest, "x.csv", "--for", "soon"}, dir.path(), &out,
                   &err, 30s) == 2);
  CHECK(err.find("--for: expected a duration") != std::string::npos);
  CHECK(RunCommand({kBacktest, "--remote-read-url", "http://127.0.0.1:1/r"},
                   dir.path(), &out, &err, 30s) == 2);
  CHECK(err.find("--remote-read-url needs --match") != std::string::npos);
  CHECK(RunCommand({kBacktest}, dir.path(), &out, &err, 30s) == 2);
  CHECK(err.find("give CSV files or --remote-read-url") != std::string::npos);
}

}  // namespace
}  // namespace promewma::backtest
