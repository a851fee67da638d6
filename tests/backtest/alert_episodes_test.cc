// The alert state machine against hand-computed runs of Prometheus 2.42's
// rule semantics (pending for `for`, firing, keep_firing_for after the
// last true evaluation), one evaluation per time unit.

#include "backtest/alert_episodes.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace promewma::backtest {
namespace {

// Evaluates "TFT..." at times 1, 2, 3, ...
std::vector<AlertEpisode> Run(AlertTiming timing, const std::string& pattern) {
  AlertStateMachine alert(timing);
  for (size_t i = 0; i < pattern.size(); ++i) {
    alert.Evaluate(static_cast<int64_t>(i + 1), pattern[i] == 'T');
  }
  return alert.Episodes();
}

TEST_CASE("with for 0 an alert fires on its first true evaluation and "
          "resolves on the first false one") {
  std::vector<AlertEpisode> e = Run({0, 0}, "FTTFTF");
  REQUIRE(e.size() == 2);
  CHECK(e[0].active_since_ms == 2);
  CHECK(e[0].fired_at_ms == 2);
  CHECK(e[0].resolved_at_ms == 4);
  CHECK(e[0].fired_eval_index == 1);
  CHECK(e[1].fired_at_ms == 5);
  CHECK(e[1].resolved_at_ms == 6);
}

TEST_CASE("a pending alert fires once the condition has held for `for` and "
          "a false evaluation while pending starts it over") {
  std::vector<AlertEpisode> e = Run({2, 0}, "TTFTTTF");
  REQUIRE(e.size() == 1);
  CHECK(e[0].active_since_ms == 4);
  CHECK(e[0].fired_at_ms == 6);
  CHECK(e[0].fired_eval_index == 5);
  CHECK(e[0].resolved_at_ms == 7);
}

TEST_CASE("a pending run that never fires is no episode") {
  CHECK(Run({5, 0}, "TTTFTTF").empty());
}

TEST_CASE("keep_firing_for keeps firing until that long after the first "
          "false evaluation") {
  std::vector<AlertEpisode> e = Run({0, 3}, "TFFFFT");
  REQUIRE(e.size() == 2);
  CHECK(e[0].fired_at_ms == 1);
  // False since 2: still firing at 2, 3 and 4 (less than 3 after 2).
  CHECK(e[0].resolved_at_ms == 5);
  CHECK(e[1].fired_at_ms == 6);
  CHECK(e[1].resolved_at_ms == kStillFiring);
}

TEST_CASE("a true evaluation during keep_firing_for merges the bursts into "
          "one episode") {
  std::vector<AlertEpisode> e = Run({0, 3}, "TFFTFFFF");
  REQUIRE(e.size() == 1);
  CHECK(e[0].fired_at_ms == 1);
  CHECK(e[0].resolved_at_ms == 8);
}

TEST_CASE("keep_firing_for does not hold a pending alert") {
  std::vector<AlertEpisode> e = Run({2, 10}, "TTFTTTFF");
  REQUIRE(e.size() == 1);
  CHECK(e[0].fired_at_ms == 6);
  CHECK(e[0].resolved_at_ms == kStillFiring);
}

}  // namespace
}  // namespace promewma::backtest
