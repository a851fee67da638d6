// The promewma process: command line, configuration, wiring of engine and
// HTTP server, signal handling. `main` only calls RunPromewma.

#ifndef PROMEWMA_APP_APP_H_
#define PROMEWMA_APP_APP_H_

#include "config/config.h"
#include "ewma/engine.h"

namespace promewma::app {

// Runs promewma with the given command line; returns the exit status.
int RunPromewma(int argc, char** argv);

// The engine options a configuration asks for.
ewma::EngineOptions EngineOptionsFrom(const config::Config& config);

}  // namespace promewma::app

#endif  // PROMEWMA_APP_APP_H_
