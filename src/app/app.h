// The promewma process: command line, configuration, wiring of the database,
// write-back and HTTP server, signal handling. `main` only calls RunPromewma.

#ifndef PROMEWMA_APP_APP_H_
#define PROMEWMA_APP_APP_H_

#include "config/config.h"
#include "head/head.h"

namespace promewma::app {

// Runs promewma with the given command line; returns the exit status.
int RunPromewma(int argc, char** argv);

// The head options a configuration asks for.
head::HeadOptions HeadOptionsFrom(const config::Config& config);

}  // namespace promewma::app

#endif  // PROMEWMA_APP_APP_H_
