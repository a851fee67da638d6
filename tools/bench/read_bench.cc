// Micro benchmark of remote read without HTTP: the handler answering one
// query for 1,000 series x 1 h at 10 s (360 samples each) from the RocksDB
// store, in both response types, for the raw series and for one output.
// The side-by-side comparison with Prometheus' own /api/v1/read over HTTP
// is tools/bench.sh's job.
//
//   build/bin/read_bench

#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>

#include "codec/snappy_block.h"
#include "codec/write_request.h"
#include "common/allocator_tuning.h"
#include "http/read_handler.h"
#include "remote.pb.h"
#include "db/database.h"

namespace promewma {
namespace {

constexpr int kSeries = 1000;
constexpr int kSamples = 360;
constexpr int64_t kT0 = 1700000000000;

struct Loaded {
  std::string dir;
  std::unique_ptr<db::Database> ingester;
};

Loaded& Data() {
  static Loaded* loaded = [] {
    auto* l = new Loaded;
    l->dir = std::filesystem::temp_directory_path() / "promewma-read-bench";
    std::filesystem::remove_all(l->dir);
    db::DatabaseOptions options;
    options.dir = l->dir;
    l->ingester =
        std::move(db::Database::Open(options, head::HeadOptions{})).value();
    db::RecoveryStats rs;
    if (!l->ingester->Recover(&rs).ok()) std::abort();
    std::string raw;
    codec::DecodedWriteRequest decoded;
    head::ApplyResult result;
    for (int t = 0; t < kSamples; ++t) {
      prometheus::WriteRequest req;
      for (int s = 0; s < kSeries; ++s) {
        auto* ts = req.add_timeseries();
        auto* l1 = ts->add_labels();
        l1->set_name("__name__");
        l1->set_value("cpu");
        auto* l2 = ts->add_labels();
        l2->set_name("instance");
        l2->set_value("host-" + std::to_string(s) + ":9100");
        auto* l3 = ts->add_labels();
        l3->set_name("job");
        l3->set_value("node");
        auto* sample = ts->add_samples();
        sample->set_timestamp(kT0 + t * 10000);
        sample->set_value(20 + (s * 7 + t * 13) % 60 + 0.125 * t);
      }
      const std::string body =
          codec::CompressSnappyBlock(req.SerializeAsString());
      if (!codec::DecompressSnappyBlock(body, 1 << 30, &raw).ok()) std::abort();
      if (!codec::DecodeWriteRequest(raw, &decoded).ok()) std::abort();
      if (!l->ingester->Ingest(decoded, body, &result).ok()) std::abort();
    }
    return l;
  }();
  return *loaded;
}

std::string ReadBody(const std::string& metric, bool streamed) {
  prometheus::ReadRequest req;
  auto* q = req.add_queries();
  q->set_start_timestamp_ms(kT0);
  q->set_end_timestamp_ms(kT0 + (kSamples - 1) * 10000);
  auto* m = q->add_matchers();
  m->set_name("__name__");
  m->set_value(metric);
  if (streamed)
    req.add_accepted_response_types(
        prometheus::ReadRequest::STREAMED_XOR_CHUNKS);
  return codec::CompressSnappyBlock(req.SerializeAsString());
}

void RunRead(benchmark::State& state, const std::string& metric,
             bool streamed) {
  Loaded& data = Data();
  http::RemoteReadHandler handler(data.ingester.get(), http::ReadLimits{});
  const std::string body = ReadBody(metric, streamed);
  size_t bytes = 0;
  for (auto _ : state) {
    http::HttpResponse r = handler.Handle(
        http::HttpRequest{"application/x-protobuf", "snappy", body});
    if (r.status != 200) std::abort();
    bytes = r.body.size();
    // A large answer comes in pieces, built as they are taken.
    if (r.stream) {
      std::string piece;
      while (r.stream(&piece)) bytes += piece.size();
    }
  }
  state.counters["response_bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations() * kSeries * kSamples);
}

void BM_RemoteRead_Samples(benchmark::State& state) {
  RunRead(state, "cpu", false);
}
BENCHMARK(BM_RemoteRead_Samples)->Unit(benchmark::kMillisecond);
void BM_RemoteRead_StreamedChunks(benchmark::State& state) {
  RunRead(state, "cpu", true);
}
BENCHMARK(BM_RemoteRead_StreamedChunks)->Unit(benchmark::kMillisecond);
// Outputs are derived from the raw chunks as they are read.
void BM_RemoteRead_Samples_Ewma(benchmark::State& state) {
  RunRead(state, "cpu:ewma", false);
}
BENCHMARK(BM_RemoteRead_Samples_Ewma)->Unit(benchmark::kMillisecond);
void BM_RemoteRead_StreamedChunks_Ewma(benchmark::State& state) {
  RunRead(state, "cpu:ewma", true);
}
BENCHMARK(BM_RemoteRead_StreamedChunks_Ewma)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace promewma

// BENCHMARK_MAIN, with the server's allocator settings.
int main(int argc, char** argv) {
  promewma::TuneAllocatorForLargeBuffers();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
