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
// from the system tz database, resolved with Howard Hinnant's date/tz
// library. A time that a DST change skips (the spring gap) is a bad time.
// A time that a DST change repeats (the autumn hour) is ambiguous: it is
// taken as its first occurrence (Python's fold=0), unless the previously
// parsed time is already at or past that instant; then it is taken as the
// second occurrence. A time-ordered file therefore maps the repeated hour
// correctly, once through each offset. (Debian's tz files list the changes
// up to 2037; later local times keep the offset of the last one.)
//
// Speed: the fixed-width "YYYY-MM-DD HH:MM:SS" form has a fast path that
// reuses the day number of the previous row when the date is unchanged. An
// IANA zone is looked up once, when it is loaded; the parser keeps the
// span of local times between two DST changes that the last time fell in,
// so a row costs a few nanoseconds and no allocation, and the tz library is
// asked again only when a row leaves that span.
//
// Thread-safety: TimeZone is a value: an IANA zone is a pointer into the
// tz database, which the library loads once and keeps for the process, so
// any number of zones can be used at once, from any thread. A TimeParser is
// not thread-safe (it caches); use one per thread.

#ifndef PROMEWMA_TOOLS_CSV2RW_TIME_PARSER_H_
#define PROMEWMA_TOOLS_CSV2RW_TIME_PARSER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "promewma/status.h"

namespace date {
class time_zone;
}  // namespace date

namespace promewma::csv2rw {

enum class TimeFormat { kAuto, kIso8601, kEpochSeconds, kEpochMillis };

// "auto", "iso8601", "epoch_s" or "epoch_ms".
Result<TimeFormat> ParseTimeFormat(std::string_view name);

class TimeZone {
 public:
  // UTC.
  TimeZone() = default;

  // "UTC", "Z", a fixed offset (+02:00, -0530, +02) or an IANA name found
  // in the system tz database (/usr/share/zoneinfo).
  static Result<TimeZone> Load(std::string_view name);

  bool is_fixed() const { return zone_ == nullptr; }
  int32_t fixed_offset_seconds() const { return fixed_offset_seconds_; }
  const std::string& name() const { return name_; }

  // What a local time is in this zone.
  struct LocalTime {
    enum Kind {
      kUnique,    // one instant: local - offset_seconds
      kSkipped,   // none: a change skips it
      kRepeated,  // two: through offset_seconds, then second_offset_seconds
    };
    Kind kind = kUnique;
    int32_t offset_seconds = 0;
    int32_t second_offset_seconds = 0;
    // kUnique: the local times around it that are unique through the same
    // offset too, [unique_begin, unique_end): up to the next change, less
    // the hour it skips or repeats.
    int64_t unique_begin = 0;
    int64_t unique_end = 0;
  };

  // `local_seconds` are seconds since 1970-01-01T00:00:00 local time.
  LocalTime Resolve(int64_t local_seconds) const;

 private:
  std::string name_ = "UTC";  // as given, for messages
  // An IANA zone, owned by the tz database; null for a fixed offset.
  const date::time_zone* zone_ = nullptr;
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

  // IANA zones: the local times [unique_begin, unique_end) of the last
  // TimeZone::Resolve map to UTC through unique_offset. Empty at first.
  int64_t unique_begin_ = 0;
  int64_t unique_end_ = 0;
  int32_t unique_offset_ = 0;

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
