// WriteBatches and the sinks: batch sizes, per-series time order, bodies
// decoded with libprotobuf (the generated prometheus.WriteRequest) against
// the rows given, the --out directory, and the retry loop of
// RemoteWriteSink with a scripted Sender and a fake clock.

#include "csv2rw/batch_writer.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "codec/snappy_block.h"
#include "csv2rw/csv_loader.h"
#include "remote.pb.h"
#include "testing/subprocess.h"

namespace promewma::csv2rw {
namespace {

using std::chrono::milliseconds;

struct Sample {
  std::string series;  // name{labels}
  int64_t t;
  double v;
  bool operator==(const Sample& o) const {
    return series == o.series && t == o.t &&
           std::memcmp(&v, &o.v, sizeof(v)) == 0;
  }
  bool operator<(const Sample& o) const {
    return std::tie(series, t) < std::tie(o.series, o.t);
  }
};

std::ostream& operator<<(std::ostream& os, const Sample& s) {
  return os << s.series << "@" << s.t << "=" << s.v;
}

std::string SeriesName(const prometheus::TimeSeries& ts) {
  std::string name, labels;
  for (const auto& l : ts.labels()) {
    if (l.name() == "__name__") {
      name = l.value();
    } else {
      labels += (labels.empty() ? "" : ",") + l.name() + "=" + l.value();
    }
  }
  return name + "{" + labels + "}";
}

prometheus::WriteRequest Decode(const std::string& body) {
  std::string raw;
  REQUIRE(codec::DecompressSnappyBlock(body, 1 << 30, &raw).ok());
  prometheus::WriteRequest req;
  REQUIRE(req.ParseFromString(raw));
  return req;
}

std::unique_ptr<SeriesBuilder> LoadText(const std::string& text,
                                        LoadOptions options = {}) {
  BadRowLog bad_rows("t.csv");
  ProgressBar progress(false, stderr);
  Result<LoadedCsv> loaded = LoadCsv(text, options, &bad_rows, &progress);
  INFO(loaded.status().message());
  REQUIRE(loaded.ok());
  REQUIRE(bad_rows.count() == 0);
  return std::move(loaded->series);
}

// Three hosts, seven minutes, rows shuffled; values unique per row.
std::string ThreeHostsCsv(std::vector<Sample>* want) {
  std::vector<std::string> lines;
  for (int minute = 0; minute < 7; ++minute) {
    for (const char* host : {"a", "b", "c"}) {
      const int64_t t = 1727740800000 + minute * 60000;
      const double v = minute * 10 + (host[0] - 'a') + 0.25;
      lines.push_back(std::to_string(t) + "," + host + "," + std::to_string(v));
      want->push_back({std::string("cpu{host=") + host + "}", t, v});
    }
  }
  std::mt19937 rng(7);  // a fixed shuffle
  std::shuffle(lines.begin(), lines.end(), rng);
  std::string text = "time,host,value\n";
  for (const std::string& l : lines) text += l + "\n";
  return text;
}

LoadOptions ThreeHostsOptions() {
  LoadOptions options;
  options.columns.time_columns = {"time"};
  options.columns.label_columns = {{"host", "host"}};
  options.series.metric = "cpu";
  options.time_format = TimeFormat::kEpochMillis;
  return options;
}

TEST_CASE(
    "batches hold at most --batch-size samples, grouped by series, "
    "flowing forward in time") {
  std::vector<Sample> want;
  auto series = LoadText(ThreeHostsCsv(&want), ThreeHostsOptions());
  const size_t batch_size = GENERATE(1, 2, 4, 5, 21, 500);
  INFO("batch size " << batch_size);
  MemorySink sink;
  ProgressBar progress(false, stderr);
  uint64_t written = 0;
  REQUIRE(WriteBatches(*series, batch_size, &sink, &progress, &written).ok());
  CHECK(written == 21);
  CHECK(sink.samples_written == 21);
  CHECK(sink.bodies.size() == (21 + batch_size - 1) / batch_size);

  std::vector<Sample> got;
  std::map<std::string, int64_t> last_time;
  int64_t previous_batch_max = INT64_MIN;
  for (const std::string& body : sink.bodies) {
    const prometheus::WriteRequest req = Decode(body);
    size_t samples = 0;
    std::set<std::string> seen_in_batch;
    int64_t batch_min = INT64_MAX, batch_max = INT64_MIN;
    for (const auto& ts : req.timeseries()) {
      const std::string name = SeriesName(ts);
      // One TimeSeries per series and batch.
      CHECK(seen_in_batch.insert(name).second);
      for (const auto& s : ts.samples()) {
        // Each series' samples arrive in strictly increasing time.
        auto it = last_time.find(name);
        if (it != last_time.end()) CHECK(s.timestamp() > it->second);
        last_time[name] = s.timestamp();
        batch_min = std::min(batch_min, s.timestamp());
        batch_max = std::max(batch_max, s.timestamp());
        got.push_back({name, s.timestamp(), s.value()});
        ++samples;
      }
    }
    CHECK(samples <= batch_size);
    CHECK(samples > 0);
    CHECK(batch_min >= previous_batch_max);  // history flows forward
    previous_batch_max = batch_max;
  }
  // Exactly the rows given: nothing lost, nothing twice.
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  CHECK(got == want);
}

TEST_CASE(
    "the out directory holds the very bodies that would be sent, replayable by "
    "rwbench") {
  std::vector<Sample> want;
  auto series = LoadText(ThreeHostsCsv(&want), ThreeHostsOptions());
  ProgressBar progress(false, stderr);
  MemorySink memory;
  uint64_t written = 0;
  REQUIRE(WriteBatches(*series, 4, &memory, &progress, &written).ok());

  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/out";
  Result<std::unique_ptr<DirectorySink>> sink = DirectorySink::Open(dir);
  REQUIRE(sink.ok());
  written = 0;
  REQUIRE(WriteBatches(*series, 4, sink->get(), &progress, &written).ok());
  CHECK((*sink)->files() == 6);

  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  std::vector<Sample> got;
  for (size_t i = 0; i < memory.bodies.size(); ++i) {
    const std::string path = dir + "/" + DirectorySink::BatchFileName(i);
    REQUIRE(std::filesystem::exists(path));
    const std::string body = read(path);
    CHECK(body == memory.bodies[i]);
    const prometheus::WriteRequest req = Decode(body);
    for (const auto& ts : req.timeseries()) {
      for (const auto& s : ts.samples()) {
        got.push_back({SeriesName(ts), s.timestamp(), s.value()});
      }
    }
  }
  CHECK_FALSE(
      std::filesystem::exists(dir + "/" + DirectorySink::BatchFileName(6)));
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  CHECK(got == want);

  // rwbench's connection file: u32 little-endian length + body, in order.
  const std::string rwb = read(dir + "/connection-0.rwb");
  size_t pos = 0, index = 0;
  while (pos < rwb.size()) {
    REQUIRE(pos + 4 <= rwb.size());
    const auto* p = reinterpret_cast<const unsigned char*>(rwb.data() + pos);
    const size_t n =
        p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<size_t>(p[3]) << 24);
    REQUIRE(index < memory.bodies.size());
    CHECK(rwb.substr(pos + 4, n) == memory.bodies[index]);
    pos += 4 + n;
    ++index;
  }
  CHECK(index == memory.bodies.size());

