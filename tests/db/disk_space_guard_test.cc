// The disk space guard: below the reserve a request is refused whole with a
// one-line reason and nothing is logged or applied; checkpoints may use
// half of the reserve; once space is back the same process takes the
// retry, and a restart replays exactly what was acknowledged.

#include "db/disk_space_guard.h"

#include <catch2/catch.hpp>
#include <atomic>

#include "codec/snappy_block.h"
#include "db/database.h"
#include "testing/remote_write.h"
#include "testing/subprocess.h"

namespace promewma::db {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string Body(int t) {
  std::vector<testing::TestSeries> request;
  for (int s = 0; s < 5; ++s) {
    request.push_back({{{"__name__", "cpu"}, {"host", "h" + std::to_string(s)}},
                       {{1700000000000 + t * 15000, 10.0 + (t * 7 + s) % 11}}});
  }
  return codec::CompressSnappyBlock(testing::SerializeWriteRequest(request));
}

Status Post(Database& db, int t) {
  const std::string body = Body(t);
  std::string raw;
  codec::DecodedWriteRequest decoded;
  Status s = codec::DecompressSnappyBlock(body, 64 << 20, &raw);
  if (s.ok()) s = codec::DecodeWriteRequest(raw, &decoded);
  head::ApplyResult result;
  if (s.ok()) s = db.Ingest(decoded, body, &result);
  return s;
}

// Timestamp of the newest sample of cpu{host="h0"}, or 0.
int64_t Newest(const Database& db) {
  int64_t newest = 0;
  db.head()->VisitLatest([&](const head::LatestDerived& d) {
    if (d.labels.ToString().find("h0") != std::string::npos)
      newest = d.timestamp_ms;
  });
  return newest;
}

struct Disk {
  std::atomic<uint64_t> free{1024 * kMiB};
  DiskSpaceGuard::FreeSpaceProbe probe() {
    return [this](const std::string&) -> Result<uint64_t> {
      return free.load();
    };
  }
};

std::unique_ptr<Database> OpenDb(const std::string& dir, Disk* disk) {
  DatabaseOptions options;
  options.dir = dir;
  options.min_free_disk_bytes = 100 * kMiB;
  options.free_space_probe = disk->probe();
  auto opened = Database::Open(options, head::HeadOptions{});
  REQUIRE(opened.ok());
  RecoveryStats stats;
  REQUIRE((*opened)->Recover(&stats).ok());
  return std::move(opened).value();
}

TEST_CASE("below the free-space reserve writes are refused whole and resume "
          "once space is back") {
  testing::TempDir tmp;
  Disk disk;
  auto db = OpenDb(tmp.path(), &disk);
  const DiskSpaceGuard& guard = *db->disk_space_guard();
  REQUIRE(Post(*db, 0).ok());
  REQUIRE(Post(*db, 1).ok());
  REQUIRE(guard.last_free_bytes() == 1024 * kMiB);

  disk.free = 60 * kMiB;
  const uint64_t last_seq = db->request_log()->last_seq();
  Status s = Post(*db, 2);
  INFO(s.ToString());
  REQUIRE(s.code() == StatusCode::kUnavailable);
  REQUIRE(s.message().find('\n') == std::string::npos);
  REQUIRE(s.message().find("no space left under " + tmp.path()) !=
          std::string::npos);
  REQUIRE(s.message().find("60.0 MiB free") != std::string::npos);
  REQUIRE(s.message().find("limits.min_free_disk_bytes 100.0 MiB") !=
          std::string::npos);
  // Nothing applied.
  REQUIRE(Newest(*db) == 1700000000000 + 15000);
  REQUIRE(db->request_log()->last_seq() == last_seq);
  REQUIRE(guard.refusals(DiskWrite::kRequest) == 1);
  REQUIRE(guard.last_free_bytes() == 60 * kMiB);

  // A checkpoint gives log space back: it may use half the reserve.
  CheckpointStats stats;
  REQUIRE(db->Checkpoint(&stats).ok());
  disk.free = 40 * kMiB;
  s = db->Checkpoint(&stats);
  REQUIRE(s.code() == StatusCode::kUnavailable);
  REQUIRE(s.message().find("checkpoint needs 50.0 MiB") != std::string::npos);
  REQUIRE(guard.refusals(DiskWrite::kCheckpoint) == 1);
  REQUIRE(db->ApplyRetention(3600 * 1000).code() == StatusCode::kUnavailable);
  REQUIRE(guard.refusals(DiskWrite::kMaintenance) == 1);

  // Space returns: the retry of the same request is taken, no restart.
  disk.free = 100 * kMiB;
  REQUIRE(Post(*db, 2).ok());
  REQUIRE(Post(*db, 3).ok());
  REQUIRE(Newest(*db) == 1700000000000 + 3 * 15000);
  REQUIRE(guard.refusals(DiskWrite::kRequest) == 1);

  // What was acknowledged is what a restart replays.
  db.reset();
  auto reopened = OpenDb(tmp.path(), &disk);
  REQUIRE(Newest(*reopened) == 1700000000000 + 3 * 15000);
}

TEST_CASE("a reserve of 0 never refuses, and a failing probe does not "
          "refuse either") {
  DiskSpaceGuard off("/nowhere", 0, [](const std::string&) -> Result<uint64_t> {
    return uint64_t{0};
  });
  REQUIRE(off.Check(DiskWrite::kRequest).ok());
  REQUIRE(off.refusals(DiskWrite::kRequest) == 0);
  DiskSpaceGuard blind("/nowhere", 100 * kMiB,
                       [](const std::string&) -> Result<uint64_t> {
                         return Status::Unavailable("statvfs failed");
                       });
  REQUIRE(blind.Check(DiskWrite::kRequest).ok());
}

TEST_CASE("statvfs reports the free space of a real directory") {
  testing::TempDir tmp;
  Result<uint64_t> free = DiskSpaceGuard::FreeSpaceOf(tmp.path());
  REQUIRE(free.ok());
  REQUIRE(*free > 0);
  REQUIRE(!DiskSpaceGuard::FreeSpaceOf(tmp.path() + "/missing").ok());
}

}  // namespace
}  // namespace promewma::db
