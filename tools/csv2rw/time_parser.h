// Time parsing for csv2rw: turns the text of a CSV time column (or of
// several, joined with a space) into milliseconds since the Unix epoch.
//
// Formats (--time-format):
//   auto      ISO 8601 when the text starts with YYYY-, otherwise an epoch
//             number: seconds, or milliseconds when it has 12 or more
//             integer digits (1e11 seconds would be the year 5138).
//   iso8601   YYYY-MM-DD, optionally followed by 'T' or ' ' and
//             HH:MM[:SS[.fraction]], optionally followed by a zone: 'Z',
//             +hh:mm, +hhmm or +hh (a space before the zone is allowed).
//             "2024-10-01 00:00:00" (the original project's and NAB's
//             form) is ISO 8601 with a space separator.
//   epoch_s   seconds since 1970-01-01T00:00:00Z, optionally with a
//             fraction ("1700000000.25").
//   epoch_ms  milliseconds, optionally with a fraction.
// Fractions beyond milliseconds are truncated (toward the past), as
// Prometheus stores milliseconds.
//
// Zone-less ISO times are in the --timezone zone: UTC by default, a fixed
// offset ("+02:00", "-0530", "+02"), or an IANA name ("Europe/Berlin")
// from the system tz database. A time that a DST change skips (the spring
// gap) is a bad time. A time that a DST change repeats (the autumn hour) is
// ambiguous: it is taken as its first occurrence (Python's fold=0), unless
// the previously parsed time is already at or past that instant; then it is
// taken as the second occurrence. A time-ordered file therefore maps the
// repeated hour correctly, once through each offset.
//
// Speed: the fixed-width "YYYY-MM-DD HH:MM:SS" form has a fast path that
// reuses the day number of the previous row when the date is unchanged,
// and zone offsets are cached per local hour, so a row costs a few
// nanoseconds and no allocation.
//
// Thread-safety: TimeZone is a value. Loading an IANA zone sets the
// process' TZ variable (the C library's tz functions read it), so only one
// IANA zone can be in use in a process at a time. A TimeParser is not
// thread-safe (it caches); use one per thread.

#ifndef PROMEWMA_TOOLS_CSV2RW_TIME_PARSER_H_
#define PROMEWMA_TOOLS_CSV2RW_TIME_PARSER_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "promewma/status.h"

namespace promewma::csv2rw {

enum class TimeFormat { kAuto, kIso8601, kEpochSeconds, kEpochMillis };

// "auto", "iso8601", "epoch_s" or "epoch_ms".
Result<TimeFormat> ParseTimeFormat(std::string_view name);

class TimeZone {
 public:
  // UTC.
  TimeZone() = default;

  // "UTC", "Z", a fixed offset (+02:00, -0530, +02) or an IANA name found
  // in the tz database ($TZDIR or /usr/share/zoneinfo). Loading an IANA
  // name sets TZ for the process (see the file comment).
  static Result<TimeZone> Load(std::string_view name);

  bool is_fixed() const { return iana_name_.empty(); }
  int32_t fixed_offset_seconds() const { return fixed_offset_seconds_; }
  const std::string& name() const { return name_; }

  // The zone's UTC offset in seconds at the instant `utc_seconds`.
  int32_t OffsetAt(int64_t utc_seconds) const;

 private:
  std::string name_ = "UTC";  // as given, for messages
  std::string iana_name_;     // empty: fixed offset
  int32_t fixed_offset_seconds_ = 0;
};

class TimeParser {
 public:
  TimeParser(TimeFormat format, TimeZone zone);

  // Parses `text` (no surrounding blanks) into *ms. On failure returns
  // false and sets *why to a short reason, such as "month out of range".
  bool Parse(std::string_view text, int64_t* ms, std::string* why);

 private:
  bool ParseIso(std::string_view text, int64_t* ms, std::string* why);
  bool ParseEpoch(std::string_view text, int64_t scale_to_ms, int64_t* ms,
                  std::string* why);
  // Local civil seconds (as if UTC) plus `fraction_ms` -> UTC milliseconds
  // in zone_.
  bool LocalToUtc(int64_t local_seconds, int64_t fraction_ms, int64_t* ms,
                  std::string* why);

  TimeFormat format_;
  TimeZone zone_;

  // The date part of the last fixed-width time and its day number.
  char cached_date_[10] = {};
  int64_t cached_days_ = 0;
  bool has_cached_date_ = false;

  // IANA zones: local hour -> UTC offset, for hours that have one offset
  // throughout (every hour but those of a DST change). Direct-mapped.
  struct HourOffset {
    int64_t local_hour = INT64_MIN;
    int32_t offset_seconds = 0;
  };
  std::array<HourOffset, 64> hour_cache_{};

  // The last successfully parsed time, for ambiguous local times.
  int64_t last_ms_ = INT64_MIN;
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// "2024-10-01T00:00:00Z", with ".123" when the milliseconds are not zero.
std::string FormatTimestampMs(int64_t ms);

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_TIME_PARSER_H_
