// The request log and recovery: what was acknowledged survives a restart
// and the EWMA state continues as if nothing happened; failures and
// corruption are reported, never silently replayed.

#include "db/database.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "codec/crc32c.h"
#include "codec/snappy_block.h"
#include "codec/xor_chunk.h"
#include "common/thread_role.h"
#include "store/checkpoint_record.h"
#include "wal/request_log.h"
#include "testing/remote_write.h"
#include "testing/slow_store.h"
#include "testing/subprocess.h"

namespace promewma::db {
namespace {

using testing::TempDir;

// A request for `series` series at time step t (15 s apart).
std::string Body(int t, int series = 20) {
  std::vector<testing::TestSeries> request;
  for (int s = 0; s < series; ++s) {
    request.push_back(
        {{{"__name__", "cpu"}, {"host", "h" + std::to_string(s)}},
         {{1700000000000 + t * 15000, 10.0 + (t * 7 + s * 3) % 11}}});
  }
  return codec::CompressSnappyBlock(testing::SerializeWriteRequest(request));
}

Status IngestBody(Database& ingester, const std::string& body,
                  head::ApplyResult* result) {
  std::string raw;
  Status s = codec::DecompressSnappyBlock(body, 64 << 20, &raw);
  codec::DecodedWriteRequest decoded;
  if (s.ok()) s = codec::DecodeWriteRequest(raw, &decoded);
  if (s.ok()) s = ingester.Ingest(decoded, body, result);
  return s;
}

using Latest = std::map<std::string, std::tuple<int64_t, double, double>>;
Latest LatestOf(const head::Head& engine) {
  Latest out;
  engine.VisitLatest([&](const head::LatestDerived& d) {
    out[d.labels.ToString()] = {
        d.timestamp_ms, d.values.get(ewma::Output::kEwma),
        d.values.has(ewma::Output::kUpperThreshold)
            ? d.values.get(ewma::Output::kUpperThreshold)
            : -1};
  });
  return out;
}

std::unique_ptr<Database> OpenStore(const std::string& dir,
                                    FaultInjector* faults = nullptr,
                                    head::HeadOptions head_options = {}) {
  DatabaseOptions options;
  options.dir = dir;
  options.faults = faults;
  auto db = Database::Open(options, std::move(head_options));
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  return std::move(db).value();
}

// One "process" on a data dir: its database, that has recovered, and the
// database's head.
struct Running {
  explicit Running(const std::string& dir, FaultInjector* faults = nullptr)
      : store(OpenStore(dir, faults)),
        engine(*store->head()),
        ingester(*store) {
    Status s = ingester.Recover(&recovery);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  std::unique_ptr<Database> store;
  head::Head& engine;
  Database& ingester;
  RecoveryStats recovery;
};

TEST_CASE("a restart replays the log: state continues exactly") {
  TempDir dir;
  Database reference{head::HeadOptions{}};
  head::Head& uninterrupted = *reference.head();
  head::ApplyResult result;
  {
    Running run(dir.path() + "/data");
    auto& [store, engine, ingester, stats] = run;
    REQUIRE(stats.requests == 0);
    for (int t = 0; t < 30; ++t) {
      REQUIRE(IngestBody(ingester, Body(t), &result).ok());
      REQUIRE(IngestBody(reference, Body(t), &result).ok());
    }
    REQUIRE(store->request_log()->last_seq() == 30);
  }  // the process "stops"

  auto store = OpenStore(dir.path() + "/data");
  REQUIRE(store->request_log()->last_seq() == 30);
  head::Head& engine = *store->head();
  Database& ingester = *store;
  RecoveryStats stats;
  REQUIRE(ingester.Recover(&stats).ok());
  REQUIRE(stats.requests == 30);
  REQUIRE(stats.samples == 600);
  REQUIRE(LatestOf(engine) == LatestOf(uninterrupted));
  // ... and it goes on exactly like the uninterrupted run.
  for (int t = 30; t < 40; ++t) {
    REQUIRE(IngestBody(ingester, Body(t), &result).ok());
    REQUIRE(IngestBody(reference, Body(t), &result).ok());
  }
  REQUIRE(LatestOf(engine) == LatestOf(uninterrupted));
  REQUIRE(store->request_log()->last_seq() == 40);
}

TEST_CASE("requests wait for recovery: 503-style Unavailable before it") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Database& ingester = *store;
  head::ApplyResult result;
  Status s = IngestBody(ingester, Body(0), &result);
  REQUIRE(s.code() == StatusCode::kUnavailable);
  REQUIRE(s.message().find("replaying") != std::string::npos);
  RecoveryStats stats;
  REQUIRE(ingester.Recover(&stats).ok());
  REQUIRE(IngestBody(ingester, Body(0), &result).ok());
}

TEST_CASE("an invalid request is neither logged nor applied") {
  TempDir dir;
  Running run(dir.path());
  auto& [store, engine, ingester, stats] = run;
  const std::string bad = codec::CompressSnappyBlock(
      testing::SerializeWriteRequest({{{{"__name__", "cpu"}}, {{1, 1}}},
                                      {{{"job", "no-name"}}, {{1, 1}}}}));
  head::ApplyResult result;
  REQUIRE(IngestBody(ingester, bad, &result).code() ==
          StatusCode::kInvalidArgument);
  REQUIRE(store->request_log()->last_seq() == 0);
  REQUIRE(engine.active_series() == 0);
}

class FailingWrites : public FaultInjector {
 public:
  Status BeforeWrite(std::string_view what) override {
    ++writes;
    return fail ? Status::Unavailable(std::string(what) +
                                      ": injected: disk full")
                : Status::Ok();
  }
  bool fail = false;
  int writes = 0;
};

TEST_CASE("a failed log write applies nothing and the retry is exact") {
  TempDir dir;
  FailingWrites faults;
  Running run(dir.path(), &faults);
  auto& [store, engine, ingester, stats] = run;
  head::ApplyResult result;
  REQUIRE(IngestBody(ingester, Body(0), &result).ok());
  const Latest before = LatestOf(engine);

  faults.fail = true;
  Status s = IngestBody(ingester, Body(1), &result);
  REQUIRE(s.code() == StatusCode::kUnavailable);
  REQUIRE(s.message() ==
          "cannot log the request, nothing applied: log: injected: disk full");
  REQUIRE(LatestOf(engine) == before);
  REQUIRE(store->request_log()->last_seq() == 1);

  faults.fail = false;  // the sender retries
  REQUIRE(IngestBody(ingester, Body(1), &result).ok());
  REQUIRE(result.applied == 20);
  REQUIRE(store->request_log()->last_seq() == 2);
}

TEST_CASE("a corrupted log record is reported with its seq, never replayed") {
  TempDir dir;
  {
    Running run(dir.path());
    auto& [store, engine, ingester, stats] = run;
    head::ApplyResult result;
    for (int t = 0; t < 5; ++t)
      REQUIRE(IngestBody(ingester, Body(t), &result).ok());
  }
  // Record 3's body: the segment holds records 1 to 5, back to back.
  size_t offset = 0, body_size = 0;
  std::string segment;
  {
    auto store = OpenStore(dir.path());
    REQUIRE(store->request_log()->SegmentPaths().size() == 1);
    segment = store->request_log()->SegmentPaths()[0];
    REQUIRE(store
                ->request_log()->Replay(0,
                                 [&](uint64_t seq, std::string_view body) {
                                   if (seq < 3) {
                                     offset += wal::RequestLog::kRecordHeaderSize +
                                               body.size();
                                   } else if (seq == 3) {
                                     body_size = body.size();
                                   }
                                   return Status::Ok();
                                 })
                .ok());
  }
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    const auto at = static_cast<std::streamoff>(
        offset + wal::RequestLog::kRecordHeaderSize + body_size / 2);
    char c;
    f.seekg(at);
    f.read(&c, 1);
    c ^= 0x20;
    f.seekp(at);
    f.write(&c, 1);
    REQUIRE(f.good());
  }
  auto store = OpenStore(dir.path());
  Database& ingester = *store;
  RecoveryStats stats;
  Status s = ingester.Recover(&stats);
  REQUIRE(s.code() == StatusCode::kCorruption);
  REQUIRE(s.message().find("request log record 3: checksum mismatch") == 0);
  REQUIRE(stats.requests == 2);  // records 1 and 2 only
  head::ApplyResult result;
  REQUIRE(IngestBody(ingester, Body(9), &result).code() ==
          StatusCode::kUnavailable);  // not serving on a broken log
}

TEST_CASE("one data dir, one process") {
  TempDir dir;
  auto first = OpenStore(dir.path());
  DatabaseOptions options;
  options.dir = dir.path();
  auto second = Database::Open(options, head::HeadOptions{});
  REQUIRE_FALSE(second.ok());
  REQUIRE(second.status().message().find("is in use by another process") !=
          std::string::npos);
}

TEST_CASE("an unusable data dir is a clear error") {
  TempDir dir;
  const std::string file = dir.WriteFile("not-a-dir", "x");
  DatabaseOptions options;
  options.dir = file + "/data";
  auto store = Database::Open(options, head::HeadOptions{});
  REQUIRE_FALSE(store.ok());
  REQUIRE(store.status().message().find(file) != std::string::npos);
}

}  // namespace
}  // namespace promewma::db

