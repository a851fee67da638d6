// Durations and byte sizes as written in promewma.yml and on command lines
// (csv2rw --remote-timeout).
//
// Durations use Prometheus' format (model.ParseDuration), so a value can be
// copied between prometheus.yml and promewma.yml: one or more
// <integer><unit> terms with the units
//   y (365d), w (7d), d (24h), h, m, s, ms
// in descending order, each at most once, e.g. "1h30m", "500ms", "15d",
// "2w", "1y". A bare "0" is allowed; any other number needs a unit.
//
// Byte sizes are a plain integer number of bytes or an integer with one of
// the suffixes B, KB, MB, GB, KiB, MiB, GiB. As in Prometheus' own size
// settings (e.g. --storage.tsdb.retention.size), KB/MB/GB are powers of
// 1024, the same as KiB/MiB/GiB: "16MB" == "16MiB" == 16777216.
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_COMMON_DURATION_H_
#define PROMEWMA_COMMON_DURATION_H_

#include <cstdint>
#include <string_view>

#include "promewma/status.h"

namespace promewma {

// Milliseconds in `text`. InvalidArgument (one line, quoting `text`) on a
// syntax error, an unknown or repeated unit, units out of order, or a value
// past INT64_MAX milliseconds.
Result<int64_t> ParseDurationMs(std::string_view text);

// Bytes in `text`. InvalidArgument on a syntax error, an unknown suffix or a
// value past UINT64_MAX bytes.
Result<uint64_t> ParseByteSize(std::string_view text);

}  // namespace promewma

#endif  // PROMEWMA_COMMON_DURATION_H_
