// Log: promewma's log lines, one event per line in logfmt, the format of
// Prometheus' own logs (go-kit), so the same parsers and Loki queries read
// both:
//
//   ts=2026-12-05T10:00:00.123Z level=info component=checkpoint
//     msg="checkpoint written" series=1 bytes=230 seq=4 duration=0.004s
//
// (one line; broken here to fit).
//
// Fields come in that order: ts (UTC, milliseconds), level (debug, info,
// warn, error), component (the part of promewma speaking: main, server,
// write, read, writeback, checkpoint, store, wal, warmstart, notify, ...),
// msg (short and stable: what happened, never the data), then the call's
// fields in the order given. What an event concerns (a target, a shard, an
// endpoint, a count, an error) is a field, not part of msg, so lines can be
// filtered by it.
//
// A value is written bare unless it is empty or holds a space, '=', '"' or
// a control byte; then it is quoted, with '"' and '\' escaped and newline,
// carriage return and tab written as \n, \r, \t (other control bytes as
// \u00XX), so an event is always one line.
//
// Lines go to spdlog's default logger at the matching level, so its level
// filter (the log_level setting) decides what is written; LogToStderr sets
// that logger up to print the line as is.
//
// Thread-safety: all functions may be called from any thread; the line is
// written whole (spdlog's sinks lock).

#ifndef PROMEWMA_COMMON_LOG_H_
#define PROMEWMA_COMMON_LOG_H_

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace promewma::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// The name a line shows after level=.
std::string_view LevelName(Level level);

// One key=value pair of a line. The value is kept as text.
// REQUIRES: key is non-empty and holds no space, '=', '"' or control byte
// (keys are literals in our code: snake_case words).
class Field {
 public:
  Field(std::string_view key, std::string_view value)
      : key_(key), value_(value) {}
  Field(std::string_view key, const char* value) : key_(key), value_(value) {}
  Field(std::string_view key, const std::string& value)
      : key_(key), value_(value) {}
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                             int> = 0>
  Field(std::string_view key, T value)
      : key_(key), value_(std::to_string(value)) {}
  Field(std::string_view key, bool value)
      : key_(key), value_(value ? "true" : "false") {}
  // Shortest text that reads back as the same double.
  Field(std::string_view key, double value);

  std::string_view key() const { return key_; }
  const std::string& value() const { return value_; }

 private:
  std::string_view key_;  // a literal at every call site
  std::string value_;
};

using Fields = std::initializer_list<Field>;

// A duration as Prometheus' logs show it: seconds with a unit, to the
// millisecond ("0.004s").
std::string Seconds(double seconds);
template <typename Rep, typename Period>
std::string Seconds(std::chrono::duration<Rep, Period> d) {
  return Seconds(std::chrono::duration<double>(d).count());
}

// Appends `value` to `out` as a logfmt value: bare, or quoted and escaped
// when it must be (see the top of this file).
void AppendValue(std::string* out, std::string_view value);

// The whole line for one event, without the trailing newline.
std::string FormatLine(std::chrono::system_clock::time_point ts, Level level,
                       std::string_view component, std::string_view msg,
                       Fields fields);

// Whether a line at `level` would be written (so that a costly field is
// only computed when it would be).
bool Enabled(Level level);

// Formats the event with the current time and hands it to spdlog's default
// logger, unless its level filter drops it.
void Write(Level level, std::string_view component, std::string_view msg,
           Fields fields = {});

inline void Debug(std::string_view component, std::string_view msg,
                  Fields fields = {}) {
  Write(Level::kDebug, component, msg, fields);
}
inline void Info(std::string_view component, std::string_view msg,
                 Fields fields = {}) {
  Write(Level::kInfo, component, msg, fields);
}
inline void Warn(std::string_view component, std::string_view msg,
                 Fields fields = {}) {
  Write(Level::kWarn, component, msg, fields);
}
inline void Error(std::string_view component, std::string_view msg,
                  Fields fields = {}) {
  Write(Level::kError, component, msg, fields);
}

// Makes spdlog's default logger write each line as is to stderr (stdout
// stays for command output, as in Prometheus), dropping lines below
// `level_name` ("debug", "info", "warn", "error"; spdlog's names).
void LogToStderr(const std::string& level_name);

}  // namespace promewma::log

#endif  // PROMEWMA_COMMON_LOG_H_