namespace promewma::db {
namespace {

std::string CpuLabels(int s) {
  const std::string host = "h" + std::to_string(s);  // outlives the views
  std::vector<model::Label> l = {{"__name__", "cpu"}, {"host", host}};
  std::string out;
  REQUIRE(model::EncodeLabelSet(&l, &out).ok());
  return out;
}

// All samples of stored series (series s, kind) in [start, end].
// Which series of the input a read wants: raw (nullopt) or an output.
using Kind = std::optional<ewma::Output>;
constexpr Kind kRaw = std::nullopt;

std::vector<std::pair<int64_t, double>> ReadBack(Database& ingester,
                                                 int s, Kind kind,
                                                 int64_t start, int64_t end,
                                                 Status* status) {
  const std::string labels = CpuLabels(s);
  std::vector<std::pair<int64_t, double>> out;
  *status = ingester.ReadSeries(
      model::HashLabelSet(labels), labels, kind, start, end,
      [&](const store::ChunkView& chunk) {
        std::vector<std::pair<int64_t, double>> samples;
        Status d = codec::DecodeXorChunk(chunk.bytes, &samples);
        if (!d.ok()) return d;
        for (const auto& p : samples) {
          if (p.first >= start && p.first <= end) out.push_back(p);
        }
        return Status::Ok();
      });
  return out;
}

TEST_CASE("raw and derived chunks are stored and read back, across restarts") {
  TempDir dir;
  std::vector<std::pair<int64_t, double>> want;
  for (int t = 0; t < 300; ++t) {
    want.push_back({1700000000000 + t * 15000, 10.0 + (t * 7 + 0 * 3) % 11});
  }
  const int64_t start = want.front().first, end = want.back().first;
  std::vector<std::pair<int64_t, double>> ewma_before;
  {
    Running run(dir.path());
    auto& [store, engine, ingester, stats] = run;
    head::ApplyResult result;
    for (int t = 0; t < 300; ++t)
      REQUIRE(IngestBody(ingester, Body(t), &result).ok());
    Status s;
    REQUIRE(ReadBack(ingester, 0, kRaw, start, end, &s) == want);
    REQUIRE(s.ok());
    ewma_before = ReadBack(ingester, 0, Kind(ewma::Output::kEwma),
                           start, end, &s);
    REQUIRE(ewma_before.size() == 300);
    // A window in the middle gets exactly its samples.
    auto middle = ReadBack(ingester, 0, kRaw, want[130].first,
                           want[140].first, &s);
    REQUIRE(middle == std::vector<std::pair<int64_t, double>>(
                          want.begin() + 130, want.begin() + 141));
  }
  Running run(dir.path());
  auto& [store, engine, ingester, stats] = run;
  Status s;
  REQUIRE(ReadBack(ingester, 0, kRaw, start, end, &s) == want);
  REQUIRE(ReadBack(ingester, 0, Kind(ewma::Output::kEwma), start,
                   end, &s) == ewma_before);

  SECTION("a corrupted chunk is reported with its key, never returned") {
    REQUIRE(store
                ->store()
                ->CorruptChunksForTest(model::HashLabelSet(CpuLabels(0)), 20)
                .ok());
    auto got = ReadBack(ingester, 0, kRaw, start, end, &s);
    REQUIRE(s.code() == StatusCode::kCorruption);
    REQUIRE(s.message().find("checksum mismatch") != std::string::npos);
    REQUIRE(s.message().find("chunk ") == 0);
    REQUIRE(got.empty());
  }
}

}  // namespace
}  // namespace promewma::db

