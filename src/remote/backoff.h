// Backoff: how long a write-back shard waits before resending a batch that
// failed with a retryable error (5xx, 429, network error).
//
// The schedule is Prometheus' (storage/remote/queue_manager.go,
// sendWriteRequestWithBackoff): the first wait is min_backoff, each further
// wait doubles the previous one, capped at max_backoff. When the server sent
// a Retry-After, that wait is used instead, *as given* (not capped at
// max_backoff, like Prometheus): the server knows its own load, and retrying
// a 429/503 every max_backoff while it asked for a minute is exactly the
// retry storm Retry-After exists to prevent. Doubling then continues from
// the honoured wait (capped again at max_backoff). The caller bounds the
// total time spent retrying (QueueConfig::max_retry_duration), so a huge
// Retry-After ends in giving up the batch, not in a stuck shard.
//
// Everything here is pure and deterministic: no clocks are read and nothing
// sleeps; the caller passes "now" where a date must be interpreted.
//
// Thread-safety: Backoff is a value; one per sender thread.

#ifndef PROMEWMA_WRITEBACK_BACKOFF_H_
#define PROMEWMA_WRITEBACK_BACKOFF_H_

#include <chrono>
#include <optional>
#include <string_view>

namespace promewma::remote {

struct BackoffConfig {
  std::chrono::milliseconds min_backoff{30};   // Prometheus' default
  std::chrono::milliseconds max_backoff{5000};  // Prometheus' default
};

class Backoff {
 public:
  // REQUIRES: 0 < min_backoff <= max_backoff.
  explicit Backoff(BackoffConfig config);

  // The wait before the next attempt, after a failed one. `retry_after` is
  // the server's Retry-After, if it sent a usable (positive) one.
  std::chrono::milliseconds NextDelay(
      std::optional<std::chrono::milliseconds> retry_after = std::nullopt);

  // Back to min_backoff, after a success or before a new batch.
  void Reset();

 private:
  BackoffConfig config_;
  std::chrono::milliseconds next_;  // the wait NextDelay gives without a hint
};

// Parses a Retry-After header value (RFC 9110 section 10.2.3): either a
// number of seconds ("120") or an HTTP date ("Sun, 06 Nov 1994 08:49:37
// GMT"; the obsolete RFC 850 and asctime forms are accepted too), the date
// being interpreted relative to `now`. Returns nullopt for an empty,
// malformed, zero or past value: the caller then uses its own schedule
// (Prometheus does the same for a value that is not positive).
std::optional<std::chrono::milliseconds> ParseRetryAfter(
    std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace promewma::remote

#endif  // PROMEWMA_WRITEBACK_BACKOFF_H_
