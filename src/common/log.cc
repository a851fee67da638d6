#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>

namespace promewma::log {
namespace {

spdlog::level::level_enum ToSpdlog(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

// go-logfmt's rule: quote what a reader would otherwise split or misread.
bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (unsigned char c : value) {
    if (c <= ' ' || c == '=' || c == '"' || c == 0x7f) return true;
  }
  return false;
}

void AppendPair(std::string* out, std::string_view key,
                std::string_view value) {
  out->push_back(' ');
  out->append(key);
  out->push_back('=');
  AppendValue(out, value);
}

}  // namespace

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "error";
}

Field::Field(std::string_view key, double value)
    : key_(key), value_(fmt::format("{}", value)) {}

std::string Seconds(double seconds) {
  return fmt::format("{:.3f}s", seconds);
}

void AppendValue(std::string* out, std::string_view value) {
  if (!NeedsQuotes(value)) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < ' ' || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out->append(escaped);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string FormatLine(std::chrono::system_clock::time_point ts, Level level,
                       std::string_view component, std::string_view msg,
                       Fields fields) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      ts.time_since_epoch())
                      .count();
  // Floor division: a time before 1970 still gets 0-999 milliseconds.
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm utc;
  gmtime_r(&secs, &utc);
  std::string line = fmt::format(
      "ts={:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", utc.tm_year + 1900,
      utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  AppendPair(&line, "level", LevelName(level));
  AppendPair(&line, "component", component);
  AppendPair(&line, "msg", msg);
  for (const Field& f : fields) AppendPair(&line, f.key(), f.value());
  return line;
}

bool Enabled(Level level) {
  return spdlog::default_logger_raw()->should_log(ToSpdlog(level));
}

void Write(Level level, std::string_view component, std::string_view msg,
           Fields fields) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  const spdlog::level::level_enum l = ToSpdlog(level);
  if (!logger->should_log(l)) return;
  const std::string line = FormatLine(std::chrono::system_clock::now(), level,
                                      component, msg, fields);
  logger->log(l, spdlog::string_view_t(line.data(), line.size()));
}

void LogToStderr(const std::string& level_name) {
  // Not the color sink: a color code inside a logfmt line is noise to a
  // parser, and the level is already a field.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("promewma"));
  spdlog::set_pattern("%v");
  spdlog::set_level(spdlog::level::from_str(level_name));
}

}  // namespace promewma::log