namespace promewma::db {
namespace {

// Runs `steps` requests Body(first..) through an ingester on `dir`.
void IngestRange(Database& ingester, int first, int last) {
  head::ApplyResult result;
  for (int t = first; t < last; ++t)
    REQUIRE(IngestBody(ingester, Body(t), &result).ok());
}

Latest Uninterrupted(int steps) {
  Database reference{head::HeadOptions{}};
  head::Head& engine = *reference.head();
  IngestRange(reference, 0, steps);
  return LatestOf(engine);
}

TEST_CASE("a checkpoint bounds replay and state and chunks continue exactly") {
  TempDir dir;
  {
    Running run(dir.path());
    auto& [store, engine, ingester, rs] = run;
    IngestRange(ingester, 0, 130);
    CheckpointStats cs;
    REQUIRE(ingester.Checkpoint(&cs).ok());
    REQUIRE(cs.series == 20);
    REQUIRE(cs.seq == 130);
    IngestRange(ingester, 130, 140);
    // The log holds only what came after the checkpoint.
    int records = 0;
    REQUIRE(store
                ->request_log()->Replay(130,
                                 [&](uint64_t seq, std::string_view) {
                                   REQUIRE(seq > 130);
                                   ++records;
                                   return Status::Ok();
                                 })
                .ok());
    REQUIRE(records == 10);
    Status gone = store->request_log()->Replay(
        0, [](uint64_t, std::string_view) { return Status::Ok(); });
    REQUIRE(gone.code() == StatusCode::kCorruption);
    REQUIRE(gone.message().rfind("request log records 1 to 130 are missing",
                                 0) == 0);
  }
  Running run(dir.path());
  auto& [store, engine, ingester, rs] = run;
  REQUIRE(rs.checkpoint_series == 20);
  REQUIRE(rs.requests == 10);
  REQUIRE(LatestOf(engine) == Uninterrupted(140));
  IngestRange(ingester, 140, 300);
  REQUIRE(LatestOf(engine) == Uninterrupted(300));
  // Every raw sample, across sealed chunks and the resumed head chunk.
  Status s;
  auto raw = ReadBack(ingester, 3, kRaw, INT64_MIN, INT64_MAX, &s);
  REQUIRE(s.ok());
  REQUIRE(raw.size() == 300);
  for (int t = 0; t < 300; ++t) {
    REQUIRE(raw[t].first == 1700000000000 + t * 15000);
    REQUIRE(raw[t].second == 10.0 + (t * 7 + 3 * 3) % 11);
  }
}

TEST_CASE("replaying requests a snapshot already holds changes nothing") {
  // What a checkpoint taken during ingest looks like: some series' snapshots
  // include request 120 (which seals their first chunks), others do not.
  Database in_before{head::HeadOptions{}}, in_after{head::HeadOptions{}};
  head::Head& before = *in_before.head();
  head::Head& after = *in_after.head();
  IngestRange(in_before, 0, 120);
  IngestRange(in_after, 0, 121);
  std::map<std::string, head::SeriesSnapshot> mixed;
  int n = 0;
  before.VisitSnapshots([&](const head::SeriesSnapshot& s) {
    if (n++ % 2 == 0) mixed[s.labels] = s;
  });
  after.VisitSnapshots([&](const head::SeriesSnapshot& s) {
    if (mixed.count(s.labels) == 0) mixed[s.labels] = s;
  });
  REQUIRE(mixed.size() == 20);

  Database ingester{head::HeadOptions{}};
  head::Head& restored = *ingester.head();
  std::vector<head::SealedChunk> none;
  for (const auto& [labels, snapshot] : mixed) {
    REQUIRE(restored.Restore(snapshot, &none).ok());
  }
  REQUIRE(none.empty());
  // The replay starts at request 120 and goes on; the old request 119 comes
  // round again too, as if the checkpoint had started earlier.
  IngestRange(ingester, 119, 300);
  REQUIRE(LatestOf(restored) == Uninterrupted(300));
  Database in_reference{head::HeadOptions{}};
  IngestRange(in_reference, 0, 300);
  for (int series = 0; series < 20; ++series) {
    for (Kind kind : {kRaw,
                         Kind(ewma::Output::kEwma)}) {
      Status s1, s2;
      // Chunks sealed before the snapshot are in `before`/`after`'s memory,
      // not the restored head's: compare from the first chunk on.
      auto got = ReadBack(ingester, series, kind, 1700000000000 + 120 * 15000,
                          INT64_MAX, &s1);
      auto want = ReadBack(in_reference, series, kind,
                           1700000000000 + 120 * 15000, INT64_MAX, &s2);
      REQUIRE(s1.ok());
      REQUIRE(s2.ok());
      REQUIRE(got == want);
      REQUIRE(got.size() == 180);
    }
  }
}

TEST_CASE("checkpoints taken while requests arrive restore exactly") {
  TempDir dir;
  int checkpoints = 0;
  {
    Running run(dir.path());
    auto& [store, engine, ingester, rs] = run;
    std::atomic<bool> done{false};
    // Catch2's assertions are not thread-safe: the writer keeps its first
    // failure and the test asserts it after the join.
    std::string writer_error;
    std::thread writer([&, &ingester = ingester] {
      head::ApplyResult result;
      for (int t = 0; t < 400; ++t) {
        Status s = IngestBody(ingester, Body(t), &result);
        if (!s.ok()) {
          writer_error = "request " + std::to_string(t) + ": " + s.ToString();
          break;
        }
      }
      done = true;
    });
    while (!done) {
      CheckpointStats cs;
      REQUIRE(ingester.Checkpoint(&cs).ok());
      ++checkpoints;
    }
    writer.join();
    REQUIRE(writer_error == "");
  }  // stops without a final checkpoint: the log tail is replayed
  Running run(dir.path());
  auto& [store, engine, ingester, rs] = run;
  INFO(checkpoints << " checkpoints, " << rs.requests << " requests replayed");
  REQUIRE(checkpoints > 0);
  REQUIRE(LatestOf(engine) == Uninterrupted(400));
  Status s;
  auto raw = ReadBack(ingester, 7, kRaw, INT64_MIN, INT64_MAX, &s);
  REQUIRE(s.ok());
  REQUIRE(raw.size() == 400);
  for (int t = 0; t < 400; ++t) {
    REQUIRE(raw[t].first == 1700000000000 + t * 15000);
  }
}

TEST_CASE("a read derives the outputs of sealed chunks not stored yet") {
  // Without a store sealed chunks stay pending: the window between a
  // request publishing its sealed chunks and storing them, held open. The
  // outputs come from each raw chunk's derivation.
  Database ingester{head::HeadOptions{}};
  Database reference_ingester{head::HeadOptions{}};
  head::Head& reference = *reference_ingester.head();
  head::ApplyResult result;
  std::vector<std::pair<int64_t, double>> want_ewma;
  for (int t = 0; t < 300; ++t) {  // two sealed heads a series, and a head
    REQUIRE(IngestBody(ingester, Body(t), &result).ok());
  }
  // The reference: each output value as /metrics would show it after
  // every step, from an engine fed one request at a time.
  for (int t = 0; t < 300; ++t) {
    REQUIRE(IngestBody(reference_ingester, Body(t), &result).ok());
    for (const auto& [labels, latest] : LatestOf(reference)) {
      if (labels.find("\"h4\"") == std::string::npos) continue;
      want_ewma.push_back({std::get<0>(latest), std::get<1>(latest)});
    }
  }
  Status s;
  const auto raw = ReadBack(ingester, 4, kRaw, INT64_MIN, INT64_MAX, &s);
  REQUIRE(s.ok());
  REQUIRE(raw.size() == 300);
  const auto ewma_read = ReadBack(ingester, 4,
                                  Kind(ewma::Output::kEwma),
                                  INT64_MIN, INT64_MAX, &s);
  REQUIRE(s.ok());
  REQUIRE(ewma_read == want_ewma);
}

TEST_CASE("reads while chunks are sealed see every sample exactly once") {
  // Sealed chunks are published under the ingest lock, then written after
  // it is released. Until they are stored, a read finds them in memory
  // (deriving their outputs), and once stored maybe in both places, and
  // must return them once. 300
  // series seal together every 120 requests, so each of those windows is
  // long enough to be caught.
  TempDir dir;
  Running run(dir.path());
  auto& ingester = run.ingester;
  constexpr int kSteps = 600, kSeries = 300;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    head::ApplyResult result;
    for (int t = 0; t < kSteps; ++t) {
      if (!IngestBody(ingester, Body(t, kSeries), &result).ok()) break;
    }
    done = true;
  });
  int reads = 0, bad = 0;
  std::string first_bad;
  while (!done) {
    for (Kind kind :
         {kRaw, Kind(ewma::Output::kEwma)}) {
      Status s;
      auto got = ReadBack(ingester, 5, kind, INT64_MIN, INT64_MAX, &s);
      ++reads;
      // A prefix of the series, without gaps or repeats.
      bool ok = s.ok();
      for (size_t i = 0; ok && i < got.size(); ++i) {
        ok = got[i].first == 1700000000000 + static_cast<int64_t>(i) * 15000;
      }
      if (!ok && bad++ == 0) {
        first_bad = s.ToString() + ", " + std::to_string(got.size()) +
                    " samples, output " + std::to_string(kind ? int(*kind) : -1);
      }
    }
  }
  writer.join();
  INFO(reads << " reads; first bad: " << first_bad);
  CHECK(bad == 0);
  Status s;
  CHECK(ReadBack(ingester, 5, kRaw, INT64_MIN, INT64_MAX, &s)
            .size() == kSteps);
  CHECK(ReadBack(ingester, 5, Kind(ewma::Output::kEwma),
                 INT64_MIN, INT64_MAX, &s)
            .size() == kSteps);
}

