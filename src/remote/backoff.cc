#include "remote/backoff.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>

namespace promewma::remote {

using std::chrono::milliseconds;

Backoff::Backoff(BackoffConfig config)
    : config_(config), next_(config.min_backoff) {}

milliseconds Backoff::NextDelay(std::optional<milliseconds> retry_after) {
  milliseconds delay = next_;
  if (retry_after && retry_after->count() > 0) delay = *retry_after;
  // Double what was actually waited, as Prometheus does, so that after an
  // honoured Retry-After the next unhinted wait is not shorter than the
  // server's last request.
  next_ = delay >= config_.max_backoff / 2 ? config_.max_backoff : delay * 2;
  return delay;
}

void Backoff::Reset() { next_ = config_.min_backoff; }

namespace {

// Retry-After values above this are treated as this: a server asking for
// more than a day is misconfigured, and the cap keeps the arithmetic far
// from overflow.
constexpr int64_t kMaxRetryAfterSeconds = 24 * 3600;

std::optional<milliseconds> ParseSeconds(std::string_view v) {
  int64_t seconds = 0;
  for (char c : v) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    // Saturate instead of overflowing on an absurdly long number.
    seconds = std::min(seconds * 10 + (c - '0'), kMaxRetryAfterSeconds);
  }
  if (seconds == 0) return std::nullopt;
  return milliseconds(seconds * 1000);
}

std::optional<milliseconds> ParseDate(const std::string& v,
                                      std::chrono::system_clock::time_point now) {
  // IMF-fixdate first (what every current server sends), then the two
  // obsolete forms RFC 9110 says a recipient must accept. Day and month
  // names are English: strptime reads them in the C locale, which promewma
  // never changes.
  static const char* const kFormats[] = {
      "%a, %d %b %Y %H:%M:%S GMT",  // Sun, 06 Nov 1994 08:49:37 GMT
      "%A, %d-%b-%y %H:%M:%S GMT",  // Sunday, 06-Nov-94 08:49:37 GMT
      "%a %b %d %H:%M:%S %Y",       // Sun Nov  6 08:49:37 1994
  };
  for (const char* format : kFormats) {
    struct tm tm = {};
    const char* end = strptime(v.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    const time_t at = timegm(&tm);  // the date is GMT, whatever TZ says
    const int64_t now_ms =
        std::chrono::duration_cast<milliseconds>(now.time_since_epoch())
            .count();
    const int64_t wait_ms = static_cast<int64_t>(at) * 1000 - now_ms;
    if (wait_ms <= 0) return std::nullopt;
    return milliseconds(std::min(wait_ms, kMaxRetryAfterSeconds * 1000));
  }
  return std::nullopt;
}

}  // namespace

std::optional<milliseconds> ParseRetryAfter(
    std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  if (value.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(value.front()))) {
    return ParseSeconds(value);
  }
  // A date is at most ~40 bytes; refuse anything much longer unparsed.
  if (value.size() > 64) return std::nullopt;
  return ParseDate(std::string(value), now);
}

}  // namespace promewma::remote
