// Sealed chunks in the store: a raw chunk is stored with its derivation and
// its outputs are derived when read.

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "codec/xor_chunk.h"
#include "head/head.h"
#include "ewma/series_estimator.h"
#include "store/store.h"
#include "testing/subprocess.h"

namespace promewma::store {
namespace {

using testing::TempDir;
using Samples = std::vector<std::pair<int64_t, double>>;

constexpr uint64_t kSeries = 0x1234;
// Which series of the input a read wants.
using Kind = std::optional<ewma::Output>;
constexpr Kind kRaw = std::nullopt;
constexpr Kind kEwmaKind = ewma::Output::kEwma;
constexpr Kind kUpperKind = ewma::Output::kUpperThreshold;

std::unique_ptr<Store> OpenStore(const std::string& dir) {
  auto store = Store::Open(StoreOptions{dir});
  REQUIRE(store.ok());
  return std::move(store).value();
}

head::SealedChunk Chunk(const Samples& samples,
                        const head::ChunkDerivation& derivation) {
  codec::XorChunkAppender app;
  for (const auto& [t, v] : samples) app.Append(t, v);
  return head::SealedChunk{kSeries, app.min_time(), app.max_time(),
                           std::string(app.bytes()), derivation};
}

Samples Read(Store* store, Kind kind, int64_t start, int64_t end,
             Status* status) {
  Samples out;
  *status = store->ReadChunks(
      kSeries, kind, start, end, [&](const ChunkView& c) {
        Samples decoded;
        Status s = codec::DecodeXorChunk(c.bytes, &decoded);
        if (!s.ok()) return s;
        REQUIRE(c.min_time_ms == decoded.front().first);
        REQUIRE(c.max_time_ms == decoded.back().first);
        out.insert(out.end(), decoded.begin(), decoded.end());
        return Status::Ok();
      });
  return out;
}

// The outputs of `samples` as the estimator emits them, from `state`.
std::pair<Samples, Samples> Reference(const ewma::EstimatorParams& params,
                                      ewma::EstimatorState state,
                                      const Samples& samples) {
  Samples ewma_out, upper_out;
  ewma::DerivedValues values;
  for (const auto& [t, v] : samples) {
    ewma::UpdateEstimator(params, &state, t, v, &values);
    if (values.present & ewma::OutputBit(ewma::Output::kEwma)) {
      ewma_out.push_back({t, values.value[0]});
    }
    if (values.present & ewma::OutputBit(ewma::Output::kUpperThreshold)) {
      upper_out.push_back({t, values.value[1]});
    }
  }
  return {ewma_out, upper_out};
}

// The derivation of a chunk that follows `before` in a series with the
// default parameters, as the head carries the state over.
head::ChunkDerivation After(const Samples& before) {
  head::ChunkDerivation d;
  ewma::DerivedValues ignored;
  for (const auto& [t, v] : before) {
    ewma::UpdateEstimator(d.params, &d.start, t, v, &ignored);
  }
  return d;
}

Samples Series(int64_t first_ms, int n) {
  Samples s;
  for (int i = 0; i < n; ++i) {
    s.push_back({first_ms + i * 10000, 20.0 + (i * 7919 % 13) * 0.37});
  }
  return s;
}

TEST_CASE("outputs of stored raw chunks are derived when read") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  const Samples all = Series(0, 240);
  const Samples first(all.begin(), all.begin() + 120);
  const Samples second(all.begin() + 120, all.end());
  head::ChunkDerivation d1;  // a fresh series: empty state, defaults
  // The state after the first chunk, as the head would carry it over.
  const head::ChunkDerivation d2 = After(first);
  REQUIRE(store
              ->WriteChunks({Chunk(first, d1), Chunk(second, d2)})
              .ok());