  // A second run into the same directory would mix two runs.
  CHECK(DirectorySink::Open(dir).status().message() ==
        "--out " + dir +
            ": already holds batch files from an earlier run; remove them or "
            "choose another directory");
  CHECK(DirectorySink::BatchFileName(42) == "batch-00000042.snappy");
}

TEST_CASE("a file the writer thread cannot create fails the run") {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/out";
  Result<std::unique_ptr<DirectorySink>> sink = DirectorySink::Open(dir);
  REQUIRE(sink.ok());
  // A directory where the third batch file goes: creating it fails even
  // for root.
  const std::string blocked = dir + "/" + DirectorySink::BatchFileName(2);
  std::filesystem::create_directory(blocked);
  // Writes are queued, so the failure may surface on a later Write; Close
  // reports it at the latest, and nothing after it is written.
  Status status;
  for (int i = 0; i < 200 && status.ok(); ++i) {
    status = (*sink)->Write("body-" + std::to_string(i), 1);
  }
  const Status closed = (*sink)->Close();
  const Status failure = status.ok() ? closed : status;
  CHECK(failure.message().rfind("cannot create " + blocked + ": ", 0) == 0);
  CHECK(closed.message() == failure.message());
  CHECK((*sink)->files() == 2);
  CHECK_FALSE(
      std::filesystem::exists(dir + "/" + DirectorySink::BatchFileName(3)));
}

// A Sender answering from a script; the last answer repeats.
class ScriptedSender : public remote::Sender {
 public:
  explicit ScriptedSender(std::deque<remote::SendResult> script)
      : script_(std::move(script)) {}
  remote::SendResult Send(std::string_view body) override {
    bodies.emplace_back(body);
    remote::SendResult r = script_.front();
    if (script_.size() > 1) script_.pop_front();
    return r;
  }
  std::vector<std::string> bodies;

 private:
  std::deque<remote::SendResult> script_;
};

remote::SendResult Answer(remote::SendResult::Outcome outcome, int status,
                             std::string reason = "",
                             std::optional<milliseconds> retry_after = {}) {
  remote::SendResult r;
  r.outcome = outcome;
  r.http_status = status;
  r.reason = std::move(reason);
  r.retry_after = retry_after;
  return r;
}

// A clock that only moves when the sink sleeps.
struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  std::vector<milliseconds> sleeps;
  RetryClock clock() {
    RetryClock c;
    c.now = [this] { return now; };
    c.sleep = [this](milliseconds d) {
      sleeps.push_back(d);
      now += d;
    };
    return c;
  }
};

