// RemoteReadSource: history for a backtest from a Prometheus remote-read
// endpoint (Prometheus' own /api/v1/read, promewma's, or any other that
// answers SAMPLES): one query with the selector's matchers over
// [start, end], the series that come back as input series.
//
// Thread-safety: a blocking function of its inputs.

#ifndef PROMEWMA_TOOLS_BACKTEST_REMOTE_READ_SOURCE_H_
#define PROMEWMA_TOOLS_BACKTEST_REMOTE_READ_SOURCE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backtest/replay.h"
#include "promewma/status.h"

namespace promewma::backtest {

// Reads the series `selector` selects (PromQL, e.g.
// `cpu_utilization{job="node"}`) with samples in [start_ms, end_ms] from
// the remote-read `url`. Series come back in the order the endpoint sends
// them; samples out of time order or repeated are dropped. Errors are one
// line: a bad URL or selector (InvalidArgument), an HTTP failure or a
// response that does not decode (Unavailable).
Result<std::vector<InputSeries>> ReadRemoteHistory(
    const std::string& url, std::string_view selector, int64_t start_ms,
    int64_t end_ms, std::chrono::seconds timeout);

}  // namespace promewma::backtest

#endif  // PROMEWMA_TOOLS_BACKTEST_REMOTE_READ_SOURCE_H_
