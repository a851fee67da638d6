#include "common/log.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>

namespace promewma::log {
namespace {

// 2026-12-05T10:00:00.123Z
const std::chrono::system_clock::time_point kTs =
    std::chrono::system_clock::time_point(
        std::chrono::milliseconds(1796464800123));

std::string Value(std::string_view v) {
  std::string out;
  AppendValue(&out, v);
  return out;
}

TEST_CASE("a value is bare unless a reader would split or misread it",
          "[log]") {
  auto [value, written] = GENERATE(table<std::string, std::string>({
      {"plain", "plain"},
      {"http://host:9090/api/v1/write", "http://host:9090/api/v1/write"},
      {"a\\b", "a\\b"},
      {"", "\"\""},
      {"two words", "\"two words\""},
      {"k=v", "\"k=v\""},
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"back\\slash and space", "\"back\\\\slash and space\""},
      {"line\nbreak", "\"line\\nbreak\""},
      {"cr\rtab\t", "\"cr\\rtab\\t\""},
      {std::string("nul\0byte", 8), "\"nul\\u0000byte\""},
      {"bell\x07", "\"bell\\u0007\""},
      {"del\x7f", "\"del\\u007f\""},
      {"caf\xc3\xa9", "caf\xc3\xa9"},
  }));
  INFO(value);
  CHECK(Value(value) == written);
}

TEST_CASE("a line is ts, level, component, msg, then the fields in call order",
          "[log]") {
  CHECK(FormatLine(kTs, Level::kInfo, "checkpoint", "checkpoint written",
                   {{"series", 12},
                    {"bytes", uint64_t{4096}},
                    {"duration", Seconds(0.0042)},
                    {"target", "vm 1"}}) ==
        "ts=2026-12-05T10:00:00.123Z level=info component=checkpoint "
        "msg=\"checkpoint written\" series=12 bytes=4096 duration=0.004s "
        "target=\"vm 1\"");
  CHECK(FormatLine(kTs, Level::kError, "main", "stopped", {}) ==
        "ts=2026-12-05T10:00:00.123Z level=error component=main msg=stopped");
}

TEST_CASE("every level has its name and fields of every kind are text",
          "[log]") {
  CHECK(LevelName(Level::kDebug) == "debug");
  CHECK(LevelName(Level::kInfo) == "info");
  CHECK(LevelName(Level::kWarn) == "warn");
  CHECK(LevelName(Level::kError) == "error");
  CHECK(Field("ok", true).value() == "true");
  CHECK(Field("n", -3).value() == "-3");
  CHECK(Field("ratio", 0.25).value() == "0.25");
  CHECK(Field("s", std::string("x")).value() == "x");
  CHECK(Seconds(std::chrono::milliseconds(1500)) == "1.500s");
}

TEST_CASE("an error message with a newline stays on one line", "[log]") {
  const std::string line = FormatLine(kTs, Level::kWarn, "writeback", "dropped",
                                      {{"err", "500: boom\nstack"}});
  CHECK(line.find('\n') == std::string::npos);
  CHECK_THAT(line, Catch::EndsWith("err=\"500: boom\\nstack\""));
}

// Replaces spdlog's default logger with one writing into a string for the
// test's lifetime, as LogToStderr sets it up (the line as is).
class CapturedLog {
 public:
  explicit CapturedLog(spdlog::level::level_enum level)
      : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>(
        "captured", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
    logger->set_pattern("%v");
    logger->set_level(level);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_CASE("lines below the configured level are not written", "[log]") {
  CapturedLog log(spdlog::level::warn);
  Debug("server", "hidden debug");
  Info("server", "hidden info");
  Warn("writeback", "samples dropped", {{"target", "vm"}});
  Error("store", "write failed");
  CHECK_FALSE(Enabled(Level::kInfo));
  CHECK(Enabled(Level::kWarn));
  const std::string text = log.text();
  CHECK(text.find("hidden") == std::string::npos);
  CHECK(text.find(" level=warn component=writeback msg=\"samples dropped\" "
                  "target=vm\n") != std::string::npos);
  CHECK(text.find(" level=error component=store msg=\"write failed\"\n") !=
        std::string::npos);
  CHECK(text.rfind("ts=", 0) == 0);
}

}  // namespace
}  // namespace promewma::log
