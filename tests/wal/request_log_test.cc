// The request log's segment files: what is appended replays, in order,
// across segments and reopenings; a checkpoint's truncation deletes only
// covered segments; a torn tail is dropped and anything else that does not
// check out is reported, never replayed.

#include "wal/request_log.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "testing/subprocess.h"

namespace promewma::wal {
namespace {

using testing::TempDir;
using Records = std::vector<std::pair<uint64_t, std::string>>;

std::unique_ptr<RequestLog> OpenLog(const std::string& dir,
                                    size_t segment_bytes = 64 << 20,
                                    FaultInjector* faults = nullptr,
                                    bool fsync = false) {
  RequestLogOptions options;
  options.dir = dir;
  options.segment_bytes = segment_bytes;
  options.faults = faults;
  options.durability = fsync ? Durability::kFsync : Durability::kOs;
  auto log = RequestLog::Open(options);
  INFO(log.status().ToString());
  REQUIRE(log.ok());
  return std::move(log).value();
}

// Bodies of different lengths, so that offsets are not multiples.
std::string BodyOf(uint64_t seq) {
  return "body-" + std::to_string(seq) + std::string(seq % 7, 'x');
}

void AppendRange(RequestLog* log, uint64_t first, uint64_t last) {
  for (uint64_t seq = first; seq <= last; ++seq) {
    Status s = log->Append(seq, BodyOf(seq));
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
}

Status ReplayAll(RequestLog* log, uint64_t after, Records* out) {
  out->clear();
  return log->Replay(after, [&](uint64_t seq, std::string_view body) {
    out->push_back({seq, std::string(body)});
    return Status::Ok();
  });
}

Records Expected(uint64_t first, uint64_t last) {
  Records records;
  for (uint64_t seq = first; seq <= last; ++seq)
    records.push_back({seq, BodyOf(seq)});
  return records;
}

// File offset of record `seq` in a segment whose first record is `first`.
size_t OffsetOf(uint64_t first, uint64_t seq) {
  size_t offset = 0;
  for (uint64_t s = first; s < seq; ++s)
    offset += RequestLog::kRecordHeaderSize + BodyOf(s).size();
  return offset;
}

void FlipByte(const std::string& path, size_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.read(&c, 1);
  c ^= 0x40;
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  REQUIRE(f.good());
}

void AppendBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::app | std::ios::binary);
  f << bytes;
  REQUIRE(f.good());
}

TEST_CASE("appended records replay in order, across reopenings") {
  TempDir dir;
  {
    auto log = OpenLog(dir.path());
    REQUIRE(log->last_seq() == 0);
    AppendRange(log.get(), 1, 10);
    REQUIRE(log->last_seq() == 10);
    Records got;
    REQUIRE(ReplayAll(log.get(), 0, &got).ok());
    REQUIRE(got == Expected(1, 10));
  }
  auto log = OpenLog(dir.path());
  REQUIRE(log->last_seq() == 10);
  // A reopened log appends to a new segment: the old one may be torn.
  AppendRange(log.get(), 11, 12);
  REQUIRE(log->SegmentPaths().size() == 2);
  Records got;
  REQUIRE(ReplayAll(log.get(), 0, &got).ok());
  REQUIRE(got == Expected(1, 12));
  REQUIRE(ReplayAll(log.get(), 7, &got).ok());
  REQUIRE(got == Expected(8, 12));
  REQUIRE(ReplayAll(log.get(), 12, &got).ok());
  REQUIRE(got.empty());
}

TEST_CASE("segments roll over at their size and are named by first seq") {
  TempDir dir;
  // Each record is ~30 bytes: a 100-byte segment holds four.
  auto log = OpenLog(dir.path(), 100);
  AppendRange(log.get(), 1, 20);
  const std::vector<std::string> paths = log->SegmentPaths();
  REQUIRE(paths.size() == 5);
  REQUIRE(std::filesystem::path(paths[0]).filename() ==
          "00000000000000000001.seg");
  REQUIRE(std::filesystem::path(paths[1]).filename() ==
          "00000000000000000005.seg");
  Records got;
  REQUIRE(ReplayAll(log.get(), 6, &got).ok());
  REQUIRE(got == Expected(7, 20));
}

TEST_CASE("truncation deletes exactly the segments a checkpoint covers") {
  TempDir dir;
  auto log = OpenLog(dir.path(), 100);
  AppendRange(log.get(), 1, 20);  // segments 1-4, 5-8, 9-12, 13-16, 17-20
  SECTION("a partly covered segment stays") {
    REQUIRE(log->Truncate(10).ok());
    REQUIRE(log->SegmentPaths().size() == 3);
    REQUIRE(std::filesystem::path(log->SegmentPaths()[0]).filename() ==
            "00000000000000000009.seg");
    Records got;
    REQUIRE(ReplayAll(log.get(), 10, &got).ok());
    REQUIRE(got == Expected(11, 20));
  }
  SECTION("a segment's last record covered: it goes") {
    REQUIRE(log->Truncate(8).ok());
    REQUIRE(std::filesystem::path(log->SegmentPaths()[0]).filename() ==
            "00000000000000000009.seg");
  }
  SECTION("everything covered: all go, numbering goes on") {
    REQUIRE(log->Truncate(20).ok());
    REQUIRE(log->SegmentPaths().empty());
    REQUIRE(std::filesystem::is_empty(dir.path()));
    AppendRange(log.get(), 21, 22);
    Records got;
    REQUIRE(ReplayAll(log.get(), 20, &got).ok());
    REQUIRE(got == Expected(21, 22));
  }
  SECTION("after a reopening") {
    log.reset();
    log = OpenLog(dir.path(), 100);
    REQUIRE(log->Truncate(16).ok());
    REQUIRE(log->SegmentPaths().size() == 1);
    Records got;
    REQUIRE(ReplayAll(log.get(), 16, &got).ok());
    REQUIRE(got == Expected(17, 20));
  }
}

TEST_CASE("a torn tail is dropped at open and what came before replays") {
  TempDir dir;
  std::string path;
  {
    auto log = OpenLog(dir.path());
    AppendRange(log.get(), 1, 5);
    path = log->SegmentPaths().back();
  }
  const auto full = std::filesystem::file_size(path);
  SECTION("the last record cut short in its body") {
    std::filesystem::resize_file(path, full - 3);
  }
  SECTION("only part of the last header written") {
    std::filesystem::resize_file(path, OffsetOf(1, 5) + 6);
  }
  SECTION("the last record's body never reached the disk") {
    FlipByte(path, full - 2);
  }
  SECTION("zeros where the file system had not written yet") {
    std::filesystem::resize_file(path, OffsetOf(1, 5));
    AppendBytes(path, std::string(300, '\0'));
  }
  auto log = OpenLog(dir.path());
  REQUIRE(log->last_seq() == 4);
  REQUIRE(std::filesystem::file_size(path) == OffsetOf(1, 5));
  Records got;
  REQUIRE(ReplayAll(log.get(), 0, &got).ok());
  REQUIRE(got == Expected(1, 4));
  // The dropped seq is taken again by the next request.
  AppendRange(log.get(), 5, 6);
  REQUIRE(ReplayAll(log.get(), 0, &got).ok());
  REQUIRE(got == Expected(1, 6));
}

TEST_CASE("a segment torn before its first record is removed") {
  TempDir dir;
  {
    auto log = OpenLog(dir.path(), 100);
    AppendRange(log.get(), 1, 5);  // 1-4 and 5
  }
  const std::string second = dir.path() + "/00000000000000000005.seg";
  std::filesystem::resize_file(second, 10);
  auto log = OpenLog(dir.path(), 100);
  REQUIRE_FALSE(std::filesystem::exists(second));
  REQUIRE(log->last_seq() == 4);
  AppendRange(log.get(), 5, 5);
  Records got;
  REQUIRE(ReplayAll(log.get(), 0, &got).ok());
  REQUIRE(got == Expected(1, 5));
}

TEST_CASE("damage that is not a torn tail is corruption, never replayed") {
  TempDir dir;
  {
    auto log = OpenLog(dir.path(), 100);
    AppendRange(log.get(), 1, 8);  // 1-4, 5-8
  }
  const std::string first = dir.path() + "/00000000000000000001.seg";
  const std::string second = dir.path() + "/00000000000000000005.seg";
  std::string want;
  SECTION("a flipped body byte in a record with more after it") {
    FlipByte(second, OffsetOf(5, 6) + RequestLog::kRecordHeaderSize + 2);
    want = "request log record 6: checksum mismatch";
  }
  SECTION("a damaged length in the last segment is not taken for a tear") {
    // The length now runs past the end of the file; only the header's own
    // checksum tells this from a write cut short.
    FlipByte(second, OffsetOf(5, 7) + 3);
    want = "request log record 7: malformed record header";
  }
  SECTION("a bad last record of an earlier segment") {
    FlipByte(first, std::filesystem::file_size(first) - 1);
    want = "request log record 4: checksum mismatch";
  }
  SECTION("an earlier segment cut short") {
    std::filesystem::resize_file(first, std::filesystem::file_size(first) - 1);
    want = "request log record 4: cut short";
  }
  SECTION("a missing segment") {
    std::filesystem::remove(first);
    want = "request log records 1 to 4 are missing";
  }
  auto log = OpenLog(dir.path(), 100);
  Records got;
  Status s = ReplayAll(log.get(), 0, &got);
  INFO(s.ToString());
  REQUIRE(s.code() == StatusCode::kCorruption);
  REQUIRE(s.message().rfind(want, 0) == 0);
  // Nothing at or after the bad record was passed on.
  for (const auto& [seq, body] : got) {
    REQUIRE(body == BodyOf(seq));
  }
  REQUIRE(got.size() < 8);
}

class FailNextLogWrite : public FaultInjector {
 public:
  Status BeforeWrite(std::string_view what) override {
    if (what != "log" || !fail) return Status::Ok();
    fail = false;
    return Status::Unavailable("injected: disk full");
  }
  bool fail = false;
};

TEST_CASE("a failed append leaves nothing behind and the seq is taken again") {
  TempDir dir;
  FailNextLogWrite faults;
  auto log = OpenLog(dir.path(), 64 << 20, &faults);
  AppendRange(log.get(), 1, 3);
  faults.fail = true;
  REQUIRE(log->Append(4, "lost").code() == StatusCode::kUnavailable);
  REQUIRE(log->last_seq() == 3);
  AppendRange(log.get(), 4, 5);
  Records got;
  REQUIRE(ReplayAll(log.get(), 0, &got).ok());
  REQUIRE(got == Expected(1, 5));
}

TEST_CASE("with fsync, records and new segments are synced") {
  TempDir dir;
  {
    auto log = OpenLog(dir.path(), 100, nullptr, /*fsync=*/true);
    AppendRange(log.get(), 1, 9);
    REQUIRE(log->Sync().ok());
    REQUIRE(log->Sync().ok());  // nothing new: shared, still fine
  }
  auto log = OpenLog(dir.path(), 100);
  Records got;
  REQUIRE(ReplayAll(log.get(), 0, &got).ok());
  REQUIRE(got == Expected(1, 9));
}

TEST_CASE("files that are not segments are left alone") {
  TempDir dir;
  {
    std::ofstream f(dir.path() + "/notes.txt");
    f << "kept";
  }
  auto log = OpenLog(dir.path());
  AppendRange(log.get(), 1, 2);
  REQUIRE(log->Truncate(2).ok());
  REQUIRE(std::filesystem::exists(dir.path() + "/notes.txt"));
}

TEST_CASE("an unusable log dir is a one-line error") {
  TempDir dir;
  const std::string file = dir.path() + "/file";
  { std::ofstream f(file); }
  RequestLogOptions options;
  options.dir = file + "/log";
  auto log = RequestLog::Open(options);
  REQUIRE_FALSE(log.ok());
  REQUIRE(log.status().message().find("request log dir " + options.dir) == 0);
  REQUIRE(log.status().message().find('\n') == std::string::npos);
}

}  // namespace
}  // namespace promewma::wal
