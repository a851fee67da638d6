// The detection figures README "Choosing parameters" reports, checked by
// running the real backtest binary on the NAB CPU series in
// ../shared/data/nab: the built-in defaults with the shipped
// CPUAboveAdaptiveThreshold rule as it is in
// deploy/prometheus/rules/promewma.rules.yml, the same keys written out in
// tools/backtest/nab_cpu.yml, and the plain EWMA band they replace.

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "testing/subprocess.h"

namespace promewma::backtest {
namespace {

using namespace std::chrono_literals;

const std::string kBacktest = std::string(PROMEWMA_BINARY_DIR) + "/bin/backtest";
const std::string kSource = PROMEWMA_SOURCE_DIR;
const std::string kNab = kSource + "/../shared/data/nab";

struct Totals {
  int caught = -1, windows = -1, false_episodes = -1;
};

Totals RunOnNab(std::vector<std::string> flags) {
  INFO("the NAB CPU series and anomaly_windows.json belong in " << kNab);
  REQUIRE(std::filesystem::exists(kNab + "/anomaly_windows.json"));
  std::vector<std::string> argv = {kBacktest};
  for (const auto& e : std::filesystem::directory_iterator(kNab)) {
    if (e.path().extension() == ".csv") argv.push_back(e.path().string());
  }
  REQUIRE(argv.size() == 1 + 8);
  argv.push_back("--windows");
  argv.push_back(kNab + "/anomaly_windows.json");
  argv.insert(argv.end(), flags.begin(), flags.end());
  testing::TempDir dir;
  std::string out, err;
  const int rc = testing::RunCommand(argv, dir.path(), &out, &err, 120s);
  INFO(out << err);
  REQUIRE(rc == 0);
  std::smatch m;
  const std::regex total(
      "total: (\\d+)/(\\d+) windows caught, (\\d+) false episodes");
  REQUIRE(std::regex_search(out, m, total));
  return Totals{std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])};
}

TEST_CASE("the defaults with the shipped rule catch 11 of the 13 NAB CPU "
          "windows with 22 false episodes") {
  const Totals t = RunOnNab(
      {"--rule-file", kSource + "/deploy/prometheus/rules/promewma.rules.yml",
       "--alert", "CPUAboveAdaptiveThreshold"});
  CHECK(t.windows == 13);
  CHECK(t.caught == 11);
  CHECK(t.false_episodes == 22);
}

TEST_CASE("nab_cpu.yml writes out the defaults: the same figures") {
  const Totals t = RunOnNab({"--config", kSource + "/tools/backtest/nab_cpu.yml",
                             "--for", "0s", "--keep-firing-for", "12h"});
  CHECK(t.windows == 13);
  CHECK(t.caught == 11);
  CHECK(t.false_episodes == 22);
}

TEST_CASE("the plain EWMA band (span 10, k 3) with for 1m and "
          "keep_firing_for 2m catches 4 windows with 33 false episodes") {
  testing::TempDir dir;
  const std::string config = dir.path() + "/plain.yml";
  {
    std::ofstream out(config);
    out << "ewma: {span: 10, k: 3, spread: ewm_std, transform: none, "
           "season: {slots: 0}}\n";
  }
  const Totals t = RunOnNab({"--config", config, "--for", "1m",
                             "--keep-firing-for", "2m"});
  CHECK(t.windows == 13);
  CHECK(t.caught == 4);
  CHECK(t.false_episodes == 33);
}

}  // namespace
}  // namespace promewma::backtest
