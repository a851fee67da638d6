// csv2rw: backfills CPU history from a CSV file over Prometheus remote
// write. Everything but main lives in csv2rw_lib (command_line.h).

#include "csv2rw/command_line.h"

int main(int argc, char** argv) {
  return promewma::csv2rw::RunCsv2rw(argc, argv);
}