  Status s;
  // Raw reads get the raw chunk bytes, without the derivation.
  REQUIRE(Read(store.get(), kRaw, INT64_MIN, INT64_MAX, &s) == all);
  REQUIRE(s.ok());
  const auto [want_ewma, want_upper] = Reference(d1.params, {}, all);
  REQUIRE(Read(store.get(), kEwmaKind, INT64_MIN, INT64_MAX, &s) == want_ewma);
  REQUIRE(s.ok());
  REQUIRE(Read(store.get(), kUpperKind, INT64_MIN, INT64_MAX, &s) ==
          want_upper);
  REQUIRE(s.ok());
  REQUIRE(want_upper.size() == 230);  // from the 11th sample on
  // Not configured: nothing.
  REQUIRE(Read(store.get(), Kind(ewma::Output::kStddev),
               INT64_MIN, INT64_MAX, &s)
              .empty());
  REQUIRE(s.ok());

  // A range inside the first raw chunk but before any upper_threshold
  // sample: the derived chunk's own range decides. (Chunks overlapping the
  // range come whole; readers cut them.)
  REQUIRE(Read(store.get(), kUpperKind, 0, 50000, &s).empty());
  REQUIRE(Read(store.get(), kEwmaKind, 0, 50000, &s).size() == 120);

  SECTION("after a reopen, from table files") {
    store.reset();
    store = OpenStore(dir.path());
    REQUIRE(Read(store.get(), kEwmaKind, INT64_MIN, INT64_MAX, &s) ==
            want_ewma);
    REQUIRE(s.ok());
  }
  SECTION("a damaged chunk is reported, for its outputs too") {
    REQUIRE(store->CorruptChunksForTest(kSeries, 30).ok());
    for (Kind kind : {kRaw, kEwmaKind}) {
      Read(store.get(), kind, INT64_MIN, INT64_MAX, &s);
      REQUIRE(s.code() == StatusCode::kCorruption);
      REQUIRE_THAT(s.message(), Catch::Contains("checksum mismatch"));
    }
  }
}

TEST_CASE("a ChunkReader kept from series to series reads what a new "
          "iterator would, chunks stored since included") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto chunk_of = [](uint64_t series, const Samples& samples) {
    head::SealedChunk c = Chunk(samples, head::ChunkDerivation{});
    c.labels_hash = series;
    return c;
  };
  const Samples early = Series(0, 120);
  const Samples later = Series(1'200'000, 120);
  REQUIRE(store
              ->WriteChunks({chunk_of(1, early), chunk_of(2, early),
                             chunk_of(3, early)})
              .ok());
  ChunkReader reader;
  auto read = [&](uint64_t series) {
    Samples out;
    Status s = store->ReadChunks(
        series, kRaw, INT64_MIN, INT64_MAX,
        [&](const ChunkView& c) {
          Samples decoded;
          Status d = codec::DecodeXorChunk(c.bytes, &decoded);
          out.insert(out.end(), decoded.begin(), decoded.end());
          return d;
        },
        &reader);
    REQUIRE(s.ok());
    return out;
  };
  // In and out of key order.
  CHECK(read(1) == early);
  CHECK(read(3) == early);
  CHECK(read(2) == early);
  CHECK(read(4).empty());
  // Stored after the reader's iterator was opened: the next call sees it.
  REQUIRE(store->WriteChunks({chunk_of(2, later)}).ok());
  Samples both = early;
  both.insert(both.end(), later.begin(), later.end());
  CHECK(read(2) == both);
  CHECK(read(1) == early);
}

TEST_CASE("a derivation that cannot be replayed is Corruption naming the chunk") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Status s;
  SECTION("samples out of order") {
    const Samples backwards = {{20000, 1}, {10000, 2}};
    REQUIRE(store->WriteChunks({Chunk(backwards, After({}))}).ok());
    Read(store.get(), kEwmaKind, INT64_MIN, INT64_MAX, &s);
    REQUIRE(s.code() == StatusCode::kCorruption);
    REQUIRE_THAT(s.message(), Catch::StartsWith("chunk ") &&
                                  Catch::EndsWith(": raw chunk does not "
                                                  "replay at timestamp 10000"));
  }
  SECTION("a field no writer produces") {
    head::ChunkDerivation d = After({});
    d.params.threshold_basis = static_cast<ewma::ThresholdBasis>(7);
    REQUIRE(store->WriteChunks({Chunk(Series(0, 3), d)}).ok());
    for (Kind kind : {kRaw, kEwmaKind}) {
      Read(store.get(), kind, INT64_MIN, INT64_MAX, &s);
      REQUIRE(s.code() == StatusCode::kCorruption);
      REQUIRE_THAT(s.message(), Catch::EndsWith(": malformed derivation"));
    }
  }
}