class FailingChunkWrites : public FaultInjector {
 public:
  Status BeforeWrite(std::string_view what) override {
    return fail && what == "chunks"
               ? Status::Unavailable("chunks: injected: disk full")
               : Status::Ok();
  }
  bool fail = false;
};

TEST_CASE("sealed chunks that cannot be stored stay readable and are retried") {
  TempDir dir;
  FailingChunkWrites faults;
  const int64_t all_start = INT64_MIN, all_end = INT64_MAX;
  {
    Running run(dir.path(), &faults);
    auto& ingester = run.ingester;
    faults.fail = true;
    IngestRange(ingester, 0, 250);  // two seals (at 120 and 240), both fail
    Status s;
    auto raw = ReadBack(ingester, 3, kRaw, all_start, all_end, &s);
    REQUIRE(s.ok());
    REQUIRE(raw.size() == 250);
    CheckpointStats cs;
    s = ingester.Checkpoint(&cs);
    REQUIRE(s.code() == StatusCode::kUnavailable);
    REQUIRE(s.message() ==
            "sealed chunks cannot be stored; checkpoint postponed");

    faults.fail = false;
    IngestRange(ingester, 250, 251);  // retries both, oldest first
    REQUIRE(ingester.Checkpoint(&cs).ok());
    REQUIRE(cs.seq == 251);
  }
  // The checkpoint dropped the log: the chunks come from the store alone.
  Running run(dir.path());
  REQUIRE(run.recovery.requests == 0);
  Status s;
  auto raw = ReadBack(run.ingester, 3, kRaw, all_start, all_end, &s);
  REQUIRE(s.ok());
  REQUIRE(raw.size() == 251);
  for (int t = 0; t < 251; ++t) {
    REQUIRE(raw[t].first == 1700000000000 + t * 15000);
  }
  auto ewma = ReadBack(run.ingester, 3, Kind(ewma::Output::kEwma),
                       all_start, all_end, &s);
  REQUIRE(ewma.size() == 251);
}

TEST_CASE("a checkpoint in the background yields its core between series") {
  // Encoding 10,000 series' records takes a core for milliseconds; a
  // write's thread queued behind the checkpoint gets it in between.
  TempDir dir;
  Running run(dir.path());
  auto& [store, engine, ingester, rs] = run;
  IngestRange(ingester, 0, 10);
  SetYieldInterval(std::chrono::microseconds(0));
  const uint64_t before = BackgroundYields();
  CheckpointStats cs;
  Status s;
  std::thread checkpoint([&] {
    SetThisThreadRole("checkpoint", ThreadRole::kBackground);
    s = ingester.Checkpoint(&cs);
  });
  checkpoint.join();
  SetYieldInterval(kYieldInterval);
  REQUIRE(s.ok());
  REQUIRE(cs.series == 20);
  CHECK(BackgroundYields() - before >= cs.series);
}

