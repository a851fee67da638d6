// A full disk under the data dir, made for real: a small tmpfs mounted in
// a user and mount namespace of this test process, filled with a file until
// writes fail with ENOSPC. Remote writes get 503 from the disk space guard
// and apply nothing (without the guard RocksDB 7.8 aborts the process on
// the checkpoint's write-ahead log once the disk is full); once the
// file is removed ingest resumes in the same process, checkpoints succeed
// again, and every acknowledged sample reads back exactly once, also after
// the database is reopened.

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/registry.h>

#include "codec/snappy_block.h"
#include "codec/write_request.h"
#include "db/database.h"
#include "http/read_handler.h"
#include "http/write_handler.h"
#include "http/remote_read_all.h"
#include "testing/remote_write.h"
#include "testing/subprocess.h"

namespace promewma::http {
namespace {

constexpr int kSeries = 20;
constexpr int64_t kT0 = 1700000000000;
int64_t TimeAt(int t) { return kT0 + t * 15000; }
double ValueAt(int t, int s) { return 20.0 + (t * 13 + s * 7) % 17; }

std::string Body(int t) {
  std::vector<testing::TestSeries> request;
  for (int s = 0; s < kSeries; ++s) {
    request.push_back({{{"__name__", "cpu"}, {"host", "h" + std::to_string(s)}},
                       {{TimeAt(t), ValueAt(t, s)}}});
  }
  return codec::CompressSnappyBlock(testing::SerializeWriteRequest(request));
}

bool WriteFile(const char* path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  return static_cast<bool>(f);
}

// Mounts a tmpfs of `bytes` on `dir`, visible to this process only. Fails
// the test, naming why, where the machine does not allow it (no
// unprivileged user namespaces, or a process that already has threads).
void MountSmallFilesystem(const std::string& dir, size_t bytes) {
  const uid_t uid = getuid();
  const gid_t gid = getgid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    FAIL("cannot make a small filesystem for the full-disk test: "
         "unshare(CLONE_NEWUSER | CLONE_NEWNS): "
         << std::strerror(errno)
         << " (needs unprivileged user namespaces and a single-threaded "
            "test process)");
  }
  // The same ids inside, so that files keep their owner.
  REQUIRE(WriteFile("/proc/self/setgroups", "deny"));
  REQUIRE(WriteFile("/proc/self/uid_map",
                    std::to_string(uid) + " " + std::to_string(uid) + " 1"));
  REQUIRE(WriteFile("/proc/self/gid_map",
                    std::to_string(gid) + " " + std::to_string(gid) + " 1"));
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
            ("size=" + std::to_string(bytes)).c_str()) != 0) {
    FAIL("cannot mount a tmpfs for the full-disk test: "
         << std::strerror(errno));
  }
}

// Fills the filesystem of `path`'s directory with `path` until a write
// fails with ENOSPC (to the last block).
void FillUp(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  const std::string block(1 << 16, 'x');
  for (size_t size : {size_t{1} << 16, size_t{4096}, size_t{1}}) {
    for (;;) {
      const ssize_t w = write(fd, block.data(), size);
      if (w > 0) continue;
      REQUIRE(w < 0);
      REQUIRE(errno == ENOSPC);
      break;
    }
  }
  close(fd);
}

struct Node {
  std::unique_ptr<db::Database> db;
  prometheus::Registry registry;
  WriteMetrics metrics{registry};
  std::unique_ptr<RemoteWriteHandler> writer;
  std::unique_ptr<RemoteReadHandler> reader;

  explicit Node(const std::string& dir) {
    db::DatabaseOptions options;
    options.dir = dir;
    // RocksDB's buffers well inside the small filesystem.
    options.memtable_bytes = 1 << 20;
    options.block_cache_bytes = 1 << 20;
    options.log_segment_bytes = 1 << 20;
    // The guard under test: a reserve that fits the small filesystem.
    options.min_free_disk_bytes = 4 << 20;
    auto opened = db::Database::Open(options, head::HeadOptions{});
    INFO(opened.status().ToString());
    REQUIRE(opened.ok());
    db = std::move(opened).value();
    db::RecoveryStats stats;
    Status s = db->Recover(&stats);
    INFO(s.ToString());
    REQUIRE(s.ok());
    writer = std::make_unique<RemoteWriteHandler>(db.get(), &metrics,
                                                  WriteLimits{});
    reader = std::make_unique<RemoteReadHandler>(db.get(), ReadLimits{});
  }

