// Drives the engine, one remote-write request per sample, through series
// with irregular timestamps, gaps beyond reset_after, NaN/Inf, stale
// markers, duplicates, conflicts and out-of-order samples, and compares
// every outcome and derived value with tests/ewma/pandas_reference.py
// (pandas ewm(adjust=False)) to 1e-9 relative.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "codec/write_request.h"
#include "head/head.h"
#include "testing/remote_write.h"

namespace promewma::ewma {
namespace {

struct InputSample {
  int64_t timestamp_ms;
  std::string text;  // as the reference reads it: number, nan, inf, stale
  double value;
};

// A CPU-like series with every kind of irregularity the engine handles.
std::vector<InputSample> MakeScenario(uint64_t seed, int count) {
  std::mt19937_64 rng(seed);
  std::vector<InputSample> out;
  int64_t t = 1700000000000;
  double level = 40;
  for (int i = 0; i < count; ++i) {
    const int kind = static_cast<int>(rng() % 100);
    if (kind < 3 && !out.empty()) {  // out of order
      out.push_back(
          {t - 1 - static_cast<int64_t>(rng() % 50000), "17.5", 17.5});
      continue;
    }
    if (kind < 6 && !out.empty()) {  // duplicate of the last sample
      out.push_back(out.back());
      continue;
    }
    if (kind < 8 && !out.empty()) {  // same timestamp, other value
      out.push_back({out.back().timestamp_ms, "99.25", 99.25});
      continue;
    }
    // Irregular spacing: mostly 5-25 s, sometimes a long gap (> 1 h).
    t += kind < 10 ? 3600 * 1000 + 1 + static_cast<int64_t>(rng() % 600000)
                   : 5000 + static_cast<int64_t>(rng() % 20000);
    if (kind < 12) {
      out.push_back({t, "stale", StaleMarker()});
    } else if (kind < 14) {
      out.push_back({t, "nan", std::nan("")});
    } else if (kind < 15) {
      out.push_back({t, "inf", INFINITY});
    } else {
      level += std::normal_distribution<double>(0, 2)(rng);
      double v = level + (kind > 97 ? 40 : 0) +
                 std::normal_distribution<double>(0, 3)(rng);
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.17g", v);
      out.push_back({t, buf, std::strtod(buf, nullptr)});
    }
  }
  return out;
}

struct ReferenceRow {
  std::string outcome;
  double value[5];  // ewma, stddev, upper, lower, score; NaN when absent
};

std::vector<ReferenceRow> RunReference(const std::vector<InputSample>& input,
                                       const std::string& args) {
  const std::string dir = PROMEWMA_BINARY_DIR;
  // One file per parameter set: ctest may run the cases in parallel.
  const std::string in_path = dir + "/pandas_reference_input_" +
                              std::to_string(std::hash<std::string>{}(args)) +
                              ".csv";
  {
    std::ofstream in(in_path);
    for (const InputSample& s : input)
      in << s.timestamp_ms << "," << s.text << "\n";
  }
  const std::string cmd =
      std::string(PROMEWMA_PYTHON) + " " + PROMEWMA_SOURCE_DIR +
      "/tests/ewma/pandas_reference.py " + args + " < " + in_path;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) text.append(buf, n);
  REQUIRE(pclose(pipe) == 0);

  std::vector<ReferenceRow> rows;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    ReferenceRow row;
    std::istringstream fields(line);
    std::getline(fields, row.outcome, ',');
    for (double& v : row.value) {
      std::string f;
      std::getline(fields, f, ',');
      v = f.empty() ? std::nan("") : std::strtod(f.c_str(), nullptr);
    }
    rows.push_back(row);
  }
  REQUIRE(rows.size() == input.size());
  return rows;
}

std::string OutcomeOf(const head::ApplyResult& r) {
  if (r.applied) return "applied";
  if (r.stale) return "stale";
  if (r.dropped_by(head::DropReason::kDuplicate)) return "duplicate";
  if (r.dropped_by(head::DropReason::kConflict)) return "conflict";
  if (r.dropped_by(head::DropReason::kOutOfOrder)) return "out_of_order";
  if (r.dropped_by(head::DropReason::kNotFinite)) return "not_finite";
  return "?";
}

