// Micro benchmark of the remote-write hot path without HTTP: snappy
// decompression, zero-copy decode and the EWMA engine, on requests shaped
// like Prometheus' (one sample per TimeSeries, node_exporter-like labels,
// 500 samples per request, 10k distinct series).
//
//   build/bin/ingest_bench [--benchmark_filter=...]
//
// items_per_second is samples/s. The *_TwoThreads variants run two writers
// with disjoint series against one engine, as two sender connections do.

#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "codec/snappy_block.h"
#include "codec/write_request.h"
#include "head/head.h"
#include "db/database.h"
#include "db/database.h"
#include "remote.pb.h"

namespace promewma {
namespace {

constexpr int kSeries = 10000;
constexpr int kSamplesPerRequest = 500;
constexpr int kRounds = 40;  // timestamps per series before the data repeats

// Compressed requests: kRounds rounds, each covering every series once at
// one timestamp, split into requests of kSamplesPerRequest.
std::vector<std::string> MakeRequests(int writer) {
  std::vector<std::string> out;
  for (int round = 0; round < kRounds; ++round) {
    const int64_t ts = 1700000000000 + round * 15000;
    for (int first = 0; first < kSeries; first += kSamplesPerRequest) {
      prometheus::WriteRequest req;
      for (int s = first; s < first + kSamplesPerRequest; ++s) {
        auto* series = req.add_timeseries();
        auto add = [&](const char* k, const std::string& v) {
          auto* l = series->add_labels();
          l->set_name(k);
          l->set_value(v);
        };
        // node_cpu_seconds_total-like: 8 modes x 1250 hosts.
        add("__name__", "node_cpu_utilization");
        add("cpu", std::to_string(s % 8));
        add("instance", "host-" + std::to_string(writer) + "-" +
                            std::to_string(s / 8) + ".example.net:9100");
        add("job", "node");
        add("mode", s % 2 ? "user" : "system");
        auto* sample = series->add_samples();
        sample->set_timestamp(ts);
        sample->set_value(20 + (s * 7 + round * 13) % 60 + 0.25 * round);
      }
      out.push_back(codec::CompressSnappyBlock(req.SerializeAsString()));
    }
  }
  return out;
}

const std::vector<std::string>& Requests(int writer) {
  static std::vector<std::string> sets[2] = {MakeRequests(0), MakeRequests(1)};
  return sets[writer];
}

// Runs `body` per request, with a fresh engine whenever the data wraps
// around (replaying old timestamps would measure the rejection path).
template <typename Body>
void RunRequests(benchmark::State& state, int writer,
                 std::unique_ptr<head::Head>* engine, Body body) {
  const auto& requests = Requests(writer);
  std::string decompressed;
  codec::DecodedWriteRequest decoded;
  size_t next = 0;
  int64_t samples = 0;
  for (auto _ : state) {
    if (next == requests.size()) {
      state.PauseTiming();
      if (engine)
        *engine = std::make_unique<head::Head>(head::HeadOptions{});
      next = 0;
      state.ResumeTiming();
    }
    samples += body(requests[next++], &decompressed, &decoded);
  }
  state.SetItemsProcessed(samples);
}

int64_t DecodeOnly(const std::string& body, std::string* buf,
                   codec::DecodedWriteRequest* decoded) {
  if (!codec::DecompressSnappyBlock(body, 64 << 20, buf).ok()) std::abort();
  if (!codec::DecodeWriteRequest(*buf, decoded).ok()) std::abort();
  return static_cast<int64_t>(decoded->samples.size());
}

void BM_Decode(benchmark::State& state) {
  RunRequests(state, 0, nullptr, DecodeOnly);
}
BENCHMARK(BM_Decode);

void BM_DecodeAndApply(benchmark::State& state) {
  auto engine = std::make_unique<head::Head>(head::HeadOptions{});
  RunRequests(state, 0, &engine,
              [&](const std::string& body, std::string* buf,
                  codec::DecodedWriteRequest* decoded) {
                int64_t n = DecodeOnly(body, buf, decoded);
                head::ApplyResult r;
                if (!engine->Apply(*decoded, &r).ok()) std::abort();
                benchmark::DoNotOptimize(r);
                return n;
              });
}
BENCHMARK(BM_DecodeAndApply);

// Two writers, one shared engine. Only thread 0 replaces the engine (a
// wrap-around is rare and both threads wrap at the same time).
head::Head* shared_engine = nullptr;
void BM_DecodeAndApply_TwoThreads(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared_engine = new head::Head(head::HeadOptions{});
  }
  RunRequests(state, state.thread_index(), nullptr,
              [&](const std::string& body, std::string* buf,
                  codec::DecodedWriteRequest* decoded) {
                int64_t n = DecodeOnly(body, buf, decoded);
                head::ApplyResult r;
                if (!shared_engine->Apply(*decoded, &r).ok()) std::abort();
                benchmark::DoNotOptimize(r);
                return n;
              });
  if (state.thread_index() == 0) {
    delete shared_engine;
    shared_engine = nullptr;
  }
}
BENCHMARK(BM_DecodeAndApply_TwoThreads)
    ->Threads(2)
    ->UseRealTime()
    ->Iterations(static_cast<int64_t>(kRounds) * kSeries / kSamplesPerRequest);

// A fresh database, durable or in memory, recovered, in a
// temporary directory; removed again with the object.
class DurablePath {
 public:
  DurablePath(std::string name, bool with_store)
      : dir_(std::filesystem::temp_directory_path() / name),
        with_store_(with_store) {
    Reset();
  }
  ~DurablePath() { Close(); }

