// ReplayTimeline and ReplayRows with a fake clock (no test waits): when
// each row is sent and how it is stamped for --replay, --loop and
// --shift-to-now, bodies decoded with libprotobuf.

#include "csv2rw/live_replay.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "codec/snappy_block.h"
#include "csv2rw/csv_loader.h"
#include "remote.pb.h"

namespace promewma::csv2rw {
namespace {

// Time stands still until the replay sleeps; a sleep moves it to the
// time asked for, and is recorded.
class FakeClock : public ReplayClock {
 public:
  explicit FakeClock(int64_t now) : now_(now) {}
  int64_t NowMs() override { return now_; }
  void SleepUntilMs(int64_t t) override {
    sleeps.push_back(t);
    if (t > now_) now_ = t;
  }
  void Advance(int64_t ms) { now_ += ms; }
  std::vector<int64_t> sleeps;

 private:
  int64_t now_;
};

// A sink that records when (on the fake clock) each body arrived, and
// what it held: "host@stamp=value" per sample.
class RecordingSink : public BatchSink {
 public:
  explicit RecordingSink(FakeClock* clock, int64_t delay_ms = 0)
      : clock_(clock), delay_ms_(delay_ms) {}
  Status Write(std::string_view body, size_t samples) override {
    std::string raw;
    REQUIRE(codec::DecompressSnappyBlock(body, 1 << 20, &raw).ok());
    prometheus::WriteRequest req;
    REQUIRE(req.ParseFromString(raw));
    std::vector<std::string> got;
    size_t n = 0;
    for (const auto& ts : req.timeseries()) {
      std::string host;
      for (const auto& l : ts.labels()) {
        if (l.name() == "host") host = l.value();
      }
      for (const auto& s : ts.samples()) {
        got.push_back(host + "@" + std::to_string(s.timestamp()) + "=" +
                      std::to_string(static_cast<int>(s.value())));
        stamps[host].push_back(s.timestamp());
        ++n;
      }
    }
    CHECK(n == samples);
    at.push_back(clock_->NowMs());
    bodies.push_back(got);
    clock_->Advance(delay_ms_);  // the request takes this long
    return Status::Ok();
  }
  Status Close() override {
    ++closed;
    return Status::Ok();
  }
  std::vector<int64_t> at;
  std::vector<std::vector<std::string>> bodies;
  std::map<std::string, std::vector<int64_t>> stamps;
  int closed = 0;