void RequireClose(double got, double want, const char* what) {
  INFO(what << ": got " << got << ", reference " << want);
  if (std::isnan(want)) {
    REQUIRE(std::isnan(got));
  } else if (std::isinf(want)) {
    REQUIRE(got == want);
  } else {
    REQUIRE(std::fabs(got - want) <= 1e-9 * std::max(1.0, std::fabs(want)));
  }
}

void CompareWithReference(const EstimatorParams& params,
                          const std::string& args, uint64_t seed) {
  const std::vector<InputSample> input = MakeScenario(seed, 3000);
  const std::vector<ReferenceRow> reference = RunReference(input, args);

  head::HeadOptions options;
  options.defaults = params;
  head::Head engine(options);
  // The same parameters without a season: with one, the scenario must
  // give bands the season widens.
  EstimatorParams plain_params = params;
  plain_params.season_slots = 0;
  EstimatorState plain;
  int widened = 0;
  codec::DecodedWriteRequest decoded;
  int thresholds_seen = 0, resets_checked = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    const std::string body = testing::SerializeWriteRequest(
        {{{{"__name__", "cpu"}, {"host", "a"}},
          {{input[i].timestamp_ms, input[i].value}}}});
    REQUIRE(codec::DecodeWriteRequest(body, &decoded).ok());
    head::ApplyResult result;
    REQUIRE(engine.Apply(decoded, &result).ok());
    INFO("sample " << i << " at " << input[i].timestamp_ms << " = "
                   << input[i].text);
    REQUIRE(OutcomeOf(result) == reference[i].outcome);
    DerivedValues plain_out;
    UpdateEstimator(plain_params, &plain, input[i].timestamp_ms,
                    input[i].value, &plain_out);
    if (result.applied == 0) continue;

    double got[5];
    for (double& v : got) v = std::nan("");
    engine.VisitLatest([&](const head::LatestDerived& latest) {
      REQUIRE(latest.timestamp_ms == input[i].timestamp_ms);
      const Output order[5] = {Output::kEwma, Output::kStddev,
                               Output::kUpperThreshold, Output::kLowerThreshold,
                               Output::kAnomalyScore};
      for (int j = 0; j < 5; ++j) {
        if (latest.values.has(order[j])) got[j] = latest.values.get(order[j]);
      }
    });
    RequireClose(got[0], reference[i].value[0], "ewma");
    RequireClose(got[1], reference[i].value[1], "stddev");
    RequireClose(got[2], reference[i].value[2], "upper_threshold");
    RequireClose(got[3], reference[i].value[3], "lower_threshold");
    RequireClose(got[4], reference[i].value[4], "anomaly_score");
    if (!std::isnan(reference[i].value[2])) ++thresholds_seen;
    if (plain_out.has(Output::kUpperThreshold) &&
        got[2] > plain_out.get(Output::kUpperThreshold)) {
      ++widened;
    }
    if (std::isnan(reference[i].value[1])) ++resets_checked;
  }
  // The scenario must actually exercise bands and restarts.
  REQUIRE(thresholds_seen > 1000);
  REQUIRE(resets_checked > 10);
  if (params.season_slots > 0) {
    REQUIRE(widened > 100);
  } else {
    REQUIRE(widened == 0);
  }
}

// The plain EWMA band whatever the defaults are: ewm_std, k 3, no
// transform, no season.
EstimatorParams PlainEwma() {
  EstimatorParams p;
  p.alpha = 2.0 / 11.0;
  p.k = 3;
  p.spread = SpreadKind::kEwmStd;
  p.spread_alpha = 0;
  p.transform = Transform::kNone;
  p.season_slots = 0;
  return p;
}

EstimatorParams AllOutputs() {
  EstimatorParams p = PlainEwma();
  p.outputs = OutputBit(Output::kEwma) | OutputBit(Output::kUpperThreshold) |
              OutputBit(Output::kLowerThreshold) | OutputBit(Output::kStddev) |
              OutputBit(Output::kAnomalyScore);
  return p;
}

TEST_CASE("engine matches pandas: span 10, k 3, prior basis") {
  EstimatorParams p = AllOutputs();
  CompareWithReference(p,
                       "--alpha 0.18181818181818182 --k 3 --min-samples 10 "
                       "--reset-after-ms 3600000 --basis prior",
                       1);
}

