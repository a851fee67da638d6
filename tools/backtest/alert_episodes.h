// AlertEpisodes: the alerts one Prometheus alerting rule would fire for one
// series, given the rule's condition at each evaluation.
//
// The state machine is Prometheus 2.42's (rules/alerting.go):
//   - inactive -> pending on the first evaluation where the condition holds
//     (active_since = that evaluation's time);
//   - pending -> firing at the first evaluation with the condition true and
//     time - active_since >= `for` (with `for: 0`, on the same evaluation);
//   - pending -> inactive on any evaluation where it does not hold;
//   - firing stays firing while the condition holds; on the first false
//     evaluation keep_firing_since = its time, and the alert keeps firing
//     while time - keep_firing_since < keep_firing_for; a true evaluation
//     clears keep_firing_since;
//   - firing -> resolved (resolved_at = that evaluation's time) otherwise.
// An episode is one pending -> firing -> resolved run; a pending run that
// never fires is not an episode (nothing is sent).
//
// Thread-safety: not thread-safe; one instance per series.

#ifndef PROMEWMA_TOOLS_BACKTEST_ALERT_EPISODES_H_
#define PROMEWMA_TOOLS_BACKTEST_ALERT_EPISODES_H_

#include <cstdint>
#include <limits>
#include <vector>

namespace promewma::backtest {

struct AlertTiming {
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
};

// Resolved at this time: the alert was still firing at the last evaluation.
inline constexpr int64_t kStillFiring = std::numeric_limits<int64_t>::max();

struct AlertEpisode {
  int64_t active_since_ms;  // start of the pending phase
  int64_t fired_at_ms;      // first evaluation in the firing state
  int64_t resolved_at_ms;   // first evaluation no longer firing, or
                            // kStillFiring
  // Index of the evaluation that fired it, in Evaluate call order.
  uint64_t fired_eval_index;
};

class AlertStateMachine {
 public:
  explicit AlertStateMachine(AlertTiming timing) : timing_(timing) {}

  // One rule evaluation at `time_ms` (strictly increasing between calls):
  // whether the rule's expression returned this series.
  void Evaluate(int64_t time_ms, bool condition);

  // Whether the alert is firing after the last evaluation.
  bool firing() const { return state_ == State::kFiring; }

  // Finished episodes and the one still firing (resolved_at_ms =
  // kStillFiring), in firing order.
  std::vector<AlertEpisode> Episodes() const;

 private:
  enum class State { kInactive, kPending, kFiring };

  const AlertTiming timing_;
  State state_ = State::kInactive;
  int64_t active_since_ms_ = 0;
  int64_t keep_firing_since_ms_ = 0;
  bool keep_firing_since_set_ = false;
  uint64_t evaluations_ = 0;
  std::vector<AlertEpisode> done_;
  AlertEpisode current_{};
};

}  // namespace promewma::backtest

#endif  // PROMEWMA_TOOLS_BACKTEST_ALERT_EPISODES_H_