 private:
  FakeClock* clock_;
  int64_t delay_ms_;
};

std::unique_ptr<SeriesBuilder> Load(const std::string& text) {
  LoadOptions options;
  options.columns.time_columns = {"t"};
  options.columns.value_column = "v";
  options.columns.label_columns = {{"host", "host"}};
  options.time_format = TimeFormat::kEpochSeconds;
  BadRowLog bad_rows("t.csv");
  ProgressBar progress(false, stderr);
  Result<LoadedCsv> loaded = LoadCsv(text, options, &bad_rows, &progress);
  INFO(loaded.status().message());
  REQUIRE(loaded.ok());
  REQUIRE(bad_rows.count() == 0);
  return std::move(loaded->series);
}

// Two hosts, one row each a minute, for three minutes (1000 s onwards).
const char kTwoHosts[] =
    "t,host,v\n"
    "1000,a,10\n1000,b,20\n"
    "1060,a,11\n1060,b,21\n"
    "1120,a,12\n1120,b,22\n";

constexpr int64_t kNow = 1'700'000'000'000;  // the fake wall clock's start

TEST_CASE("replay at 60x: one request per row time, each sent when due") {
  auto series = Load(kTwoHosts);
  FakeClock clock(kNow);
  RecordingSink sink(&clock);
  ReplayOptions options;
  options.speed = 60;  // a minute of history per second
  ReplayStats stats;
  REQUIRE(ReplayRows(*series, 500, options, &clock, &sink, &stats).ok());
  CHECK(sink.at == std::vector<int64_t>{kNow, kNow + 1000, kNow + 2000});
  CHECK(clock.sleeps == std::vector<int64_t>{kNow + 1000, kNow + 2000});
  // Without --shift-to-now the original timestamps are sent.
  CHECK(sink.bodies == std::vector<std::vector<std::string>>{
                           {"a@1000000=10", "b@1000000=20"},
                           {"a@1060000=11", "b@1060000=21"},
                           {"a@1120000=12", "b@1120000=22"}});
  CHECK(stats.samples == 6);
  CHECK(stats.requests == 3);
  CHECK(stats.passes == 1);
  CHECK(sink.closed == 1);
}

TEST_CASE("shift-to-now at 1x: the first row is stamped now, the rest keep "
          "their spacing") {
  auto series = Load(kTwoHosts);
  FakeClock clock(kNow);
  RecordingSink sink(&clock);
  ReplayOptions options;
  options.speed = 1;
  options.shift_to_now = true;
  ReplayStats stats;
  REQUIRE(ReplayRows(*series, 500, options, &clock, &sink, &stats).ok());
  CHECK(sink.at == std::vector<int64_t>{kNow, kNow + 60000, kNow + 120000});
  CHECK(sink.stamps["a"] ==
        std::vector<int64_t>{kNow, kNow + 60000, kNow + 120000});
  CHECK(sink.stamps["b"] == sink.stamps["a"]);
}

TEST_CASE("shift-to-now at 12x: each row is stamped with its send time") {
  auto series = Load(kTwoHosts);
  FakeClock clock(kNow);
  RecordingSink sink(&clock);
  ReplayOptions options;
  options.speed = 12;
  options.shift_to_now = true;
  ReplayStats stats;
  REQUIRE(ReplayRows(*series, 500, options, &clock, &sink, &stats).ok());
  CHECK(sink.at == std::vector<int64_t>{kNow, kNow + 5000, kNow + 10000});
  CHECK(sink.stamps["a"] == sink.at);
}

TEST_CASE("shift-to-now without replay: shifted, sent at once in batches") {
  auto series = Load(kTwoHosts);
  FakeClock clock(kNow);
  RecordingSink sink(&clock);
  ReplayOptions options;
  options.shift_to_now = true;
  ReplayStats stats;
  REQUIRE(ReplayRows(*series, 4, options, &clock, &sink, &stats).ok());
  CHECK(clock.sleeps.empty());
  REQUIRE(sink.bodies.size() == 2);  // 4 + 2 samples
  CHECK(sink.stamps["a"] ==
        std::vector<int64_t>{kNow, kNow + 60000, kNow + 120000});
}

TEST_CASE("end-at-now: the last row is stamped now, sent at once") {
  auto series = Load(kTwoHosts);
  FakeClock clock(kNow);
  RecordingSink sink(&clock);
  ReplayOptions options;
  options.end_at_now = true;
  ReplayStats stats;
  REQUIRE(ReplayRows(*series, 500, options, &clock, &sink, &stats).ok());
  CHECK(clock.sleeps.empty());
  CHECK(sink.stamps["a"] ==
        std::vector<int64_t>{kNow - 120000, kNow - 60000, kNow});
  CHECK(sink.stamps["b"] == sink.stamps["a"]);
}

TEST_CASE("loop: each pass moves the stamps on by the file's span and they "
          "keep growing") {
  auto series = Load(kTwoHosts);
  FakeClock clock(kNow);
  RecordingSink sink(&clock);
  ReplayOptions options;
  options.speed = 60;
  options.loop = true;
  options.max_passes = 3;
  ReplayStats stats;
  std::vector<uint64_t> passes_seen;
  REQUIRE(ReplayRows(*series, 500, options, &clock, &sink, &stats,
                     [&](uint64_t pass, const ReplayStats& s) {
                       passes_seen.push_back(pass);
                       CHECK(s.samples == 6 * (pass + 1));
                     })
              .ok());
  CHECK(passes_seen == std::vector<uint64_t>{0, 1, 2});
  CHECK(stats.passes == 3);
  CHECK(stats.samples == 18);
  // span = last - first + step = 120 s + 60 s: the next pass follows the
  // last row as the next row would.
  CHECK(sink.stamps["a"] ==
        std::vector<int64_t>{1000000, 1060000, 1120000,  //
                             1180000, 1240000, 1300000,  //
                             1360000, 1420000, 1480000});
  // Sent on the same schedule: a row every second at 60x, no pause
  // between passes beyond one step.
  REQUIRE(sink.at.size() == 9);
  for (size_t i = 0; i < sink.at.size(); ++i) {
    CHECK(sink.at[i] == kNow + 1000 * static_cast<int64_t>(i));
  }
}

TEST_CASE("loop with shift-to-now at 12x: stamps follow the send times "
          "across passes") {
  auto series = Load(kTwoHosts);
  FakeClock clock(kNow);
  RecordingSink sink(&clock);
  ReplayOptions options;
  options.speed = 12;
  options.loop = true;
  options.shift_to_now = true;
  options.max_passes = 2;
  ReplayStats stats;
  REQUIRE(ReplayRows(*series, 500, options, &clock, &sink, &stats).ok());
  CHECK(sink.stamps["b"] == std::vector<int64_t>{kNow, kNow + 5000,
                                                 kNow + 10000, kNow + 15000,
                                                 kNow + 20000, kNow + 25000});
  CHECK(sink.stamps["b"] == sink.at);
}

TEST_CASE("a replay behind its schedule catches up in full batches") {
  auto series = Load(kTwoHosts);
  FakeClock clock(kNow);
  // Every request takes 150 s, longer than the file's whole span at 1x.
  RecordingSink sink(&clock, 150000);
  ReplayOptions options;
  options.speed = 1;
  ReplayStats stats;
  REQUIRE(ReplayRows(*series, 3, options, &clock, &sink, &stats).ok());
  CHECK(clock.sleeps.empty());
  // The first row time alone, then everything overdue in batches of 3.
  CHECK(sink.bodies == std::vector<std::vector<std::string>>{
                           {"a@1000000=10", "b@1000000=20"},
                           {"a@1060000=11", "a@1120000=12", "b@1060000=21"},
                           {"b@1120000=22"}});
  CHECK(stats.samples == 6);
}

TEST_CASE("a speed that would stamp two rows in one millisecond is refused") {
  auto series = Load(kTwoHosts);
  ReplayOptions options;
  options.shift_to_now = true;
  options.speed = 60001;  // rows 60 s apart would be < 1 ms apart
  Result<ReplayTimeline> t = ReplayTimeline::Make(series->rows(), options, 0);
  REQUIRE(!t.ok());
  CHECK(t.status().message() ==
        "--replay: at 60001x, rows 60000 ms apart would be stamped in the "
        "same millisecond (with --shift-to-now each row is stamped with its "
        "send time); the largest speed for this file is 60000");
  options.speed = 60000;
  CHECK(ReplayTimeline::Make(series->rows(), options, 0).ok());
  // Without --shift-to-now the stamps are the original ones: any speed.
  options.shift_to_now = false;
  options.speed = 1e9;
  CHECK(ReplayTimeline::Make(series->rows(), options, 0).ok());
}

TEST_CASE("a file with one timestamp loops one second apart") {
  auto series = Load("t,host,v\n1000,a,1\n1000,b,2\n");
  ReplayOptions options;
  options.speed = 1;
  options.loop = true;
  Result<ReplayTimeline> t = ReplayTimeline::Make(series->rows(), options, 0);
  REQUIRE(t.ok());
  CHECK(t->step_ms() == 1000);
  CHECK(t->pass_shift_ms() == 1000);
  CHECK(t->Stamp(1000000, 2) == 1002000);
  CHECK(t->DueMs(1000000, 2) == 2000);
}

}  // namespace
}  // namespace promewma::csv2rw