TEST_CASE("engine matches pandas: alpha 0.3, k 2, posterior basis") {
  EstimatorParams p = AllOutputs();
  p.alpha = 0.3;
  p.k = 2;
  p.min_samples = 5;
  p.threshold_basis = ThresholdBasis::kPosterior;
  CompareWithReference(p,
                       "--alpha 0.3 --k 2 --min-samples 5 "
                       "--reset-after-ms 3600000 --basis posterior",
                       2);
}

TEST_CASE("engine matches the reference recursion: half_life 2m") {
  EstimatorParams p = AllOutputs();
  p.half_life_ms = 120000;
  p.min_samples = 3;
  CompareWithReference(p,
                       "--half-life-ms 120000 --k 3 --min-samples 3 "
                       "--reset-after-ms 3600000 --basis prior",
                       3);
}

TEST_CASE("engine matches pandas: error_mean_abs spread with its own span, "
          "log1p transform") {
  EstimatorParams p = AllOutputs();
  p.spread = SpreadKind::kErrorMeanAbs;
  p.spread_alpha = 2.0 / 301.0;
  p.transform = Transform::kLog1p;
  p.k = 6.25;
  CompareWithReference(p,
                       "--alpha 0.18181818181818182 --k 6.25 --min-samples 10 "
                       "--reset-after-ms 3600000 --basis prior "
                       "--spread error_mean_abs "
                       "--spread-alpha 0.006644518272425249 "
                       "--transform log1p",
                       4);
}

TEST_CASE("engine matches pandas: error_rms spread with the mean's alpha, "
          "posterior basis") {
  EstimatorParams p = AllOutputs();
  p.alpha = 0.3;
  p.spread = SpreadKind::kErrorRms;
  p.k = 4.5;
  p.min_samples = 5;
  p.threshold_basis = ThresholdBasis::kPosterior;
  CompareWithReference(p,
                       "--alpha 0.3 --k 4.5 --min-samples 5 "
                       "--reset-after-ms 3600000 --basis posterior "
                       "--spread error_rms",
                       5);
}

TEST_CASE("engine matches the reference: the defaults (error_rms span "
          "10000, k 4.5, a 96-slot season of span 14)") {
  EstimatorParams p;
  p.outputs = AllOutputs().outputs;
  CompareWithReference(p,
                       "--alpha 0.18181818181818182 --k 4.5 --min-samples 10 "
                       "--reset-after-ms 3600000 --basis prior "
                       "--spread error_rms --spread-alpha 0.00019998000199980003 "
                       "--season-slots 96 --season-alpha 0.13333333333333333 "
                       "--season-min-history-ms 86400000",
                       6);
}

TEST_CASE("engine matches the reference: error_mean_abs and log1p with a "
          "24-slot season, posterior basis") {
  EstimatorParams p = AllOutputs();
  p.alpha = 0.3;
  p.spread = SpreadKind::kErrorMeanAbs;
  p.spread_alpha = 0.01;
  p.transform = Transform::kLog1p;
  p.k = 6;
  p.min_samples = 5;
  p.threshold_basis = ThresholdBasis::kPosterior;
  p.season_slots = 24;
  p.season_alpha = 0.25;
  p.season_min_history_ms = 6 * 3600 * 1000;
  CompareWithReference(p,
                       "--alpha 0.3 --k 6 --min-samples 5 "
                       "--reset-after-ms 3600000 --basis posterior "
                       "--spread error_mean_abs --spread-alpha 0.01 "
                       "--transform log1p --season-slots 24 "
                       "--season-alpha 0.25 --season-min-history-ms 21600000",
                       7);
}

TEST_CASE("engine matches the reference: ewm_std with a 48-slot season "
          "of squared errors") {
  EstimatorParams p = AllOutputs();
  p.season_slots = 48;
  p.season_alpha = 0.1;
  p.season_min_history_ms = 0;
  CompareWithReference(p,
                       "--alpha 0.18181818181818182 --k 3 --min-samples 10 "
                       "--reset-after-ms 3600000 --basis prior "
                       "--season-slots 48 --season-alpha 0.1 "
                       "--season-min-history-ms 0",
                       8);
}

}  // namespace
}  // namespace promewma::ewma
