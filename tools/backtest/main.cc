// backtest: replays CSV history through promewma's engine with a config
// file and an alert rule's timing, and scores the alert episodes against
// labelled anomaly windows (README "Choosing parameters").

#include "backtest/command_line.h"

int main(int argc, char** argv) {
  return promewma::backtest::RunBacktestCommand(argc, argv);
}
