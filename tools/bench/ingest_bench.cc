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

#include <memory>
#include <string>
#include <vector>

#include "codec/snappy_block.h"
#include "codec/write_request.h"
#include "ewma/engine.h"
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
                 std::unique_ptr<ewma::Engine>* engine, Body body) {
  const auto& requests = Requests(writer);
  std::string decompressed;
  codec::DecodedWriteRequest decoded;
  size_t next = 0;
  int64_t samples = 0;
  for (auto _ : state) {
    if (next == requests.size()) {
      state.PauseTiming();
      if (engine)
        *engine = std::make_unique<ewma::Engine>(ewma::EngineOptions{});
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
  auto engine = std::make_unique<ewma::Engine>(ewma::EngineOptions{});
  RunRequests(state, 0, &engine,
              [&](const std::string& body, std::string* buf,
                  codec::DecodedWriteRequest* decoded) {
                int64_t n = DecodeOnly(body, buf, decoded);
                ewma::ApplyResult r;
                if (!engine->Apply(*decoded, &r).ok()) std::abort();
                benchmark::DoNotOptimize(r);
                return n;
              });
}
BENCHMARK(BM_DecodeAndApply);

// Two writers, one shared engine. Only thread 0 replaces the engine (a
// wrap-around is rare and both threads wrap at the same time).
ewma::Engine* shared_engine = nullptr;
void BM_DecodeAndApply_TwoThreads(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared_engine = new ewma::Engine(ewma::EngineOptions{});
  }
  RunRequests(state, state.thread_index(), nullptr,
              [&](const std::string& body, std::string* buf,
                  codec::DecodedWriteRequest* decoded) {
                int64_t n = DecodeOnly(body, buf, decoded);
                ewma::ApplyResult r;
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

}  // namespace
}  // namespace promewma

BENCHMARK_MAIN();
