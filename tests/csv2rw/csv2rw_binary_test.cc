// The real csv2rw binary: exit codes and the exact one-line messages for a
// missing file, an empty file, a header without the needed columns, bad
// rows, bad flags and an unreachable URL; --out and --dry-run runs.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "codec/snappy_block.h"
#include "promewma/version.h"
#include "remote.pb.h"
#include "testing/peers.h"
#include "testing/subprocess.h"

namespace promewma::csv2rw {
namespace {

using namespace std::chrono_literals;
using testing::RunCommand;
using testing::TempDir;

const std::string kCsv2rw = testing::Csv2rwBinary();

struct Run {
  int status;
  std::string out, err;
};

Run Csv2rw(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), kCsv2rw);
  Run r;
  r.status = RunCommand(args, dir.path(), &r.out, &r.err, 20s);
  return r;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

const char kGoodCsv[] =
    "timestamp,value\n2024-10-01 00:00:00,1.5\n2024-10-01 00:01:00,2.5\n";

TEST_CASE("version and help") {
  TempDir dir;
  Run r = Csv2rw(dir, {"--version"});
  CHECK(r.status == 0);
  CHECK(r.out == std::string("csv2rw ") + kVersion + "\n");
  r = Csv2rw(dir, {"--help"});
  CHECK(r.status == 0);
  for (const char* flag :
       {"--url", "--out", "--dry-run", "--time-column", "--value-column",
        "--time-format", "--timezone", "--metric", "--label", "--label-column",
        "--batch-size", "--skip-bad-rows", "--max-rows-in-memory",
        "--max-retry-duration", "--replay", "--loop", "--shift-to-now", "--end-at-now"}) {
    INFO(flag);
    CHECK(r.out.find(flag) != std::string::npos);
  }
}

TEST_CASE("file problems: one line, exit 1") {
  TempDir dir;
  Run r = Csv2rw(dir, {dir.path() + "/missing.csv", "--dry-run"});
  CHECK(r.status == 1);
  CHECK(r.err == "csv2rw: " + dir.path() +
                     "/missing.csv: cannot open: No such file or directory\n");

  const std::string empty = dir.WriteFile("empty.csv", "");
  r = Csv2rw(dir, {empty, "--url", "http://127.0.0.1:1/api/v1/write"});
  CHECK(r.status == 1);
  CHECK(r.err == "csv2rw: " + empty + ": the file is empty\n");

  const std::string header = dir.WriteFile("header.csv", "time,load\n1,2\n");
  r = Csv2rw(dir, {header, "--dry-run"});
  CHECK(r.status == 1);
  CHECK(r.err == "csv2rw: " + header +
                     ": no time column: expected \"timestamp\" or \"Date\" "
                     "and \"Timestamp\" (or name it with --time-column); the "
                     "header's columns are \"time\", \"load\"\n");

  r = Csv2rw(dir, {dir.path(), "--dry-run"});
  CHECK(r.status == 1);
  CHECK(r.err == "csv2rw: " + dir.path() + ": is a directory\n");

  const std::string only_header =
      dir.WriteFile("only_header.csv", "timestamp,value\n");
  r = Csv2rw(dir, {only_header, "--dry-run"});
  CHECK(r.status == 1);
  CHECK(r.err ==
        "csv2rw: " + only_header + ": no data rows after the header\n");
}

TEST_CASE("a bad row: FILE:LINE: reason, nothing sent, exit 1") {
  TempDir dir;
  const std::string csv =
      dir.WriteFile("bad.csv",
                    "timestamp,value\n2024-10-01 00:00:00,1\n2024-10-01 "
                    "00:01:00,abc\n2024-10-01 00:02:00,3\n");
  // The URL is never contacted: the file is refused first.
  Run r = Csv2rw(dir, {csv, "--url", "http://127.0.0.1:1/api/v1/write"});
  CHECK(r.status == 1);
  CHECK(r.err == csv +
                     ":3: bad value \"abc\" in column value: not a number\n"
                     "csv2rw: " +
                     csv +
                     ": 1 bad row, so nothing was sent (--skip-bad-rows "
                     "skips them)\n");

  r = Csv2rw(dir, {csv, "--dry-run"});
  CHECK(r.status == 1);
  CHECK(r.err == csv +
                     ":3: bad value \"abc\" in column value: not a number\n"
                     "csv2rw: " +
                     csv + ": 1 bad row\n");

  // --skip-bad-rows: still reported, skipped, counted in the summary.
  r = Csv2rw(dir, {csv, "--out", dir.path() + "/out", "--skip-bad-rows"});
  CHECK(r.status == 0);
  INFO(r.err);
  CHECK(StartsWith(r.err, csv +
                              ":3: bad value \"abc\" in column value: not a "
                              "number\ncsv2rw: " +
                              csv + ": 3 rows read, 2 samples written to " +
                              dir.path() +
                              "/out (1 files), 1 series, 1 bad "
                              "rows skipped, 0 duplicate rows "
                              "dropped, "));
  CHECK(std::filesystem::exists(dir.path() + "/out/batch-00000000.snappy"));
  CHECK(std::filesystem::exists(dir.path() + "/out/connection-0.rwb"));
}

TEST_CASE("no valid rows at all is a failure even with --skip-bad-rows") {
  TempDir dir;
  const std::string csv =
      dir.WriteFile("allbad.csv", "timestamp,value\nx,1\ny,2\n");
  const Run r = Csv2rw(dir, {csv, "--dry-run", "--skip-bad-rows"});
  CHECK(r.status == 1);
  CHECK(r.err == csv +
                     ":2: bad time \"x\": expected ISO 8601 "
                     "(YYYY-MM-DD[THH:MM:SS][Z|+hh:mm]) or epoch seconds or "
                     "milliseconds\n" +
                     csv +
                     ":3: bad time \"y\": expected ISO 8601 "
                     "(YYYY-MM-DD[THH:MM:SS][Z|+hh:mm]) or epoch seconds or "
                     "milliseconds\n"
                     "csv2rw: " +
                     csv + ": no valid rows\n");
}

TEST_CASE("stdin is read with FILE -") {
  TempDir dir;
  // The test harness gives the child /dev/null as stdin.
  const Run r = Csv2rw(dir, {"-", "--dry-run"});
  CHECK(r.status == 1);
  CHECK(r.err == "csv2rw: -: the file is empty\n");
}

TEST_CASE("sending: flags become series, headers and auth") {
  // A remote-write receiver that records what it gets.
  httplib::Server server;
  std::mutex mu;
  std::vector<httplib::Request> requests;
  server.Post("/api/v1/write",
              [&](const httplib::Request& req, httplib::Response& res) {
                std::lock_guard<std::mutex> lock(mu);
                requests.push_back(req);
                res.status = 204;
              });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serving([&] { server.listen_after_bind(); });

  TempDir dir;
  const std::string csv = dir.WriteFile(
      "hosts.csv",
      "ts;host;busy\n1727740860;b;2\n1727740800;a;1\n1727740860;a;3\n");
  const std::string token = dir.WriteFile("token", "s3cret\n");
  const Run r =
      Csv2rw(dir, {csv,
                   "--url",
                   "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write",
                   "--delimiter",
                   ";",
                   "--time-column",
                   "ts",
                   "--value-column",
                   "busy",
                   "--time-format",
                   "epoch_s",
                   "--label-column",
                   "host=host",
                   "--metric",
                   "node_cpu",
                   "--label",
                   "job=import",
                   "--header",
                   "X-Scope-OrgID: team-a",
                   "--bearer-token-file",
                   token,
                   "--batch-size",
                   "2"});
  server.stop();
  serving.join();
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(StartsWith(r.err, "csv2rw: " + csv +
                              ": 3 rows read, 3 samples sent (2 requests, 0 "
                              "retries), 2 series, 0 bad rows skipped, 0 "
                              "duplicate rows dropped, "));
  REQUIRE(requests.size() == 2);
  std::vector<std::string> got;
  for (const httplib::Request& req : requests) {
    CHECK(req.get_header_value("X-Scope-OrgID") == "team-a");
    CHECK(req.get_header_value("Authorization") == "Bearer s3cret");
    CHECK(req.get_header_value("Content-Encoding") == "snappy");
    CHECK(req.get_header_value("Content-Type") == "application/x-protobuf");
    CHECK(req.get_header_value("X-Prometheus-Remote-Write-Version") == "0.1.0");
    std::string raw;
    REQUIRE(codec::DecompressSnappyBlock(req.body, 1 << 20, &raw).ok());
    prometheus::WriteRequest wr;
    REQUIRE(wr.ParseFromString(raw));
    std::string batch;
    for (const auto& ts : wr.timeseries()) {
      for (const auto& l : ts.labels())
        batch += l.name() + "=" + l.value() + ",";
      for (const auto& smp : ts.samples()) {
        batch += std::to_string(smp.timestamp()) + ":" +
                 std::to_string(static_cast<int>(smp.value())) + ";";
      }
    }
    got.push_back(batch);
  }
  // In time order across series, two samples a request: a's minute 0 and
  // b's minute 1, grouped by series in first-seen order (b is on the
  // file's first row); then a's minute 1.
  CHECK(got == std::vector<std::string>{
                   "__name__=node_cpu,host=b,job=import,1727740860000:2;"
                   "__name__=node_cpu,host=a,job=import,1727740800000:1;",
                   "__name__=node_cpu,host=a,job=import,1727740860000:3;"});
}

TEST_CASE("bad flags and flag values: one line, exit 2") {
  TempDir dir;
  const std::string csv = dir.WriteFile("good.csv", kGoodCsv);
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{csv},
       "csv2rw: nothing to do: give --url URL, --out DIR or --dry-run\n"},
      {{csv, "--dry-run", "--batch-size", "0"},
       "csv2rw: --batch-size: must be at least 1, got 0\n"},
      {{csv, "--dry-run", "--timezone", "Mars/Olympus"},
       "csv2rw: --timezone: unknown time zone \"Mars/Olympus\" (expected UTC, "
       "an offset like +02:00, or a name from the tz database in "
       "/usr/share/zoneinfo, like Europe/Berlin)\n"},
      {{csv, "--dry-run", "--time-format", "excel"},
       "csv2rw: --time-format: unknown format \"excel\" (expected auto, "
       "iso8601, epoch_s or epoch_ms)\n"},
      {{csv, "--dry-run", "--label", "host"},
       "csv2rw: --label: expected NAME=VALUE, got \"host\"\n"},
      {{csv, "--dry-run", "--label", "a-b=1"},
       "csv2rw: --label: invalid label name \"a-b\" (must match "
       "[a-zA-Z_][a-zA-Z0-9_]*)\n"},
      {{csv, "--dry-run", "--metric", "cpu-util"},
       "csv2rw: --metric: invalid metric name \"cpu-util\" (must match "
       "[a-zA-Z_:][a-zA-Z0-9_:]*)\n"},
      {{csv, "--dry-run", "--label-column", "host"},
       "csv2rw: --label-column: expected LABEL=COLUMN, got \"host\"\n"},
      {{csv, "--url", "htp://x"},
       "csv2rw: --url: scheme must be http or https, got \"htp\"\n"},
      {{csv, "--url", "http://127.0.0.1:99999/w"},
       "csv2rw: --url: port 99999 out of range\n"},
      {{csv, "--url", "http://127.0.0.1:1/w", "--header",
        "Content-Encoding: gzip"},
       "csv2rw: --header Content-Encoding: is reserved: promewma sets it\n"},
      {{csv, "--url", "http://127.0.0.1:1/w", "--bearer-token-file",
        dir.path() + "/absent"},
       "csv2rw: --bearer-token-file: cannot read " + dir.path() +
           "/absent: No such file or directory\n"},
      {{csv, "--url", "http://127.0.0.1:1/w", "--max-retry-duration", "soon"},
       "csv2rw: --max-retry-duration: invalid duration \"soon\": expected a "
       "number followed by a unit, e.g. 1h30m\n"},
      {{csv, "--dry-run", "--delimiter", "ab"},
       "csv2rw: --delimiter: expected one character other than a quote or a "
       "line break (or \"tab\"), got \"ab\"\n"},
      {{csv, "--dry-run", "--out", "x"},
       "csv2rw: --out excludes --dry-run (see --help)\n"},
      {{csv, "--url", "http://127.0.0.1:1/w", "--loop"},
       "csv2rw: --loop: needs --replay SPEED (a loop without pacing never "
       "ends)\n"},
      {{csv, "--out", "x", "--replay", "10"},
       "csv2rw: --replay: needs --url URL\n"},
      {{csv, "--dry-run", "--shift-to-now"},
       "csv2rw: --shift-to-now: needs --url or --out\n"},
      {{csv, "--url", "http://127.0.0.1:1/w", "--replay", "0"},
       "csv2rw: --replay: must be a number > 0, got \"0\"\n"},
      {{csv, "--url", "http://127.0.0.1:1/w", "--end-at-now",
        "--shift-to-now"},
       "csv2rw: --end-at-now: a backfill that ends now, with --url or --out; "
       "not with --shift-to-now, --replay or --dry-run\n"},
      {{csv, "--url", "http://127.0.0.1:1/w", "--replay", "fast"},
       "csv2rw: --replay: must be a number > 0, got \"fast\"\n"},
      {{csv, "--url", "http://127.0.0.1:1/w", "--replay", "120000",
        "--shift-to-now"},
       "csv2rw: --replay: at 120000x, rows 60000 ms apart would be stamped "
       "in the same millisecond (with --shift-to-now each row is stamped "
       "with its send time); the largest speed for this file is 60000\n"},
      {{csv, "--dry-run", "--frobnicate"},
       "csv2rw: The following argument was not expected: --frobnicate (see "
       "--help)\n"},
  };
  for (const auto& [args, want] : cases) {
    INFO(args.back());
    const Run r = Csv2rw(dir, args);
    CHECK(r.status == 2);
    CHECK(r.err == want);
  }
}