  void Reset() {
    Close();
    if (with_store_) {
      db::DatabaseOptions options;
      options.dir = dir_;
      ingester_ =
          std::move(db::Database::Open(options, head::HeadOptions{})).value();
    } else {
      ingester_ = std::make_unique<db::Database>(head::HeadOptions{});
    }
    db::RecoveryStats stats;
    if (!ingester_->Recover(&stats).ok()) std::abort();
  }
  db::Database* ingester() { return ingester_.get(); }

 private:
  void Close() {
    ingester_.reset();
    std::filesystem::remove_all(dir_);
  }

  const std::string dir_;
  const bool with_store_;
  std::unique_ptr<db::Database> ingester_;
};

// The durable write path: log append, engine, sealed chunks. Compare with
// and without the store: the store's cost is the log append (the sender's
// snappy body, unsynced: durability os) and the chunk writes.
void RunIngest(benchmark::State& state, bool with_store) {
  DurablePath path("promewma-ingest-bench", with_store);
  const auto& requests = Requests(0);
  std::string decompressed;
  codec::DecodedWriteRequest decoded;
  head::ApplyResult result;
  size_t next = 0;
  int64_t samples = 0;
  for (auto _ : state) {
    if (next == requests.size()) {
      state.PauseTiming();
      path.Reset();
      next = 0;
      state.ResumeTiming();
    }
    const std::string& body = requests[next++];
    samples += DecodeOnly(body, &decompressed, &decoded);
    if (!path.ingester()->Ingest(decoded, body, &result).ok()) std::abort();
  }
  state.SetItemsProcessed(samples);
}

void BM_Ingest_InMemory(benchmark::State& state) { RunIngest(state, false); }
BENCHMARK(BM_Ingest_InMemory);
void BM_Ingest_WithStore(benchmark::State& state) { RunIngest(state, true); }
BENCHMARK(BM_Ingest_WithStore);

// Two writers with disjoint series through one durable ingester, as two
// sender connections: what the ingest lock leaves of the second core. One
// iteration is both writers' whole request sets into a fresh store.
void BM_Ingest_WithStore_TwoWriters(benchmark::State& state) {
  DurablePath path("promewma-ingest-bench-2w", true);
  int64_t samples = 0;
  for (auto _ : state) {
    state.PauseTiming();
    path.Reset();
    state.ResumeTiming();
    std::atomic<int64_t> done{0};
    auto writer = [&](int w) {
      std::string decompressed;
      codec::DecodedWriteRequest decoded;
      head::ApplyResult result;
      int64_t n = 0;
      for (const std::string& body : Requests(w)) {
        n += DecodeOnly(body, &decompressed, &decoded);
        if (!path.ingester()->Ingest(decoded, body, &result).ok()) std::abort();
      }
      done += n;
    };
    std::thread second(writer, 1);
    writer(0);
    second.join();
    samples += done.load();
  }
  state.SetItemsProcessed(samples);
}
BENCHMARK(BM_Ingest_WithStore_TwoWriters)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Restart cost: 100k series with a few samples each, checkpointed, then a
// fresh engine recovers from the checkpoint plus a short log tail.
void BM_RecoverFromCheckpoint(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  const std::string dir =
      std::filesystem::temp_directory_path() / "promewma-recovery-bench";
  std::filesystem::remove_all(dir);
  db::DatabaseOptions options;
  options.dir = dir;
  {
    auto db =
        std::move(db::Database::Open(options, head::HeadOptions{})).value();
    db::Database& ingester = *db;
    db::RecoveryStats rs;
    if (!ingester.Recover(&rs).ok()) std::abort();
    std::string decompressed;
    codec::DecodedWriteRequest decoded;
    head::ApplyResult result;
    for (int round = 0; round < 12; ++round) {
      for (int first = 0; first < series; first += 1000) {
        prometheus::WriteRequest req;
        for (int s = first; s < first + 1000; ++s) {
          auto* ts = req.add_timeseries();
          auto* l = ts->add_labels();
          l->set_name("__name__");
          l->set_value("cpu");
          l = ts->add_labels();
          l->set_name("instance");
          l->set_value("host-" + std::to_string(s));
          auto* sample = ts->add_samples();
          sample->set_timestamp(1700000000000 + round * 15000);
          sample->set_value(s % 100 + round);
        }
        const std::string body = codec::CompressSnappyBlock(req.SerializeAsString());
        DecodeOnly(body, &decompressed, &decoded);
        if (!ingester.Ingest(decoded, body, &result).ok()) std::abort();
      }
      if (round == 9) {
        db::CheckpointStats cs;
        if (!ingester.Checkpoint(&cs).ok()) std::abort();
        state.counters["checkpoint_s"] = cs.seconds;
        state.counters["checkpoint_MB"] = cs.bytes / 1e6;
      }
    }
  }
  for (auto _ : state) {
    auto db =
        std::move(db::Database::Open(options, head::HeadOptions{})).value();
    db::Database& ingester = *db;
    db::RecoveryStats rs;
    if (!ingester.Recover(&rs).ok()) std::abort();
    state.counters["recovered_series"] = rs.checkpoint_series;
    state.counters["replayed_requests"] = rs.requests;
    state.counters["recover_s"] = rs.seconds;
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RecoverFromCheckpoint)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace promewma

BENCHMARK_MAIN();
