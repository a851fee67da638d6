#include "csv2rw/time_parser.h"

#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>

#include "common/one_line.h"

namespace promewma::csv2rw {

namespace {

constexpr char kIsoForm[] = "expected YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+hh:mm]";

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Exactly `n` digits at p.
inline bool ReadDigits(const char* p, int n, int* out) {
  int v = 0;
  for (int i = 0; i < n; ++i) {
    if (!IsDigit(p[i])) return false;
    v = v * 10 + (p[i] - '0');
  }
  *out = v;
  return true;
}

inline bool IsLeapYear(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

inline unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30,
                                         31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

inline int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// "YYYY-MM-DD" at p (10 bytes available) -> days since the epoch.
bool ParseDate(const char* p, int64_t* days, std::string* why) {
  int y, m, d;
  if (!ReadDigits(p, 4, &y) || p[4] != '-' || !ReadDigits(p + 5, 2, &m) ||
      p[7] != '-' || !ReadDigits(p + 8, 2, &d)) {
    *why = kIsoForm;
    return false;
  }
  if (m < 1 || m > 12) {
    *why = "month out of range";
    return false;
  }
  if (d < 1 || static_cast<unsigned>(d) > DaysInMonth(y, m)) {
    *why = "day out of range";
    return false;
  }
  *days = DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return true;
}

bool CheckClock(int h, int mi, int s, std::string* why) {
  if (h > 23) {
    *why = "hour out of range";
    return false;
  }
  if (mi > 59) {
    *why = "minute out of range";
    return false;
  }
  if (s > 59) {
    *why = "second out of range";
    return false;
  }
  return true;
}

// A whole zone designator: "Z", "+hh:mm", "+hhmm" or "+hh" (or '-').
bool ParseOffset(std::string_view s, int32_t* offset_seconds) {
  if (s.size() == 1 && (s[0] == 'Z' || s[0] == 'z')) {
    *offset_seconds = 0;
    return true;
  }
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return false;
  int h = 0, m = 0;
  if (!ReadDigits(s.data() + 1, 2, &h)) return false;
  if (s.size() == 6 && s[3] == ':') {
    if (!ReadDigits(s.data() + 4, 2, &m)) return false;
  } else if (s.size() == 5) {
    if (!ReadDigits(s.data() + 3, 2, &m)) return false;
  } else if (s.size() != 3) {
    return false;
  }
  if (h > 23 || m > 59) return false;
  const int32_t seconds = h * 3600 + m * 60;
  *offset_seconds = s[0] == '-' ? -seconds : seconds;
  return true;
}

// Where Debian's libdate-tz (built with USE_OS_TZDB) reads the tz
// database; it has no setting for another place.
constexpr char kZoneInfoDir[] = "/usr/share/zoneinfo";

// local + offset, kept within int64 for the far ends of the database.
int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? INT64_MAX : INT64_MIN;
  }
  return sum;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::string FormatTimestampMs(int64_t ms) {
  const int64_t seconds = FloorDiv(ms, 1000);
  const int millis = static_cast<int>(ms - seconds * 1000);
  const int64_t days = FloorDiv(seconds, 86400);
  const int64_t sod = seconds - days * 86400;
  // civil_from_days (Howard Hinnant).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
  char buf[64];
  int n = std::snprintf(
      buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02d",
      static_cast<long long>(y), m, d, static_cast<int>(sod / 3600),
      static_cast<int>(sod / 60 % 60), static_cast<int>(sod % 60));
  if (millis != 0) {
    n += std::snprintf(buf + n, sizeof(buf) - n, ".%03d", millis);
  }
  std::snprintf(buf + n, sizeof(buf) - n, "Z");
  return buf;
}

Result<TimeFormat> ParseTimeFormat(std::string_view name) {
  if (name == "auto") return TimeFormat::kAuto;
  if (name == "iso8601") return TimeFormat::kIso8601;
  if (name == "epoch_s") return TimeFormat::kEpochSeconds;
  if (name == "epoch_ms") return TimeFormat::kEpochMillis;
  return Status::InvalidArgument(
      "--time-format: unknown format \"" + EscapeToOneLine(name) +
      "\" (expected auto, iso8601, epoch_s or epoch_ms)");
}

Result<TimeZone> TimeZone::Load(std::string_view name) {
  TimeZone zone;
  zone.name_ = std::string(name);
  if (name == "UTC" || name == "Z" || name == "utc") return zone;
  if (ParseOffset(name, &zone.fixed_offset_seconds_)) return zone;
  try {
    zone.zone_ = date::locate_zone(name);
  } catch (const std::exception& e) {
    // locate_zone throws for a name the database does not list, and
    // get_tzdb (on first use) when there is no database to read.
    const bool unknown = std::string_view(e.what()).find("not found") !=
                         std::string_view::npos;
    if (!unknown) {
      return Status::InvalidArgument(
          "--timezone: cannot load the tz database in " +
          std::string(kZoneInfoDir) + " (is tzdata installed?): " +
          EscapeToOneLine(e.what()));
    }
    return Status::InvalidArgument(
        "--timezone: unknown time zone \"" + EscapeToOneLine(name) +
        "\" (expected UTC, an offset like +02:00, or a name from the tz "
        "database in " +
        std::string(kZoneInfoDir) + ", like Europe/Berlin)");
  }
  return zone;
}

TimeZone::LocalTime TimeZone::Resolve(int64_t local_seconds) const {
  using std::chrono::seconds;
  LocalTime out;
  if (zone_ == nullptr) {
    out.offset_seconds = fixed_offset_seconds_;
    out.unique_begin = INT64_MIN;
    out.unique_end = INT64_MAX;
    return out;
  }
  const date::local_info info =
      zone_->get_info(date::local_seconds(seconds(local_seconds)));
  out.offset_seconds = static_cast<int32_t>(info.first.offset.count());
  switch (info.result) {
    case date::local_info::nonexistent:
      out.kind = LocalTime::kSkipped;
      return out;
    case date::local_info::ambiguous:
      out.kind = LocalTime::kRepeated;
      out.second_offset_seconds =
          static_cast<int32_t>(info.second.offset.count());
      return out;
    case date::local_info::unique:
      break;
  }
  // The local span of this offset is [begin + offset, end + offset). A
  // change that sets the clock back repeats its start or its end in the
  // neighbouring span; those local times are not unique.
  const date::sys_info& span = info.first;
  const int64_t begin = span.begin.time_since_epoch().count();
  const int64_t end = span.end.time_since_epoch().count();
  const int64_t before = zone_->get_info(span.begin - seconds(1)).offset.count();
  const int64_t after = zone_->get_info(span.end).offset.count();
  out.unique_begin = std::max(SaturatingAdd(begin, out.offset_seconds),
                              SaturatingAdd(begin, before));
  out.unique_end = std::min(SaturatingAdd(end, out.offset_seconds),
                            SaturatingAdd(end, after));
  return out;
}

TimeParser::TimeParser(TimeFormat format, TimeZone zone)
    : format_(format), zone_(std::move(zone)) {}

bool TimeParser::Parse(std::string_view text, int64_t* ms, std::string* why) {
  if (text.empty()) {
    *why = "empty time";
    return false;
  }
  bool ok;
  switch (format_) {
    case TimeFormat::kEpochSeconds:
      ok = ParseEpoch(text, 1000, ms, why);
      break;
    case TimeFormat::kEpochMillis:
      ok = ParseEpoch(text, 1, ms, why);
      break;
    case TimeFormat::kIso8601:
      ok = ParseIso(text, ms, why);
      break;
    case TimeFormat::kAuto:
    default:
      if (text.size() >= 5 && IsDigit(text[0]) && IsDigit(text[1]) &&
          IsDigit(text[2]) && IsDigit(text[3]) && text[4] == '-') {
        ok = ParseIso(text, ms, why);
      } else {
        size_t digits = 0;
        size_t i = (text[0] == '-' || text[0] == '+') ? 1 : 0;
        while (i + digits < text.size() && IsDigit(text[i + digits])) ++digits;
        static constexpr char kAutoForms[] =
            "expected ISO 8601 (YYYY-MM-DD[THH:MM:SS][Z|+hh:mm]) or epoch "
            "seconds or milliseconds";
        if (digits == 0) {
          *why = kAutoForms;
          return false;
        }
        ok = ParseEpoch(text, digits >= 12 ? 1 : 1000, ms, why);
        // Not a number after all: say what auto accepts, not what epochs
        // look like.
        if (!ok && why->rfind("expected", 0) == 0) *why = kAutoForms;
      }
      break;
  }
  if (ok) last_ms_ = *ms;
  return ok;
}

bool TimeParser::ParseIso(std::string_view text, int64_t* ms,
                          std::string* why) {
  const size_t n = text.size();
  const char* p = text.data();
  if (n < 10) {
    *why = kIsoForm;
    return false;
  }
  int64_t days;
  if (has_cached_date_ && std::memcmp(p, cached_date_, 10) == 0) {
    days = cached_days_;
  } else {
    if (!ParseDate(p, &days, why)) return false;
    std::memcpy(cached_date_, p, 10);
    cached_days_ = days;
    has_cached_date_ = true;
  }
  int h = 0, mi = 0, s = 0;
  // The fixed-width form of the original project's data and of NAB.
  if (n == 19 && (p[10] == ' ' || p[10] == 'T') && p[13] == ':' &&
      p[16] == ':' && ReadDigits(p + 11, 2, &h) && ReadDigits(p + 14, 2, &mi) &&
      ReadDigits(p + 17, 2, &s)) {
    if (!CheckClock(h, mi, s, why)) return false;
    return LocalToUtc(days * 86400 + h * 3600 + mi * 60 + s, 0, ms, why);
  }

  size_t pos = 10;
  int64_t fraction_ms = 0;
  const bool has_clock = pos + 1 < n &&
                         (p[pos] == 'T' || p[pos] == 't' || p[pos] == ' ') &&
                         IsDigit(p[pos + 1]);
  if (has_clock) {
    ++pos;
    if (pos + 5 > n || !ReadDigits(p + pos, 2, &h) || p[pos + 2] != ':' ||
        !ReadDigits(p + pos + 3, 2, &mi)) {
      *why = kIsoForm;
      return false;
    }
    pos += 5;
    if (pos < n && p[pos] == ':') {
      if (pos + 3 > n || !ReadDigits(p + pos + 1, 2, &s)) {
        *why = kIsoForm;
        return false;
      }
      pos += 3;
      if (pos < n && (p[pos] == '.' || p[pos] == ',')) {
        ++pos;
        const size_t start = pos;
        int kept = 0;
        while (pos < n && IsDigit(p[pos])) {
          if (kept < 3) {
            fraction_ms = fraction_ms * 10 + (p[pos] - '0');
            ++kept;
          }
          ++pos;
        }
        if (pos == start) {
          *why = kIsoForm;
          return false;
        }
        for (; kept < 3; ++kept) fraction_ms *= 10;
      }
    }
    if (!CheckClock(h, mi, s, why)) return false;
  }
  const int64_t local = days * 86400 + h * 3600 + mi * 60 + s;
  if (pos == n) return LocalToUtc(local, fraction_ms, ms, why);

  std::string_view zone = text.substr(pos);
  if (zone.front() == ' ') zone.remove_prefix(1);
  int32_t offset;
  if (zone.empty() || !ParseOffset(zone, &offset)) {
    *why = has_clock ? "bad zone (expected Z, +hh:mm, +hhmm or +hh)"
                     : std::string(kIsoForm);
    return false;
  }
  *ms = (local - offset) * 1000 + fraction_ms;
  return true;
}

bool TimeParser::ParseEpoch(std::string_view text, int64_t scale_to_ms,
                            int64_t* ms, std::string* why) {
  const char* what = scale_to_ms == 1 ? "expected epoch milliseconds"
                                      : "expected epoch seconds";
  size_t i = 0;
  const bool negative = text[0] == '-';
  if (text[0] == '-' || text[0] == '+') ++i;
  // 15 integer digits of seconds or 18 of milliseconds keep the result
  // within int64 milliseconds.
  const size_t max_digits = scale_to_ms == 1 ? 18 : 15;
  int64_t whole = 0;
  size_t digits = 0;
  for (; i < text.size() && IsDigit(text[i]); ++i, ++digits) {
    if (digits == max_digits) {
      *why = "epoch value out of range";
      return false;
    }
    whole = whole * 10 + (text[i] - '0');
  }
  int64_t fraction_ms = 0;
  bool dropped_nonzero = false;
  size_t fraction_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    // Digits worth whole milliseconds: 3 for seconds, 0 for milliseconds.
    const size_t kept = scale_to_ms == 1 ? 0 : 3;
    for (; i < text.size() && IsDigit(text[i]); ++i, ++fraction_digits) {
      if (fraction_digits < kept) {
        fraction_ms = fraction_ms * 10 + (text[i] - '0');
      } else if (text[i] != '0') {
        dropped_nonzero = true;
      }
    }
    for (size_t k = fraction_digits; k < kept; ++k) fraction_ms *= 10;
  }
  if (i != text.size() || digits + fraction_digits == 0) {
    *why = what;
    return false;
  }
  int64_t value = whole * scale_to_ms + fraction_ms;
  if (negative) {
    value = -value;
    if (dropped_nonzero) --value;  // truncate toward the past
  }
  *ms = value;
  return true;
}

bool TimeParser::LocalToUtc(int64_t local_seconds, int64_t fraction_ms,
                            int64_t* ms, std::string* why) {
  if (zone_.is_fixed()) {
    *ms = (local_seconds - zone_.fixed_offset_seconds()) * 1000 + fraction_ms;
    return true;
  }
  if (local_seconds >= unique_begin_ && local_seconds < unique_end_) {
    *ms = (local_seconds - unique_offset_) * 1000 + fraction_ms;
    return true;
  }
  const TimeZone::LocalTime local = zone_.Resolve(local_seconds);
  switch (local.kind) {
    case TimeZone::LocalTime::kUnique:
      unique_begin_ = local.unique_begin;
      unique_end_ = local.unique_end;
      unique_offset_ = local.offset_seconds;
      *ms = (local_seconds - local.offset_seconds) * 1000 + fraction_ms;
      return true;
    case TimeZone::LocalTime::kSkipped:
      *why = "does not exist in " + zone_.name() +
             " (skipped by a daylight saving change)";
      return false;
    case TimeZone::LocalTime::kRepeated:
      break;
  }
  const int64_t first_ms =
      (local_seconds - local.offset_seconds) * 1000 + fraction_ms;
  // The second occurrence once the file is already at or past the first.
  *ms = last_ms_ != INT64_MIN && last_ms_ >= first_ms
            ? (local_seconds - local.second_offset_seconds) * 1000 +
                  fraction_ms
            : first_ms;
  return true;
}

}  // namespace promewma::csv2rw