TEST_CASE("an unreachable URL fails after the retry bound with one line") {
  TempDir dir;
  const std::string csv = dir.WriteFile("good.csv", kGoodCsv);
  const testing::RefusingLoopbackPort refusing;  // nothing listens there
  const int port = refusing.port();
  const std::string url =
      "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
  const auto start = std::chrono::steady_clock::now();
  const Run r =
      Csv2rw(dir, {csv, "--url", url, "--max-retry-duration", "300ms"});
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  CHECK(r.status == 1);
  CHECK(r.err == "csv2rw: " + url +
                     ": gave up on a batch after retrying for 300ms "
                     "(--max-retry-duration): connection failed (0 of 2 "
                     "samples were sent)\n");
}

TEST_CASE(
    "a dry run checks everything and prints a summary, no progress bar "
    "when stderr is not a terminal") {
  TempDir dir;
  const std::string csv = dir.WriteFile("good.csv", kGoodCsv);
  const Run r = Csv2rw(dir, {csv, "--dry-run"});
  CHECK(r.status == 0);
  CHECK(r.out.empty());
  INFO(r.err);
  CHECK(StartsWith(r.err, "csv2rw: " + csv +
                              ": 2 rows read, 2 samples checked (dry run), 1 "
                              "series, 0 bad rows skipped, 0 duplicate rows "
                              "dropped, "));
  CHECK(r.err.size() > 4);
  CHECK(r.err.substr(r.err.size() - 3) == " s\n");
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find('\r') == std::string::npos);
  CHECK(r.err.find('\x1b') == std::string::npos);
}

}  // namespace
}  // namespace promewma::csv2rw