TEST_CASE("RemoteWriteSink retries 5xx, 429 and network errors with backoff") {
  using R = remote::SendResult;
  ScriptedSender sender(
      {Answer(R::kRetry, 500, "boom"),
       Answer(R::kRetry, 0, "connection failed"),
       Answer(R::kRetry, 429, "slow down", milliseconds(2000)),
       Answer(R::kRetry, 503, "busy"), Answer(R::kSent, 204)});
  FakeClock clock;
  RetryPolicy policy;  // 30ms..5s, 5m
  RemoteWriteSink sink(&sender, "http://x/api/v1/write", policy, clock.clock());
  REQUIRE(sink.Write("body-1", 3).ok());
  // 30 ms, doubled to 60 ms, then the server's 2 s, then doubling from it
  // (capped at 5 s).
  CHECK(clock.sleeps ==
        std::vector<milliseconds>{milliseconds(30), milliseconds(60),
                                  milliseconds(2000), milliseconds(4000)});
  CHECK(sender.bodies == std::vector<std::string>(5, "body-1"));
  CHECK(sink.requests() == 1);
  CHECK(sink.retries() == 4);
  // The next batch starts from the minimum again.
  REQUIRE(sink.Write("body-2", 1).ok());
  CHECK(sender.bodies.back() == "body-2");
  CHECK(clock.sleeps.size() == 4);
}

TEST_CASE("RemoteWriteSink fails on other 4xx with the server's reason") {
  using R = remote::SendResult;
  ScriptedSender sender({Answer(R::kDrop, 400, "out of order sample")});
  FakeClock clock;
  RemoteWriteSink sink(&sender, "http://x/api/v1/write", {}, clock.clock());
  const Status s = sink.Write("b", 500);
  CHECK(s.message() ==
        "http://x/api/v1/write refused a batch of 500 samples: HTTP 400: out "
        "of order sample");
  CHECK(sender.bodies.size() == 1);
  CHECK(clock.sleeps.empty());
}

TEST_CASE("RemoteWriteSink gives up after --max-retry-duration") {
  using R = remote::SendResult;
  ScriptedSender sender({Answer(R::kRetry, 0, "connection failed")});
  FakeClock clock;
  RetryPolicy policy;
  policy.max_retry_duration = milliseconds(1000);
  RemoteWriteSink sink(&sender, "http://x/api/v1/write", policy, clock.clock());
  const Status s = sink.Write("b", 1);
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(s.message() ==
        "http://x/api/v1/write: gave up on a batch after retrying for 1s "
        "(--max-retry-duration): connection failed");
  // 30+60+120+240+480 = 930 ms waited; the next wait (960) would pass 1 s.
  CHECK(clock.sleeps.size() == 5);
  CHECK(sender.bodies.size() == 6);

  policy.max_retry_duration = milliseconds(0);  // no retries at all
  ScriptedSender once({Answer(R::kRetry, 503, "busy")});
  RemoteWriteSink no_retry(&once, "u", policy, clock.clock());
  CHECK(no_retry.Write("b", 1).message() ==
        "u: gave up on a batch after retrying for 0ms (--max-retry-duration): "
        "HTTP 503: busy");
  CHECK(once.bodies.size() == 1);
}

TEST_CASE("a failing sink stops the batches") {
  std::vector<Sample> want;
  auto series = LoadText(ThreeHostsCsv(&want), ThreeHostsOptions());
  using R = remote::SendResult;
  ScriptedSender sender({Answer(R::kSent, 204), Answer(R::kSent, 204),
                         Answer(R::kDrop, 400, "no")});
  FakeClock clock;
  RemoteWriteSink sink(&sender, "u", {}, clock.clock());
  ProgressBar progress(false, stderr);
  uint64_t written = 0;
  CHECK(WriteBatches(*series, 5, &sink, &progress, &written).message() ==
        "u refused a batch of 5 samples: HTTP 400: no");
  CHECK(written == 10);
  CHECK(sender.bodies.size() == 3);
}

TEST_CASE("durations in messages") {
  CHECK(FormatDuration(milliseconds(0)) == "0ms");
  CHECK(FormatDuration(milliseconds(500)) == "500ms");
  CHECK(FormatDuration(milliseconds(1500)) == "1500ms");
  CHECK(FormatDuration(milliseconds(30000)) == "30s");
  CHECK(FormatDuration(milliseconds(300000)) == "5m");
  CHECK(FormatDuration(milliseconds(5400000)) == "1h30m");
}

}  // namespace
}  // namespace promewma::csv2rw