TEST_CASE("a checkpoint that trimmed the whole log: numbering continues") {
  TempDir dir;
  {
    Running run(dir.path());
    auto& [store, engine, ingester, rs] = run;
    IngestRange(ingester, 0, 5);
    CheckpointStats cs;
    REQUIRE(ingester.Checkpoint(&cs).ok());
  }
  {
    auto store = OpenStore(dir.path());
    REQUIRE(store->request_log()->SegmentPaths().empty());  // all covered
    Database& ingester = *store;
    RecoveryStats rs;
    REQUIRE(ingester.Recover(&rs).ok());
    IngestRange(ingester, 5, 8);  // logged as 6, 7, 8
  }
  Running run(dir.path());
  auto& [store, engine, ingester, rs] = run;
  REQUIRE(rs.requests == 3);
  REQUIRE(LatestOf(engine) == Uninterrupted(8));
}

class FailAt : public FaultInjector {
 public:
  explicit FailAt(std::string what) : what_(std::move(what)) {}
  Status BeforeWrite(std::string_view what) override {
    return armed && what == what_ ? Status::Unavailable("injected crash")
                                  : Status::Ok();
  }
  bool armed = false;

 private:
  std::string what_;
};

TEST_CASE("a checkpoint interrupted at any step leaves a recoverable store") {
  auto step = GENERATE(as<std::string>{}, "checkpoint", "checkpoint pointer");
  TempDir dir;
  FailAt faults(step);
  {
    Running run(dir.path(), &faults);
    auto& [store, engine, ingester, rs] = run;
    IngestRange(ingester, 0, 50);
    CheckpointStats cs;
    REQUIRE(ingester.Checkpoint(&cs).ok());  // a good one first
    IngestRange(ingester, 50, 90);
    faults.armed = true;
    REQUIRE_FALSE(ingester.Checkpoint(&cs).ok());
    faults.armed = false;
    IngestRange(ingester, 90, 100);
  }
  Running run(dir.path());
  auto& [store, engine, ingester, rs] = run;
  REQUIRE(rs.checkpoint_series == 20);  // the first checkpoint
  REQUIRE(rs.requests == 50);           // everything after it
  REQUIRE(LatestOf(engine) == Uninterrupted(100));
}

TEST_CASE("checkpoint records round-trip and detect damage") {
  Database ingester{head::HeadOptions{}};
  head::Head& engine = *ingester.head();
  IngestRange(ingester, 0, 40);
  int checked = 0;
  engine.VisitSnapshots([&](const head::SeriesSnapshot& snapshot) {
    std::string record;
    store::EncodeCheckpointRecord(snapshot, &record);
    head::SeriesSnapshot back;
    REQUIRE(store::DecodeCheckpointRecord(record, &back).ok());
    REQUIRE(back.labels == snapshot.labels);
    REQUIRE(back.state.mean == snapshot.state.mean);
    REQUIRE(back.state.count == snapshot.state.count);
    REQUIRE(back.head == snapshot.head);
    REQUIRE(!back.head.empty());
    REQUIRE(back.latest_ms == snapshot.latest_ms);
    REQUIRE(back.params == snapshot.params);
    REQUIRE(back.head_start.mean == snapshot.head_start.mean);
    REQUIRE(back.head_start.count == snapshot.head_start.count);
    REQUIRE(back.head_start.last_timestamp_ms ==
            snapshot.head_start.last_timestamp_ms);
    for (size_t i = 0; i < record.size(); i += 7) {
      std::string damaged = record;
      damaged[i] ^= 0x01;
      REQUIRE(store::DecodeCheckpointRecord(damaged, &back).code() ==
              StatusCode::kCorruption);
    }
    REQUIRE(store::DecodeCheckpointRecord(record.substr(0, 3), &back).code() ==
            StatusCode::kCorruption);
    ++checked;
  });
  REQUIRE(checked == 20);
}

}  // namespace
}  // namespace promewma::db

namespace promewma::db {
namespace {

TEST_CASE(
    "retention drops whole buckets older than the newest sample minus "
    "retention") {
  TempDir dir;
  head::HeadOptions options;
  options.chunk_bucket_ms = 60000;  // 4 samples of Body() per bucket
  auto store = OpenStore(dir.path(), nullptr, options);
  Database& ingester = *store;
  RecoveryStats rs;
  REQUIRE(ingester.Recover(&rs).ok());
  IngestRange(ingester, 0, 40);  // 10 minutes
  Status s;
  REQUIRE(
      ReadBack(ingester, 0, kRaw, INT64_MIN, INT64_MAX, &s).size() ==
      40);
  // Newest sample: t=39. Keeping 150 s puts the cutoff at t=29; the bucket
  // holding the cutoff stays whole, every bucket before it goes.
  const int64_t newest = 1700000000000 + 39 * 15000;
  const int64_t keep_from = (newest - 150000) / 60000 * 60000;
  int expected = 0, first = -1;
  for (int t = 0; t < 40; ++t) {
    if (1700000000000 + t * 15000 >= keep_from) {
      ++expected;
      if (first < 0) first = t;
    }
  }
  REQUIRE(expected < 16);  // something went, something stayed
  REQUIRE(expected > 10);
  REQUIRE(ingester.ApplyRetention(150000).ok());
  auto kept = ReadBack(ingester, 0, kRaw, INT64_MIN, INT64_MAX, &s);
  REQUIRE(s.ok());
  REQUIRE(kept.size() == static_cast<size_t>(expected));
  REQUIRE(kept.front().first == 1700000000000 + first * 15000);
  // Derived series expire alike.
  REQUIRE(ReadBack(ingester, 0, Kind(ewma::Output::kEwma),
                   INT64_MIN, INT64_MAX, &s)
              .size() == static_cast<size_t>(expected));
}

}  // namespace
}  // namespace promewma::db

