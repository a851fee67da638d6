#include "common/duration.h"

#include <string>

namespace promewma {
namespace {

constexpr int64_t kSecondMs = 1000;
constexpr int64_t kMinuteMs = 60 * kSecondMs;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;

struct DurationUnit {
  std::string_view suffix;
  int64_t ms;
};
// In the only order they may appear. Years and weeks are fixed lengths, as
// in Prometheus (no calendar arithmetic).
constexpr DurationUnit kDurationUnits[] = {
    {"y", 365 * kDayMs}, {"w", 7 * kDayMs}, {"d", kDayMs}, {"h", kHourMs},
    {"m", kMinuteMs},    {"s", kSecondMs},  {"ms", 1},
};
constexpr int kDurationUnitCount =
    sizeof(kDurationUnits) / sizeof(kDurationUnits[0]);

struct SizeUnit {
  std::string_view suffix;
  uint64_t bytes;
};
constexpr SizeUnit kSizeUnits[] = {
    {"B", 1},
    {"KB", 1ull << 10},
    {"KiB", 1ull << 10},
    {"MB", 1ull << 20},
    {"MiB", 1ull << 20},
    {"GB", 1ull << 30},
    {"GiB", 1ull << 30},
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string_view TakeWhile(std::string_view text, size_t* pos,
                           bool (*predicate)(char)) {
  const size_t start = *pos;
  while (*pos < text.size() && predicate(text[*pos])) ++*pos;
  return text.substr(start, *pos - start);
}

// Decimal digits to uint64_t. REQUIRES: digits non-empty, all digits.
bool ParseDigits(std::string_view digits, uint64_t* value) {
  uint64_t v = 0;
  for (char c : digits) {
    if (__builtin_mul_overflow(v, 10u, &v) ||
        __builtin_add_overflow(v, static_cast<uint64_t>(c - '0'), &v)) {
      return false;
    }
  }
  *value = v;
  return true;
}

Status InvalidDuration(std::string_view text, std::string_view problem) {
  std::string msg = "invalid duration \"";
  msg += text;
  msg += "\": ";
  msg += problem;
  return Status::InvalidArgument(std::move(msg));
}

Status InvalidSize(std::string_view text) {
  std::string msg = "invalid size \"";
  msg += text;
  msg +=
      "\": expected an integer number of bytes, optionally followed by B, "
      "KB, MB, GB, KiB, MiB or GiB";
  return Status::InvalidArgument(std::move(msg));
}

// Index of `suffix` in kDurationUnits, or -1.
int FindDurationUnit(std::string_view suffix) {
  for (int i = 0; i < kDurationUnitCount; ++i) {
    if (kDurationUnits[i].suffix == suffix) return i;
  }
  return -1;
}

}  // namespace

Result<int64_t> ParseDurationMs(std::string_view text) {
  if (text == "0")
    return int64_t{0};  // the one unit-less value Prometheus takes
  if (text.empty()) return InvalidDuration(text, "empty duration");

  int64_t total = 0;
  int next_unit = 0;  // units must come in kDurationUnits order
  size_t pos = 0;
  while (pos < text.size()) {
    std::string_view digits = TakeWhile(text, &pos, IsDigit);
    if (digits.empty()) {
      return InvalidDuration(
          text, "expected a number followed by a unit, e.g. 1h30m");
    }
    std::string_view suffix = TakeWhile(text, &pos, IsLetter);
    if (suffix.empty()) {
      if (pos < text.size() && text[pos] == '.') {
        return InvalidDuration(
            text,
            "fractions are not supported, use a smaller unit (90m, not 1.5h)");
      }
      return InvalidDuration(text, "missing unit after " + std::string(digits) +
                                       " (one of ms, s, m, h, d, w, y)");
    }
    const int unit = FindDurationUnit(suffix);
    if (unit < 0) {
      return InvalidDuration(text, "unknown unit \"" + std::string(suffix) +
                                       "\" (one of ms, s, m, h, d, w, y)");
    }
    if (unit < next_unit) {
      return InvalidDuration(
          text,
          "units must appear in the order y w d h m s ms, each at most once");
    }
    next_unit = unit + 1;

    uint64_t count = 0;
    int64_t term = 0;
    if (!ParseDigits(digits, &count) ||
        count > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_mul_overflow(static_cast<int64_t>(count),
                               kDurationUnits[unit].ms, &term) ||
        __builtin_add_overflow(total, term, &total)) {
      return InvalidDuration(text, "out of range");
    }
  }
  return total;
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  size_t pos = 0;
  std::string_view digits = TakeWhile(text, &pos, IsDigit);
  if (digits.empty()) return InvalidSize(text);
  std::string_view suffix = text.substr(pos);

  uint64_t multiplier = 1;
  if (!suffix.empty()) {
    multiplier = 0;
    for (const SizeUnit& unit : kSizeUnits) {
      if (unit.suffix == suffix) multiplier = unit.bytes;
    }
    if (multiplier == 0) return InvalidSize(text);
  }

  uint64_t count = 0;
  uint64_t bytes = 0;
  if (!ParseDigits(digits, &count) ||
      __builtin_mul_overflow(count, multiplier, &bytes)) {
    std::string msg = "invalid size \"";
    msg += text;
    msg += "\": out of range";
    return Status::InvalidArgument(std::move(msg));
  }
  return bytes;
}

}  // namespace promewma
