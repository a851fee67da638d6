// The backtest command line: flags, the run over every input file, and the
// summary printed at the end. main.cc only calls RunBacktestCommand.
//
//   backtest FILE.csv... [--config promewma.yml] [--expr upper|score|two-sided]
//            [--for DUR] [--keep-firing-for DUR] [--windows windows.json]
//            [--out-series F.csv] [--out-episodes F.csv] [--plot F.png]
//
// Exit status: 0 when everything ran (whatever the score), 1 when an input
// could not be read or run, 2 on bad flags.
//
// Thread-safety: runs on the calling thread.

#ifndef PROMEWMA_TOOLS_BACKTEST_COMMAND_LINE_H_
#define PROMEWMA_TOOLS_BACKTEST_COMMAND_LINE_H_

namespace promewma::backtest {

int RunBacktestCommand(int argc, char** argv);

}  // namespace promewma::backtest

#endif  // PROMEWMA_TOOLS_BACKTEST_COMMAND_LINE_H_