namespace promewma::db {
namespace {

// Records what the ingester hands to write-back.
class FakeSink : public ewma::DerivedSampleSink {
 public:
  // Room for a request unless one of its input series is `full`.
  bool HasRoomFor(const ewma::SeriesHashes& series) override {
    asked = std::set<uint64_t>(series.begin(), series.end());
    for (uint64_t hash : series) {
      if (full.count(hash) != 0) return false;
    }
    return true;
  }
  void Push(uint64_t seq,
            const std::vector<ewma::EmittedDerived>& derived) override {
    for (const ewma::EmittedDerived& d : derived) {
      pushed.push_back({seq, d.timestamp_ms, std::string(d.labels)});
    }
  }
  bool WaitForRoom(const ewma::SeriesHashes& series,
                   std::chrono::steady_clock::time_point) override {
    ++waits;
    if (drains_while_waiting) full.clear();
    return HasRoomFor(series);
  }
  bool WaitAcknowledged(uint64_t seq,
                        std::chrono::steady_clock::time_point) override {
    return seq <= acknowledged;
  }

  struct Pushed {
    uint64_t seq;
    int64_t timestamp_ms;
    std::string labels;
  };
  std::set<uint64_t> full;       // input series whose queue is full
  std::set<uint64_t> asked;      // the series of the last admission
  bool drains_while_waiting = false;  // the queues empty during a wait
  int waits = 0;
  uint64_t acknowledged = 0;
  std::vector<Pushed> pushed;
};

// A process with write-back on.
struct RunningWithSink {
  RunningWithSink(const std::string& dir, FakeSink* sink)
      : store(OpenStore(dir, nullptr, Collecting())),
        engine(*store->head()),
        ingester(*store) {
    ingester.SetDerivedSink(sink, std::chrono::milliseconds(0),
                            std::chrono::milliseconds(0));
    Status s = ingester.Recover(&recovery);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  static head::HeadOptions Collecting() {
    head::HeadOptions o;
    o.collect_derived = true;
    return o;
  }
  std::unique_ptr<Database> store;
  head::Head& engine;
  Database& ingester;
  RecoveryStats recovery;
};

TEST_CASE("derived samples go to write-back with their log record") {
  TempDir dir;
  FakeSink sink;
  RunningWithSink run(dir.path(), &sink);
  IngestRange(run.ingester, 0, 3);
  REQUIRE(sink.pushed.size() == 60);  // 20 series x 3 requests
  for (size_t i = 0; i < sink.pushed.size(); ++i) {
    REQUIRE(sink.pushed[i].seq == i / 20 + 1);
    REQUIRE(sink.pushed[i].timestamp_ms ==
            1700000000000 + static_cast<int64_t>(i / 20) * 15000);
  }
}

TEST_CASE("without write-back room a request is refused whole") {
  TempDir dir;
  FakeSink sink;
  RunningWithSink run(dir.path(), &sink);
  IngestRange(run.ingester, 0, 1);
  // The queue of one of the request's 20 series is full.
  sink.full = {model::HashLabelSet(CpuLabels(7))};
  head::ApplyResult result;
  Status s = IngestBody(run.ingester, Body(1), &result);
  REQUIRE(s.code() == StatusCode::kUnavailable);
  REQUIRE(s.message().find("write-back backlog full") != std::string::npos);
  REQUIRE(run.store->request_log()->last_seq() == 1);  // not logged
  REQUIRE(sink.pushed.size() == 20);
  // Admission asked about every input series of the request.
  std::set<uint64_t> all;
  for (int h = 0; h < 20; ++h) all.insert(model::HashLabelSet(CpuLabels(h)));
  REQUIRE(sink.asked == all);
  sink.full.clear();
  REQUIRE(IngestBody(run.ingester, Body(1), &result).ok());
  REQUIRE(LatestOf(run.engine) == Uninterrupted(2));
}

TEST_CASE("a request waits for write-back room before it is refused") {
  TempDir dir;
  FakeSink sink;
  RunningWithSink run(dir.path(), &sink);
  sink.full = {model::HashLabelSet(CpuLabels(0))};
  sink.drains_while_waiting = true;
  head::ApplyResult result;
  REQUIRE(IngestBody(run.ingester, Body(0), &result).ok());
  REQUIRE(sink.waits == 1);
  REQUIRE(sink.pushed.size() == 20);
}

TEST_CASE("a checkpoint waits for write-back and a crash re-sends the rest") {
  TempDir dir;
  {
    FakeSink sink;
    RunningWithSink run(dir.path(), &sink);
    IngestRange(run.ingester, 0, 5);
    CheckpointStats cs;
    sink.acknowledged = 4;  // record 5 not delivered yet
    Status s = run.ingester.Checkpoint(&cs);
    REQUIRE(s.code() == StatusCode::kUnavailable);
    REQUIRE(s.message().find("checkpoint postponed") != std::string::npos);
    IngestRange(run.ingester, 5, 8);
    sink.acknowledged = 8;
    REQUIRE(run.ingester.Checkpoint(&cs).ok());
    REQUIRE(cs.seq == 8);
    IngestRange(run.ingester, 8, 10);  // never acknowledged: "crash"
  }
  FakeSink sink;
  RunningWithSink run(dir.path(), &sink);
  REQUIRE(run.recovery.requests == 2);
  // Records 9 and 10 are derived again and handed over again.
  REQUIRE(sink.pushed.size() == 40);
  REQUIRE(sink.pushed.front().seq == 9);
  REQUIRE(sink.pushed.back().seq == 10);
  REQUIRE(LatestOf(run.engine) == Uninterrupted(10));
}

}  // namespace
}  // namespace promewma::db

namespace promewma::db {
namespace {

// Series churn: a database on a clock the test moves.
struct ChurnRun {
  ChurnRun(const std::string& dir, int64_t* now) {
    head::HeadOptions options;
    options.series_idle_timeout_ms = 60'000;
    options.clock = [now] { return *now; };
    store = OpenStore(dir, nullptr, options);
    REQUIRE(store->Recover(&recovery).ok());
  }
  std::unique_ptr<Database> store;
  RecoveryStats recovery;
};

std::set<std::string> DroppedLabels(Database& db) {
  std::set<std::string> out;
  REQUIRE(db.VisitDroppedSeries([&](const head::DroppedSeries& d) {
              out.insert(model::LabelSetView(d.labels).ToString());
              return Status::Ok();
            }).ok());
  return out;
}

TEST_CASE("a dropped series stays readable, a restart does not bring it back, "
          "and it comes back afresh") {
  TempDir dir;
  int64_t now = 0;
  const int64_t t0 = 1700000000000;
  std::vector<std::pair<int64_t, double>> want;
  for (int t = 0; t < 130; ++t) {  // a stored chunk and an open head
    want.push_back({t0 + t * 15000, 10.0 + (t * 7) % 11});
  }
  std::vector<std::pair<int64_t, double>> ewma_before;
  {
    ChurnRun run(dir.path(), &now);
    Database& db = *run.store;
    head::ApplyResult result;
    for (int t = 0; t < 130; ++t) {
      REQUIRE(IngestBody(db, Body(t, 2), &result).ok());
    }
    Status s;
    ewma_before = ReadBack(db, 0, Kind(ewma::Output::kEwma), t0,
                           want.back().first, &s);
    REQUIRE(ewma_before.size() == 130);
    // Only h1 keeps sending.
    now = 30'000;
    std::vector<testing::TestSeries> h1 = {
        {{{"__name__", "cpu"}, {"host", "h1"}}, {{t0 + 130 * 15000, 1}}}};
    REQUIRE(IngestBody(db,
                       codec::CompressSnappyBlock(
                           testing::SerializeWriteRequest(h1)),
                       &result)
                .ok());
    now = 60'000;
    CheckpointStats stats;
    REQUIRE(db.Checkpoint(&stats).ok());
    REQUIRE(stats.dropped_series == 1);
    REQUIRE(stats.series == 1);
    REQUIRE(db.head()->active_series() == 1);
    REQUIRE(DroppedLabels(db) == std::set<std::string>{"cpu{host=\"h0\"}"});
    REQUIRE(ReadBack(db, 0, kRaw, t0, want.back().first, &s) == want);
    REQUIRE(s.ok());
    REQUIRE(ReadBack(db, 0, Kind(ewma::Output::kEwma), t0, want.back().first,
                     &s) == ewma_before);
  }
  // A restart: the checkpoint does not hold h0, its history is stored.
  ChurnRun run(dir.path(), &now);
  Database& db = *run.store;
  REQUIRE(run.recovery.checkpoint_series == 1);
  REQUIRE(db.head()->active_series() == 1);
  REQUIRE(LatestOf(*db.head()).count("cpu{host=\"h0\"}") == 0);
  Status s;
  REQUIRE(ReadBack(db, 0, kRaw, t0, want.back().first, &s) == want);
  REQUIRE(ReadBack(db, 0, Kind(ewma::Output::kEwma), t0, want.back().first,
                   &s) == ewma_before);
  REQUIRE(DroppedLabels(db) == std::set<std::string>{"cpu{host=\"h0\"}"});

  // h0 comes back 10 minutes of data later: a fresh start, its EWMA is
  // its first value, and the old history is still there before it.
  const int64_t back = want.back().first + 600'000;
  std::vector<testing::TestSeries> h0 = {
      {{{"__name__", "cpu"}, {"host", "h0"}}, {{back, 42}}}};
  head::ApplyResult result;
  REQUIRE(IngestBody(db,
                     codec::CompressSnappyBlock(
                         testing::SerializeWriteRequest(h0)),
                     &result)
              .ok());
  REQUIRE(result.new_series == 1);
  REQUIRE(std::get<1>(LatestOf(*db.head()).at("cpu{host=\"h0\"}")) == 42);
  auto all = want;
  all.push_back({back, 42});
  REQUIRE(ReadBack(db, 0, kRaw, t0, back, &s) == all);
}

TEST_CASE("a reload stores the heads it seals and the series it drops stay "
          "readable") {
  TempDir dir;
  const int64_t t0 = 1700000000000;
  std::vector<std::pair<int64_t, double>> h0, h1;
  for (int t = 0; t < 30; ++t) {
    h0.push_back({t0 + t * 15000, 10.0 + (t * 7) % 11});
    h1.push_back({t0 + t * 15000, 10.0 + (t * 7 + 3) % 11});
  }
  Running run(dir.path());
  head::ApplyResult result;
  for (int t = 0; t < 30; ++t) {
    REQUIRE(IngestBody(run.ingester, Body(t, 2), &result).ok());
  }
  head::HeadOptions only_h1;
  auto selector = model::Selector::Parse("{host=\"h1\"}");
  REQUIRE(selector.ok());
  ewma::EstimatorParams half;
  half.alpha = 0.5;
  only_h1.rules.push_back(head::SeriesRule{std::move(selector).value(), half});
  head::ReconfigureStats stats;
  run.ingester.Reconfigure(only_h1, &stats);
  REQUIRE(stats.dropped == 1);
  REQUIRE(stats.restarted == 1);
  REQUIRE(DroppedLabels(run.ingester) ==
          std::set<std::string>{"cpu{host=\"h0\"}"});
  // Both heads were sealed and stored: every sample reads back once.
  Status s;
  REQUIRE(ReadBack(run.ingester, 0, kRaw, t0, h0.back().first, &s) == h0);
  REQUIRE(ReadBack(run.ingester, 1, kRaw, t0, h1.back().first, &s) == h1);
  REQUIRE(s.ok());
  // h1 goes on afresh under the new parameters, after its stored history.
  REQUIRE(IngestBody(run.ingester, Body(30, 2), &result).ok());
  REQUIRE(result.dropped_by(head::DropReason::kUnmatched) == 1);
  REQUIRE(std::get<1>(LatestOf(run.engine).at("cpu{host=\"h1\"}")) ==
          10.0 + (30 * 7 + 3) % 11);
  REQUIRE(ReadBack(run.ingester, 1, kRaw, t0, t0 + 30 * 15000, &s).size() ==
          31);
}

}  // namespace
}  // namespace promewma::db

namespace promewma::db {
namespace {

using testing::SlowStore;

// Sends `body` on a thread of its own; whether it was applied within 10 s
// (the thread is joined by the caller's `join` once the store is released).
// A recovered database on `dir` whose series go idle after a minute of
// the clock *now.
std::unique_ptr<Database> OpenIdleAfterAMinute(const std::string& dir,
                                               FaultInjector* faults,
                                               int64_t* now) {
  head::HeadOptions options;
  options.series_idle_timeout_ms = 60'000;
  options.clock = [now] { return *now; };
  std::unique_ptr<Database> db = OpenStore(dir, faults, options);
  RecoveryStats recovery;
  REQUIRE(db->Recover(&recovery).ok());
  return db;
}

bool AppliedMeanwhile(Database& db, const std::string& body,
                      std::thread* join) {
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> applied = done->get_future();
  *join = std::thread([&db, body, done] {
    head::ApplyResult result;
    done->set_value(IngestBody(db, body, &result));
  });
  return applied.wait_for(std::chrono::seconds(10)) ==
             std::future_status::ready &&
         applied.get().ok();
}

TEST_CASE("a checkpoint storing the heads of dropped series holds no "
          "request up") {
  TempDir dir;
  int64_t now = 0;
  SlowStore slow(SlowStore::kWrites, "chunks");
  std::unique_ptr<Database> db = OpenIdleAfterAMinute(dir.path(), &slow, &now);
  head::ApplyResult result;
  for (int t = 0; t < 10; ++t) {  // h0 and h1: open heads, none sealed
    REQUIRE(IngestBody(*db, Body(t, 2), &result).ok());
  }
  now = 60'000;  // both idle
  slow.Arm();
  Status checkpointed;
  CheckpointStats stats;
  std::thread checkpoint([&] { checkpointed = db->Checkpoint(&stats); });
  REQUIRE(slow.WaitUntilHeld());  // storing the dropped heads
  std::vector<testing::TestSeries> h2 = {
      {{{"__name__", "cpu"}, {"host", "h2"}}, {{1700000000000, 1}}}};
  std::thread writer;
  const bool applied = AppliedMeanwhile(
      *db, codec::CompressSnappyBlock(testing::SerializeWriteRequest(h2)),
      &writer);
  // Both heads are readable while they are being stored (a read waits
  // like the request while the lock is held: only tried when it was not).
  Status s;
  std::vector<std::pair<int64_t, double>> h0;
  if (applied) h0 = ReadBack(*db, 0, kRaw, INT64_MIN, INT64_MAX, &s);
  slow.Release();
  checkpoint.join();
  writer.join();
  CHECK(applied);
  CHECK(h0.size() == 10);
  REQUIRE(checkpointed.ok());
  REQUIRE(stats.dropped_series == 2);
  REQUIRE(stats.series == 1);  // h2
  REQUIRE(DroppedLabels(*db) ==
          std::set<std::string>{"cpu{host=\"h0\"}", "cpu{host=\"h1\"}"});
  REQUIRE(ReadBack(*db, 1, kRaw, INT64_MIN, INT64_MAX, &s).size() == 10);
}

TEST_CASE("a checkpoint dropping idle series holds no request up between "
          "head shards, and each series stays readable throughout") {
  TempDir dir;
  int64_t now = 0;
  testing::SlowStore steps(testing::SlowStore::kSteps, "drop idle series");
  std::unique_ptr<Database> db = OpenIdleAfterAMinute(dir.path(), &steps, &now);
  constexpr int kSeries = 300;  // in every one of the head's 64 shards
  head::ApplyResult result;
  for (int t = 0; t < 10; ++t) {
    REQUIRE(IngestBody(*db, Body(t, kSeries), &result).ok());
  }
  now = 60'000;  // all idle
  steps.Arm(head::Head::kShardCount / 2);  // half the shards dropped
  Status checkpointed;
  CheckpointStats stats;
  std::thread checkpoint([&] { checkpointed = db->Checkpoint(&stats); });
  REQUIRE(steps.WaitUntilHeld());
  std::vector<testing::TestSeries> fresh = {
      {{{"__name__", "cpu"}, {"host", "fresh"}}, {{1700000000000, 1}}}};
  std::thread writer;
  const bool applied = AppliedMeanwhile(
      *db, codec::CompressSnappyBlock(testing::SerializeWriteRequest(fresh)),
      &writer);
  const uint64_t active_midway = db->head()->active_series();
  // Dropped or not yet, each series' history is there (a read waits like
  // the request while the lock is held: only tried when it was not).
  size_t whole = 0;
  Status s;
  for (int i = 0; applied && i < kSeries; ++i) {
    whole += ReadBack(*db, i, kRaw, INT64_MIN, INT64_MAX, &s).size() == 10;
  }
  steps.Release();
  checkpoint.join();
  writer.join();
  CHECK(applied);
  CHECK(active_midway > 1);            // some not dropped yet, and fresh
  CHECK(active_midway < kSeries + 1);  // some dropped already
  CHECK(whole == kSeries);
  REQUIRE(checkpointed.ok());
  REQUIRE(stats.dropped_series == kSeries);
  REQUIRE(stats.series == 1);  // fresh
  REQUIRE(DroppedLabels(*db).size() == kSeries);
  for (int i = 0; i < kSeries; ++i) {
    REQUIRE(ReadBack(*db, i, kRaw, INT64_MIN, INT64_MAX, &s).size() == 10);
  }
}

TEST_CASE("a read waiting for the store holds no request up") {
  TempDir dir;
  SlowStore slow(SlowStore::kReads, "chunks");
  Running run(dir.path(), &slow);
  Database& db = run.ingester;
  head::ApplyResult result;
  for (int t = 0; t < 130; ++t) {  // a sealed chunk and an open head
    REQUIRE(IngestBody(db, Body(t, 2), &result).ok());
  }
  slow.Arm();
  Status s;
  std::vector<std::pair<int64_t, double>> read;
  std::thread reader(
      [&] { read = ReadBack(db, 0, kRaw, INT64_MIN, INT64_MAX, &s); });
  REQUIRE(slow.WaitUntilHeld());
  std::thread writer;
  const bool applied = AppliedMeanwhile(db, Body(130, 2), &writer);
  slow.Release();
  reader.join();
  writer.join();
  CHECK(applied);
  // The read is of the moment it started: the 130 samples, each once.
  REQUIRE(s.ok());
  REQUIRE(read.size() == 130);
  for (int t = 0; t < 130; ++t) {
    REQUIRE(read[t].first == 1700000000000 + t * 15000);
  }
  REQUIRE(ReadBack(db, 0, kRaw, INT64_MIN, INT64_MAX, &s).size() == 131);
}

}  // namespace
}  // namespace promewma::db
