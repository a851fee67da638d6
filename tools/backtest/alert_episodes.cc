#include "backtest/alert_episodes.h"

namespace promewma::backtest {

void AlertStateMachine::Evaluate(int64_t time_ms, bool condition) {
  const uint64_t index = evaluations_++;
  if (condition) {
    keep_firing_since_set_ = false;
    if (state_ == State::kInactive) {
      state_ = State::kPending;
      active_since_ms_ = time_ms;
    }
    // As alerting.go: the pending check runs in the same evaluation that
    // created the alert, so `for: 0` fires at once.
    if (state_ == State::kPending &&
        time_ms - active_since_ms_ >= timing_.for_ms) {
      state_ = State::kFiring;
      current_ = AlertEpisode{active_since_ms_, time_ms, kStillFiring, index};
    }
    return;
  }
  switch (state_) {
    case State::kInactive:
      return;
    case State::kPending:
      state_ = State::kInactive;
      return;
    case State::kFiring:
      if (timing_.keep_firing_for_ms > 0) {
        if (!keep_firing_since_set_) {
          keep_firing_since_set_ = true;
          keep_firing_since_ms_ = time_ms;
        }
        if (time_ms - keep_firing_since_ms_ < timing_.keep_firing_for_ms) {
          return;  // keeps firing
        }
      }
      state_ = State::kInactive;
      keep_firing_since_set_ = false;
      current_.resolved_at_ms = time_ms;
      done_.push_back(current_);
      return;
  }
}

std::vector<AlertEpisode> AlertStateMachine::Episodes() const {
  std::vector<AlertEpisode> all = done_;
  if (state_ == State::kFiring) all.push_back(current_);
  return all;
}

}  // namespace promewma::backtest
