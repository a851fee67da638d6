// TimeParser: every format, zones, the --timezone flag (fixed offsets and
// IANA names through the system tz database), DST gaps and repeats, and
// zones as values (several in one process).

#include "csv2rw/time_parser.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace promewma::csv2rw {
namespace {

constexpr int64_t kOct1 = 1727740800000;  // 2024-10-01T00:00:00Z

TimeZone Zone(const std::string& name) {
  Result<TimeZone> zone = TimeZone::Load(name);
  INFO(zone.status().message());
  REQUIRE(zone.ok());
  return *zone;
}

int64_t MustParse(TimeParser* parser, std::string_view text) {
  int64_t ms = 0;
  std::string why;
  INFO(std::string(text) << ": " << why);
  const bool ok = parser->Parse(text, &ms, &why);
  INFO(why);
  REQUIRE(ok);
  return ms;
}

std::string Failure(TimeParser* parser, std::string_view text) {
  int64_t ms = 0;
  std::string why;
  INFO(std::string(text));
  REQUIRE_FALSE(parser->Parse(text, &ms, &why));
  return why;
}

TEST_CASE("ISO 8601 forms in UTC") {
  TimeParser p(TimeFormat::kAuto, TimeZone());
  const std::pair<const char*, int64_t> cases[] = {
      {"2024-10-01 00:00:00", kOct1},
      {"2024-10-01T00:00:00", kOct1},
      {"2024-10-01t00:00:00z", kOct1},
      {"2024-10-01T00:00:00Z", kOct1},
      {"2024-10-01T02:00:00+02:00", kOct1},
      {"2024-10-01T02:00:00+0200", kOct1},
      {"2024-10-01T02:00:00+02", kOct1},
      {"2024-09-30T18:30:00-05:30", kOct1},
      {"2024-10-01 02:00:00 +02:00", kOct1},
      {"2024-10-01T00:00Z", kOct1},
      {"2024-10-01T00:00", kOct1},
      {"2024-10-01", kOct1},
      {"2024-10-01T00:00:00.5Z", kOct1 + 500},
      {"2024-10-01T00:00:00,25", kOct1 + 250},
      {"2024-10-01T00:00:00.123456789+00:00", kOct1 + 123},
      {"2024-10-01 12:34:56", kOct1 + (12 * 3600 + 34 * 60 + 56) * 1000},
      {"2024-02-29 00:00:00", 1709164800000},
      {"1970-01-01 00:00:00", 0},
      {"1969-12-31T23:59:59.999Z", -1},
      {"2014-02-14 14:30:00", 1392388200000},  // NAB's first row
  };
  for (const auto& [text, want] : cases) {
    INFO(text);
    CHECK(MustParse(&p, text) == want);
  }
  TimeParser iso(TimeFormat::kIso8601, TimeZone());
  CHECK(MustParse(&iso, "2024-10-01 00:00:00") == kOct1);
}

TEST_CASE("the fixed-width fast path reuses the date and still checks it") {
  TimeParser p(TimeFormat::kAuto, TimeZone());
  for (int minute = 0; minute < 3 * 1440; ++minute) {
    const int day = 1 + minute / 1440, h = minute % 1440 / 60, m = minute % 60;
    char text[32];
    std::snprintf(text, sizeof(text), "2024-10-%02d %02d:%02d:00", day, h, m);
    REQUIRE(MustParse(&p, text) == kOct1 + minute * 60000LL);
  }
  CHECK(Failure(&p, "2024-10-03 24:00:00") == "hour out of range");
  CHECK(Failure(&p, "2024-10-03 00:60:00") == "minute out of range");
  CHECK(Failure(&p, "2024-10-03 00:00:60") == "second out of range");
}

TEST_CASE("bad ISO times say what is wrong") {
  TimeParser p(TimeFormat::kAuto, TimeZone());
  CHECK(Failure(&p, "2024-13-01 00:00:00") == "month out of range");
  CHECK(Failure(&p, "2024-00-01") == "month out of range");
  CHECK(Failure(&p, "2023-02-29 00:00:00") == "day out of range");
  CHECK(Failure(&p, "2024-04-31") == "day out of range");
  CHECK(Failure(&p, "2024-10-01T00:00:00+25:00") ==
        "bad zone (expected Z, +hh:mm, +hhmm or +hh)");
  CHECK(Failure(&p, "2024-10-01T00:00:00 CEST") ==
        "bad zone (expected Z, +hh:mm, +hhmm or +hh)");
  const std::string iso = "expected YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+hh:mm]";
  CHECK(Failure(&p, "2024-10-1") == iso);
  CHECK(Failure(&p, "2024-10-01T0:00") == iso);
  CHECK(Failure(&p, "2024-10-01T00:00:00.") == iso);
  CHECK(Failure(&p, "2024/10/01") ==
        "expected ISO 8601 (YYYY-MM-DD[THH:MM:SS][Z|+hh:mm]) or epoch seconds "
        "or milliseconds");
  CHECK(Failure(&p, "10/01/2024 00:00") ==
        "expected ISO 8601 (YYYY-MM-DD[THH:MM:SS][Z|+hh:mm]) or epoch seconds "
        "or milliseconds");
  CHECK(Failure(&p, "yesterday") ==
        "expected ISO 8601 (YYYY-MM-DD[THH:MM:SS][Z|+hh:mm]) or epoch seconds "
        "or milliseconds");
  CHECK(Failure(&p, "") == "empty time");
  TimeParser iso_only(TimeFormat::kIso8601, TimeZone());
  CHECK(Failure(&iso_only, "1727740800") == iso);
}

TEST_CASE("epoch seconds and milliseconds") {
  TimeParser automatic(TimeFormat::kAuto, TimeZone());
  CHECK(MustParse(&automatic, "1727740800") == kOct1);
  CHECK(MustParse(&automatic, "1727740800.25") == kOct1 + 250);
  CHECK(MustParse(&automatic, "1727740800.0001") == kOct1);
  CHECK(MustParse(&automatic, "1727740800123") == kOct1 + 123);   // 13 digits
  CHECK(MustParse(&automatic, "99999999999") == 99999999999000);  // 11: s
  CHECK(MustParse(&automatic, "100000000000") == 100000000000);   // 12: ms
  CHECK(MustParse(&automatic, "0") == 0);
  CHECK(MustParse(&automatic, "-1.5") == -1500);
  CHECK(MustParse(&automatic, "-1.0001") == -1001);  // toward the past

  TimeParser seconds(TimeFormat::kEpochSeconds, TimeZone());
  CHECK(MustParse(&seconds, "1727740800") == kOct1);
  CHECK(MustParse(&seconds, "1727740800.999999") == kOct1 + 999);
  CHECK(MustParse(&seconds, "+1727740800") == kOct1);
  CHECK(Failure(&seconds, "1727740800x") == "expected epoch seconds");
  CHECK(Failure(&seconds, "1.7e9") == "expected epoch seconds");
  CHECK(Failure(&seconds, ".") == "expected epoch seconds");
  CHECK(Failure(&seconds, "2024-10-01") == "expected epoch seconds");
  CHECK(Failure(&seconds, "1234567890123456") == "epoch value out of range");

  TimeParser millis(TimeFormat::kEpochMillis, TimeZone());
  CHECK(MustParse(&millis, "1727740800000") == kOct1);
  CHECK(MustParse(&millis, "1727740800") == 1727740800);  // no guessing
  CHECK(MustParse(&millis, "1727740800000.9") == kOct1);
  CHECK(Failure(&millis, "abc") == "expected epoch milliseconds");
}

TEST_CASE("time formats by name") {
  CHECK(ParseTimeFormat("auto").value() == TimeFormat::kAuto);
  CHECK(ParseTimeFormat("iso8601").value() == TimeFormat::kIso8601);
  CHECK(ParseTimeFormat("epoch_s").value() == TimeFormat::kEpochSeconds);
  CHECK(ParseTimeFormat("epoch_ms").value() == TimeFormat::kEpochMillis);
  CHECK(ParseTimeFormat("rfc3339").status().message() ==
        "--time-format: unknown format \"rfc3339\" (expected auto, iso8601, "
        "epoch_s or epoch_ms)");
}

TEST_CASE("a fixed-offset --timezone applies to zone-less times only") {
  for (const char* name : {"+02:00", "+0200", "+02"}) {
    TimeParser p(TimeFormat::kAuto, Zone(name));
    CHECK(MustParse(&p, "2024-10-01 02:00:00") == kOct1);
    CHECK(MustParse(&p, "2024-10-01T02:00:00.5") == kOct1 + 500);
    CHECK(MustParse(&p, "2024-10-01T00:00:00Z") == kOct1);  // zone wins
    CHECK(MustParse(&p, "1727740800") == kOct1);            // epochs are UTC
  }
  TimeParser minus(TimeFormat::kAuto, Zone("-05:30"));
  CHECK(MustParse(&minus, "2024-09-30 18:30:00") == kOct1);
  TimeParser utc(TimeFormat::kAuto, Zone("UTC"));
  CHECK(MustParse(&utc, "2024-10-01 00:00:00") == kOct1);
}

TEST_CASE("an IANA --timezone uses the tz database") {
  TimeParser p(TimeFormat::kAuto, Zone("Europe/Berlin"));
  // Summer (CEST, +2) and winter (CET, +1), both through the hour cache:
  // the second parse of each hour is served from it.
  for (int i = 0; i < 2; ++i) {
    CHECK(MustParse(&p, "2024-07-01 12:00:00") ==
          MustParse(&p, "2024-07-01T10:00:00Z"));
    CHECK(MustParse(&p, "2024-01-15 12:30:00") ==
          MustParse(&p, "2024-01-15T11:30:00Z"));
  }
  CHECK(MustParse(&p, "2024-10-01 02:00:00") == kOct1);
  // An explicit zone in the text wins over --timezone.
  CHECK(MustParse(&p, "2024-10-01T00:00:00Z") == kOct1);
}

TEST_CASE("IANA zones with half-hour offsets") {
  TimeParser p(TimeFormat::kAuto, Zone("Asia/Kolkata"));
  CHECK(MustParse(&p, "2024-10-01 05:30:00") == kOct1);
  CHECK(MustParse(&p, "2024-10-01 05:59:59") == kOct1 + 1799000);
}

TEST_CASE("a time skipped by a DST change is a bad time") {
  TimeParser p(TimeFormat::kAuto, Zone("Europe/Berlin"));
  // 2024-03-31: clocks go from 02:00 CET straight to 03:00 CEST.
  CHECK(MustParse(&p, "2024-03-31 01:59:00") ==
        MustParse(&p, "2024-03-31T00:59:00Z"));
  CHECK(Failure(&p, "2024-03-31 02:30:00") ==
        "does not exist in Europe/Berlin (skipped by a daylight saving "
        "change)");
  CHECK(MustParse(&p, "2024-03-31 03:00:00") ==
        MustParse(&p, "2024-03-31T01:00:00Z"));
}

TEST_CASE(
    "a time repeated by a DST change: first occurrence, then the "
    "second once time has moved past the first") {
  // 2024-10-27: clocks go from 03:00 CEST back to 02:00 CET, so 02:00-02:59
  // happens twice: at 00:00-00:59Z and at 01:00-01:59Z.
  SECTION("alone, the first occurrence") {
    TimeParser p(TimeFormat::kAuto, Zone("Europe/Berlin"));
    TimeParser utc(TimeFormat::kAuto, TimeZone());
    CHECK(MustParse(&p, "2024-10-27 02:30:00") ==
          MustParse(&utc, "2024-10-27T00:30:00Z"));
  }
  SECTION("a time-ordered file maps the repeated hour through both offsets") {
    TimeParser p(TimeFormat::kAuto, Zone("Europe/Berlin"));
    TimeParser utc(TimeFormat::kAuto, TimeZone());
    const std::pair<const char*, const char*> rows[] = {
        {"2024-10-27 01:30:00", "2024-10-26T23:30:00Z"},
        {"2024-10-27 02:00:00", "2024-10-27T00:00:00Z"},
        {"2024-10-27 02:30:00", "2024-10-27T00:30:00Z"},
        {"2024-10-27 02:00:00", "2024-10-27T01:00:00Z"},
        {"2024-10-27 02:30:00", "2024-10-27T01:30:00Z"},
        {"2024-10-27 03:00:00", "2024-10-27T02:00:00Z"},
    };
    for (const auto& [local, want] : rows) {
      INFO(local);
      CHECK(MustParse(&p, local) == MustParse(&utc, want));
    }
  }
}

TEST_CASE("zones are values: two IANA zones used alternately in one process") {
  TimeParser berlin(TimeFormat::kAuto, Zone("Europe/Berlin"));
  TimeParser new_york(TimeFormat::kAuto, Zone("America/New_York"));
  TimeParser utc(TimeFormat::kAuto, TimeZone());
  // Loading a third zone changes neither.
  TimeParser kolkata(TimeFormat::kAuto, Zone("Asia/Kolkata"));
  for (int round = 0; round < 2; ++round) {
    CHECK(MustParse(&berlin, "2024-07-01 12:00:00") ==
          MustParse(&utc, "2024-07-01T10:00:00Z"));
    CHECK(MustParse(&new_york, "2024-07-01 12:00:00") ==
          MustParse(&utc, "2024-07-01T16:00:00Z"));
    CHECK(MustParse(&kolkata, "2024-07-01 12:00:00") ==
          MustParse(&utc, "2024-07-01T06:30:00Z"));
    CHECK(MustParse(&berlin, "2024-01-15 12:00:00") ==
          MustParse(&utc, "2024-01-15T11:00:00Z"));
    CHECK(MustParse(&new_york, "2024-01-15 12:00:00") ==
          MustParse(&utc, "2024-01-15T17:00:00Z"));
  }
  // Each zone has its own DST dates: 2024-03-10 02:30 is skipped in New
  // York and is an ordinary winter time in Berlin.
  CHECK(Failure(&new_york, "2024-03-10 02:30:00") ==
        "does not exist in America/New_York (skipped by a daylight saving "
        "change)");
  CHECK(MustParse(&berlin, "2024-03-10 02:30:00") ==
        MustParse(&utc, "2024-03-10T01:30:00Z"));
  // A zone can be used from another thread while this one uses its own.
  int64_t other = 0;
  std::thread([&] {
    TimeParser p(TimeFormat::kAuto, Zone("America/New_York"));
    other = MustParse(&p, "2024-07-01 12:00:00");
  }).join();
  CHECK(other == MustParse(&utc, "2024-07-01T16:00:00Z"));
  CHECK(MustParse(&berlin, "2024-07-01 12:00:00") ==
        MustParse(&utc, "2024-07-01T10:00:00Z"));
}

TEST_CASE("a time-ordered file across both changes of a year, minute by "
          "minute") {
  TimeParser p(TimeFormat::kAuto, Zone("Europe/Berlin"));
  TimeParser utc(TimeFormat::kAuto, TimeZone());
  auto local = [](const char* day, int minute) {
    char text[32];
    std::snprintf(text, sizeof(text), "%s %02d:%02d:00", day, minute / 60,
                  minute % 60);
    return std::string(text);
  };
  SECTION("spring: 02:00-02:59 does not exist, the rest is one minute apart") {
    int64_t previous = MustParse(&utc, "2024-03-30T23:00:00Z") - 60000;
    for (int minute = 0; minute < 5 * 60; ++minute) {
      const std::string text = local("2024-03-31", minute);
      INFO(text);
      if (minute >= 120 && minute < 180) {
        CHECK_THAT(Failure(&p, text), Catch::StartsWith("does not exist"));
        continue;
      }
      const int64_t ms = MustParse(&p, text);
      CHECK(ms == previous + 60000);
      previous = ms;
    }
  }
  SECTION("autumn: 02:00-02:59 twice, each instant once, in order") {
    std::vector<std::string> rows;
    for (int minute = 0; minute < 3 * 60; ++minute) {
      rows.push_back(local("2024-10-27", minute));  // through 02:59 CEST
    }
    for (int minute = 120; minute < 5 * 60; ++minute) {
      rows.push_back(local("2024-10-27", minute));  // 02:00 CET onwards
    }
    int64_t want = MustParse(&utc, "2024-10-26T22:00:00Z");
    for (const std::string& row : rows) {
      INFO(row);
      CHECK(MustParse(&p, row) == want);
      want += 60000;
    }
  }
}

TEST_CASE("unknown zones are refused clearly") {
  for (const char* name : {"Europe/Berln", "Mars/Base", "../etc/passwd", "",
                           "+25:00", "/usr/share/zoneinfo/UTC"}) {
    INFO(name);
    Result<TimeZone> zone = TimeZone::Load(name);
    REQUIRE_FALSE(zone.ok());
    CHECK(zone.status().message().rfind(
              std::string("--timezone: unknown time zone \""), 0) == 0);
  }
  CHECK(TimeZone::Load("Europe/Berln").status().message() ==
        "--timezone: unknown time zone \"Europe/Berln\" (expected UTC, an "
        "offset like +02:00, or a name from the tz database in "
        "/usr/share/zoneinfo, like Europe/Berlin)");
}

TEST_CASE("civil dates and timestamps for messages") {
  CHECK(DaysFromCivil(1970, 1, 1) == 0);
  CHECK(DaysFromCivil(1969, 12, 31) == -1);
  CHECK(DaysFromCivil(2000, 3, 1) == 11017);
  CHECK(DaysFromCivil(2024, 10, 1) == kOct1 / 86400000);
  CHECK(FormatTimestampMs(kOct1) == "2024-10-01T00:00:00Z");
  CHECK(FormatTimestampMs(kOct1 + 5) == "2024-10-01T00:00:00.005Z");
  CHECK(FormatTimestampMs(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(FormatTimestampMs(951782400000) == "2000-02-29T00:00:00Z");
}

}  // namespace
}  // namespace promewma::csv2rw
