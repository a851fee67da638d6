// csv2rw's throughput without I/O: CSV text generated in memory (2M rows at
// one-minute steps), then what `csv2rw FILE --out DIR` does with it on one
// core: split, parse times and values, group and sort into series, encode
// and snappy-compress the remote-write batches (500 samples each). Reported
// as rows/s. The bar: >= 2M rows/s.
//
//   build/bin/csv2rw_bench [--benchmark_repetitions=5]

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "csv2rw/batch_writer.h"
#include "csv2rw/csv_loader.h"
#include "csv2rw/time_parser.h"

namespace promewma::csv2rw {
namespace {

constexpr int kRows = 2'000'000;
constexpr int64_t kStartSeconds = 1727740800;  // 2024-10-01T00:00:00Z

// A CPU percentage with two or three decimals, varying row to row.
double CpuValue(uint64_t i) {
  uint64_t x = i * 0x9e3779b97f4a7c15ULL;
  x ^= x >> 29;
  return 5 + static_cast<double>(x % 900000) / 10000.0;
}

enum class Format { kNab, kOriginal };

// NAB: "timestamp,value" with "YYYY-MM-DD HH:MM:SS"; original:
// "Date,Timestamp,CPU_Utilization" with the date and clock apart.
const std::string& Csv(Format format) {
  static std::string texts[2];
  std::string& text = texts[static_cast<int>(format)];
  if (!text.empty()) return text;
  text = format == Format::kNab ? "timestamp,value\n"
                                : "Date,Timestamp,CPU_Utilization\n";
  text.reserve(static_cast<size_t>(kRows) * 32);
  for (int i = 0; i < kRows; ++i) {
    const std::string iso =
        FormatTimestampMs((kStartSeconds + 60LL * i) * 1000);
    // "2024-10-01T00:00:00Z" -> date and clock.
    char line[64];
    std::snprintf(line, sizeof(line), "%.10s%c%.8s,%.3f\n", iso.c_str(),
                  format == Format::kNab ? ' ' : ',', iso.c_str() + 11,
                  CpuValue(static_cast<uint64_t>(i)));
    text += line;
  }
  return text;
}

LoadedCsv Load(const std::string& text) {
  BadRowLog bad_rows("bench.csv");
  ProgressBar progress(false, stderr);
  Result<LoadedCsv> loaded = LoadCsv(text, LoadOptions(), &bad_rows, &progress);
  if (!loaded.ok() || bad_rows.count() != 0) std::abort();
  return std::move(loaded).value();
}

// Everything csv2rw --out does but the file writes.
void BM_ParseGroupEncode(benchmark::State& state) {
  const std::string& text = Csv(static_cast<Format>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    LoadedCsv loaded = Load(text);
    MemorySink sink;
    ProgressBar progress(false, stderr);
    uint64_t written = 0;
    if (!WriteBatches(*loaded.series, 500, &sink, &progress, &written).ok()) {
      std::abort();
    }
    for (const std::string& b : sink.bodies) bytes += b.size();
    benchmark::DoNotOptimize(sink.bodies.data());
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(kRows) * state.iterations(),
                         benchmark::Counter::kIsRate);
  state.counters["body_bytes/row"] =
      static_cast<double>(bytes) / state.iterations() / kRows;
  state.SetLabel(state.range(0) == 0 ? "NAB timestamp,value"
                                     : "Date,Timestamp,CPU_Utilization");
}
BENCHMARK(BM_ParseGroupEncode)
    ->Arg(static_cast<int>(Format::kNab))
    ->Arg(static_cast<int>(Format::kOriginal))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The reading half alone: split, parse, group and sort.
void BM_ParseGroup(benchmark::State& state) {
  const std::string& text = Csv(Format::kNab);
  for (auto _ : state) {
    LoadedCsv loaded = Load(text);
    benchmark::DoNotOptimize(loaded.series->rows().data());
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(kRows) * state.iterations(),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ParseGroup)->Unit(benchmark::kMillisecond)->UseRealTime();

// The writing half alone: batches encoded and compressed.
void BM_Encode(benchmark::State& state) {
  LoadedCsv loaded = Load(Csv(Format::kNab));
  for (auto _ : state) {
    MemorySink sink;
    ProgressBar progress(false, stderr);
    uint64_t written = 0;
    if (!WriteBatches(*loaded.series, 500, &sink, &progress, &written).ok()) {
      std::abort();
    }
    benchmark::DoNotOptimize(sink.bodies.data());
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(kRows) * state.iterations(),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Encode)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace promewma::csv2rw

BENCHMARK_MAIN();
