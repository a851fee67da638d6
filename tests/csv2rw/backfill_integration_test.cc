// csv2rw into a running promewma, end to end: each CSV is backfilled by the
// real csv2rw binary, then the derived NAME:ewma and NAME:upper_threshold
// series are read back over remote read and every value is compared with
// the independent pandas reference (tests/ewma/pandas_reference.py --csv,
// which parses the CSV with pandas itself) to 1e-9 relative.
//
// Two data sets: the shipped deploy/local/demo_cpu.csv (the original
// project's format), and the shared test data next to the project
// (${PROJECT_SOURCE_DIR}/../shared/data: the original project's
// synthetic_data.csv and the NAB CPU files, NAB's `timestamp,value`
// format). Data that is not there fails the test, naming the path.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "testing/peers.h"
#include "testing/remote_write.h"
#include "testing/subprocess.h"

namespace promewma::csv2rw {
namespace {

using namespace std::chrono_literals;
using testing::Subprocess;
using testing::TempDir;

const std::string kSourceDir = PROMEWMA_SOURCE_DIR;
// The plain EWMA band (span 10, k 3, ewm_std, no season), which pandas'
// ewm() expresses exactly; promewma runs it by config. The defaults'
// error spread and season are matched to the Python reference in
// tests/ewma/pandas_reference_test.cc.
constexpr char kPlainBand[] =
    "ewma: {span: 10, k: 3, spread: ewm_std, season: {slots: 0}}\n";
constexpr int kSpan = 10;
constexpr double kK = 3;
constexpr int kMinSamples = 10;
constexpr int64_t kResetAfterMs = 3600 * 1000;

struct ReferenceRow {
  int64_t timestamp_ms;
  double ewma;
  std::optional<double> upper;
};

std::vector<ReferenceRow> ParseReference(const std::string& text) {
  std::vector<ReferenceRow> rows;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    std::string field;
    while (std::getline(fields, field, ',')) f.push_back(field);
    f.resize(7);
    REQUIRE(f[1] == "applied");  // the data has no duplicates or NaN
    ReferenceRow row{std::stoll(f[0]), std::stod(f[2]), std::nullopt};
    if (!f[4].empty()) row.upper = std::stod(f[4]);
    rows.push_back(row);
  }
  return rows;
}

// Samples of the series NAME{source="SOURCE"} over remote read (SAMPLES).
std::vector<std::pair<int64_t, double>> RemoteRead(int port,
                                                   const std::string& name,
                                                   const std::string& source,
                                                   int64_t start, int64_t end) {
  return testing::RemoteReadSeries(
      port, {{"__name__", name}, {"source", source}}, start, end);
}

void RequireClose(double got, double want, const std::string& what) {
  const double scale = std::max(std::fabs(want), 1e-300);
  INFO(what << ": promewma " << got << ", pandas " << want);
  REQUIRE(std::fabs(got - want) / scale <= 1e-9);
}

// Starts promewma (the plain band) on a free port and backfills each
// file with csv2rw as series cpu_utilization{source="<file stem>"}; then
// checks both derived series of each against pandas.
void BackfillAndCompare(const std::vector<std::string>& files) {
  TempDir dir;
  testing::PromewmaOptions options;
  options.args = {"--log-level", "warn"};
  options.config = kPlainBand;
  auto promewma = testing::StartPromewma(options);
  const int port = promewma->port();

  // The references run meanwhile, all at once (pandas takes ~0.4 s to
  // start).
  char alpha[64];
  std::snprintf(alpha, sizeof(alpha), "%.17g", 2.0 / (kSpan + 1));
  std::vector<std::unique_ptr<Subprocess>> references;
  for (const std::string& file : files) {
    references.push_back(std::make_unique<Subprocess>(
        std::vector<std::string>{
            PROMEWMA_PYTHON, kSourceDir + "/tests/ewma/pandas_reference.py",
            "--csv", file, "--alpha", alpha, "--k", std::to_string(kK),
            "--min-samples", std::to_string(kMinSamples), "--reset-after-ms",
            std::to_string(kResetAfterMs), "--basis", "prior"},
        dir.path()));
  }

  const std::string url = promewma->url() + "/api/v1/write";
  for (const std::string& file : files) {
    const std::string source = std::filesystem::path(file).stem().string();
    std::string out, err;
    const int status =
        testing::RunCommand({testing::Csv2rwBinary(), file, "--url", url,
                             "--label", "source=" + source},
                            dir.path(), &out, &err, 30s);
    INFO(file << ": " << err);
    REQUIRE(status == 0);
    REQUIRE(err.find(" samples sent (") != std::string::npos);
  }

  for (size_t i = 0; i < files.size(); ++i) {
    const std::string source = std::filesystem::path(files[i]).stem().string();
    INFO(files[i]);
    REQUIRE(references[i]->Wait(60s) == 0);
    const std::vector<ReferenceRow> want =
        ParseReference(references[i]->Stdout());
    REQUIRE(want.size() > 1000);
    const int64_t start = want.front().timestamp_ms;
    const int64_t end = want.back().timestamp_ms;

    const auto ewma =
        RemoteRead(port, "cpu_utilization:ewma", source, start, end);
    REQUIRE(ewma.size() == want.size());
    size_t uppers = 0;
    for (size_t k = 0; k < want.size(); ++k) {
      REQUIRE(ewma[k].first == want[k].timestamp_ms);
      RequireClose(ewma[k].second, want[k].ewma,
                   "ewma at " + std::to_string(want[k].timestamp_ms));
      uppers += want[k].upper.has_value();
    }
    const auto upper =
        RemoteRead(port, "cpu_utilization:upper_threshold", source, start, end);
    REQUIRE(upper.size() == uppers);
    size_t u = 0;
    for (const ReferenceRow& row : want) {
      if (!row.upper) continue;
      REQUIRE(upper[u].first == row.timestamp_ms);
      RequireClose(upper[u].second, *row.upper,
                   "upper_threshold at " + std::to_string(row.timestamp_ms));
      ++u;
    }
  }
  REQUIRE(promewma->Stop() == 0);
}

TEST_CASE("the shipped demo CSV, backfilled into promewma, matches pandas") {
  const std::string demo = kSourceDir + "/deploy/local/demo_cpu.csv";
  REQUIRE(std::filesystem::exists(demo));
  BackfillAndCompare({demo});
}

TEST_CASE(
    "the original project's data and NAB, backfilled into promewma, "
    "match pandas") {
  const std::string data = kSourceDir + "/../shared/data";
  INFO("the shared test data (synthetic_data.csv and nab/*.csv) belongs in "
       << data);
  REQUIRE(std::filesystem::exists(data + "/synthetic_data.csv"));
  REQUIRE(std::filesystem::is_directory(data + "/nab"));
  std::vector<std::string> files = {data + "/synthetic_data.csv"};
  std::vector<std::string> nab;
  for (const auto& e : std::filesystem::directory_iterator(data + "/nab")) {
    if (e.path().extension() == ".csv") nab.push_back(e.path().string());
  }
  std::sort(nab.begin(), nab.end());
  REQUIRE_FALSE(nab.empty());
  files.insert(files.end(), nab.begin(), nab.end());
  BackfillAndCompare(files);
}

}  // namespace
}  // namespace promewma::csv2rw