namespace promewma::csv2rw {
namespace {

TEST_CASE("live replay: --replay --loop --shift-to-now stamps rows with "
          "their send time, pass after pass") {
  // A receiver that records each sample's timestamp with the time it came.
  httplib::Server server;
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> got;  // (stamp, received) ms
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  server.Post("/api/v1/write", [&](const httplib::Request& req,
                                   httplib::Response& res) {
    std::string raw;
    REQUIRE(codec::DecompressSnappyBlock(req.body, 1 << 20, &raw).ok());
    prometheus::WriteRequest wr;
    REQUIRE(wr.ParseFromString(raw));
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& ts : wr.timeseries()) {
      for (const auto& smp : ts.samples()) {
        got.emplace_back(smp.timestamp(), now_ms());
      }
    }
    res.status = 204;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serving([&] { server.listen_after_bind(); });

  TempDir dir;
  // Three rows a minute apart, from 2024; at 600x one every 100 ms.
  const std::string csv = dir.WriteFile(
      "three.csv",
      "timestamp,value\n2024-10-01 00:00:00,1\n2024-10-01 00:01:00,2\n"
      "2024-10-01 00:02:00,3\n");
  const int64_t started = now_ms();
  testing::Subprocess csv2rw(
      {kCsv2rw, csv, "--url",
       "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write",
       "--replay", "600", "--loop", "--shift-to-now"},
      dir.path());
  // Wait (bounded) for three passes, then stop it as a user would.
  for (int i = 0; i < 300; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (got.size() >= 9) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  csv2rw.Signal(SIGINT);
  csv2rw.Wait(10s);
  server.stop();
  serving.join();
  INFO(csv2rw.Stderr());
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(got.size() >= 9);
  // Stamped from the start of the run on, 100 ms apart (a minute at
  // 600x), across the passes too: the next pass follows the last row as a
  // fourth row would.
  CHECK(got[0].first >= started);
  for (size_t i = 1; i < got.size(); ++i) {
    CHECK(got[i].first - got[i - 1].first == 100);
  }
  // Each sample is sent once its stamp has come, not before.
  for (const auto& [stamp, received] : got) CHECK(received >= stamp);
  CHECK(csv2rw.Stderr().find("csv2rw: " + csv +
                             ": pass 1 sent, 3 samples so far\n") !=
        std::string::npos);
  CHECK(csv2rw.Stderr().find("csv2rw: " + csv +
                             ": pass 2 sent, 6 samples so far\n") !=
        std::string::npos);
}

}  // namespace
}  // namespace promewma::csv2rw