TEST_CASE("retention drops whole buckets before the one given") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  const int64_t bucket_ms = store->options().chunk_bucket_ms;
  // One chunk in each of the buckets -1, 0, 1 and 2, in one series.
  std::vector<head::SealedChunk> chunks;
  Samples before;
  for (int b = -1; b <= 2; ++b) {
    const Samples part = Series(b * bucket_ms, 3);
    chunks.push_back(Chunk(part, After(before)));
    before.insert(before.end(), part.begin(), part.end());
  }
  REQUIRE(store->WriteChunks(chunks).ok());
  Status s;
  REQUIRE(Read(store.get(), kRaw, INT64_MIN, INT64_MAX, &s) == before);
  REQUIRE(store->DropBucketsBefore(1).ok());
  const Samples kept(before.end() - 6, before.end());
  REQUIRE(Read(store.get(), kRaw, INT64_MIN, INT64_MAX, &s) == kept);
  REQUIRE(s.ok());
}

}  // namespace
}  // namespace promewma::store

namespace promewma::store {
namespace {

// Chunks read back go into the block cache only with cache_reads: by
// default their data blocks come from the kernel's page cache, since a
// read larger than the cache would only evict itself (ScanOptions).
TEST_CASE("the store's memory shows memtables filling, and chunks read back in the block cache only with cache_reads") {
  const bool cache_reads = GENERATE(false, true);
  INFO("cache_reads: " << cache_reads);
  TempDir dir;
  StoreOptions options{dir.path()};
  options.memtable_bytes = 8 << 20;
  options.block_cache_bytes = 4 << 20;
  options.cache_reads = cache_reads;
  auto opened = Store::Open(options);
  REQUIRE(opened.ok());
  Store& store = **opened;
  const StoreMemory empty = store.Memory();

  // Chunks of many series go to the memtable first.
  std::vector<head::SealedChunk> chunks;
  for (uint64_t series = 1; series <= 2000; ++series) {
    codec::XorChunkAppender app;
    for (int i = 0; i < 120; ++i)
      app.Append(i * 10000, static_cast<double>((series * 7919 + i) % 101));
    chunks.push_back(head::SealedChunk{series, app.min_time(), app.max_time(),
                                       std::string(app.bytes()),
                                       head::ChunkDerivation{}});
  }
  REQUIRE(store.WriteChunks(chunks).ok());
  const StoreMemory written = store.Memory();
  CHECK(written.memtables > empty.memtables + 200'000);

  // A checkpoint flushes them to a table file: the memtable empties. The
  // chunks, about 400 KB of blocks, are then read back.
  REQUIRE(store
              .WriteCheckpoint(1,
                               [](const auto& add) { return add("record"); })
              .ok());
  const StoreMemory flushed = store.Memory();
  CHECK(flushed.memtables < written.memtables);
  for (uint64_t series = 1; series <= 2000; series += 10) {
    REQUIRE(store
                .ReadChunks(series, kRaw, 0, 2'000'000,
                            [](const ChunkView&) { return Status::Ok(); })
                .ok());
  }
  const StoreMemory read = store.Memory();
  INFO("block cache after the flush: " << flushed.block_cache
                                       << " bytes, after the reads: "
                                       << read.block_cache);
  if (cache_reads) {
    CHECK(read.block_cache > flushed.block_cache + (200 << 10));
    // Within the bound the options set, the memtables' charge apart.
    CHECK(read.block_cache <=
          options.memtable_bytes + options.block_cache_bytes);
  } else {
    // The table's index and filter blocks may come in; its data blocks not.
    CHECK(read.block_cache < flushed.block_cache + (32 << 10));
  }
  CHECK(read.memtables == flushed.memtables);
}

}  // namespace
}  // namespace promewma::store
