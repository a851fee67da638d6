// csv2rw's command line: flags -> options, the run, and the exit status.
//
//   csv2rw FILE.csv --url http://127.0.0.1:9201/api/v1/write
//   csv2rw FILE.csv --out DIR
//   csv2rw FILE.csv --dry-run
//
// The run: validate every flag (labels with the model's rules) before
// touching the file; load and check the whole file; report bad rows as
// "FILE:LINE: reason" (at most 20, then a count); unless --skip-bad-rows,
// stop there when there were any, having sent nothing; otherwise send or
// write the batches; print a one-line summary. Every other failure is one
// line "csv2rw: ..." on stderr.
//
// Exit status: 0 done; 1 bad input (the file, its rows) or a failed send;
// 2 a bad flag or flag value.
//
// Thread-safety: RunCsv2rw is the whole program; call it once, from main.

#ifndef PROMEWMA_TOOLS_CSV2RW_COMMAND_LINE_H_
#define PROMEWMA_TOOLS_CSV2RW_COMMAND_LINE_H_

namespace promewma::csv2rw {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

int RunCsv2rw(int argc, char** argv);

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_COMMAND_LINE_H_