  HttpResponse Post(int t) {
    return writer->Handle(
        HttpRequest{"application/x-protobuf", "snappy", Body(t)});
  }

  // host -> the samples of cpu{host} a remote read returns.
  std::map<std::string, std::vector<std::pair<int64_t, double>>> ReadAll() {
    return RemoteReadAll(*reader, "cpu", "host");
  }
};

// Every series holds samples 0..last exactly once.
void RequireAcknowledged(Node& node, int last) {
  const auto read = node.ReadAll();
  REQUIRE(read.size() == kSeries);
  for (int s = 0; s < kSeries; ++s) {
    INFO("host h" << s);
    const auto& samples = read.at("h" + std::to_string(s));
    REQUIRE(samples.size() == static_cast<size_t>(last + 1));
    for (int t = 0; t <= last; ++t) {
      REQUIRE(samples[t].first == TimeAt(t));
      REQUIRE(samples[t].second == ValueAt(t, s));
    }
  }
}

TEST_CASE("a full disk: writes get 503, then ingest resumes without a "
          "restart and every acknowledged sample is there") {
  testing::TempDir tmp;
  const std::string mnt = tmp.path() + "/fs";
  REQUIRE(mkdir(mnt.c_str(), 0755) == 0);
  MountSmallFilesystem(mnt, 32 << 20);
  // So that the temporary directory can be removed after the test.
  struct Unmount {
    const std::string& dir;
    ~Unmount() { umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string data = mnt + "/data";
  const std::string filler = mnt + "/filler";

  int next = 0;
  {
    Node node(data);
    // Enough for sealed chunks in the store (120 samples a chunk) and a
    // checkpoint before the disk fills.
    for (; next < 300; ++next) REQUIRE(node.Post(next).status == 204);
    db::CheckpointStats stats;
    REQUIRE(node.db->Checkpoint(&stats).ok());
    for (; next < 400; ++next) REQUIRE(node.Post(next).status == 204);

    FillUp(filler);
    // The log's last page may still hold a few requests.
    for (int i = 0; i < 100 && node.Post(next).status == 204; ++i) ++next;
    // The sender retries the same request; each attempt is refused whole
    // with a one-line reason, and checkpoints fail without harm.
    for (int attempt = 0; attempt < 3; ++attempt) {
      const HttpResponse r = node.Post(next);
      INFO(r.body);
      REQUIRE(r.status == 503);
      REQUIRE(r.body.find('\n') == r.body.size() - 1);
      REQUIRE(r.body.find("no space left under " + data) != std::string::npos);
      REQUIRE(std::find(r.headers.begin(), r.headers.end(),
                        std::make_pair(std::string("Retry-After"),
                                       std::string("1"))) != r.headers.end());
      Status c = node.db->Checkpoint(&stats);
      INFO(c.ToString());
      REQUIRE(!c.ok());
    }
    // Nothing of the refused request was applied, and what was
    // acknowledged reads back while the disk is full.
    RequireAcknowledged(node, next - 1);

    // Space returns: the same process takes the retry and carries on,
    // through sealed chunks and checkpoints.
    REQUIRE(unlink(filler.c_str()) == 0);
    const auto freed = std::chrono::steady_clock::now();
    for (; next < 700; ++next) {
      const HttpResponse r = node.Post(next);
      INFO("request " << next << ": " << r.body);
      REQUIRE(r.status == 204);
    }
    // A checkpoint succeeds again, in this process.
    Status c = node.db->Checkpoint(&stats);
    while (!c.ok() &&
           std::chrono::steady_clock::now() < freed + std::chrono::seconds(30)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      c = node.db->Checkpoint(&stats);
    }
    INFO(c.ToString());
    REQUIRE(c.ok());
    std::printf("checkpoint succeeded %.1f s after the space returned\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                              freed)
                    .count());
    for (; next < 750; ++next) REQUIRE(node.Post(next).status == 204);
    RequireAcknowledged(node, next - 1);
  }
  // And it was durable: reopened, the same.
  Node reopened(data);
  RequireAcknowledged(reopened, next - 1);
}

}  // namespace
}  // namespace promewma::http
