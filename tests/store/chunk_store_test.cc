// Sealed chunks in the store: a raw chunk is stored with its derivation and
// its outputs are derived when read; chunks stored in the older layout
// (outputs as chunks of their own) read alongside.

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "codec/xor_chunk.h"
#include "ewma/engine.h"
#include "ewma/series_estimator.h"
#include "store/store.h"
#include "testing/subprocess.h"

namespace promewma::store {
namespace {

using testing::TempDir;
using Samples = std::vector<std::pair<int64_t, double>>;

constexpr int64_t kBucketMs = 2 * 3600 * 1000;
constexpr uint64_t kSeries = 0x1234;
const uint8_t kEwmaKind = ewma::StoredKindOf(ewma::Output::kEwma);
const uint8_t kUpperKind = ewma::StoredKindOf(ewma::Output::kUpperThreshold);

std::unique_ptr<Store> OpenStore(const std::string& dir) {
  auto store = Store::Open(StoreOptions{dir});
  REQUIRE(store.ok());
  return std::move(store).value();
}

StoredChunk Chunk(uint8_t kind, const Samples& samples,
                  std::optional<ewma::ChunkDerivation> derivation) {
  codec::XorChunkAppender app;
  for (const auto& [t, v] : samples) app.Append(t, v);
  return StoredChunk{kSeries,
                     kind,
                     app.min_time(),
                     app.max_time(),
                     std::string(app.bytes()),
                     std::move(derivation)};
}

Samples Read(Store* store, uint8_t kind, int64_t start, int64_t end,
             Status* status) {
  Samples out;
  *status = store->ReadChunks(
      kSeries, kind, start, end, kBucketMs, [&](const StoredChunkView& c) {
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
// default parameters, as the engine carries the state over.
ewma::ChunkDerivation After(const Samples& before) {
  ewma::ChunkDerivation d;
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
  ewma::ChunkDerivation d1;  // a fresh series: empty state, defaults
  // The state after the first chunk, as the engine would carry it over.
  const ewma::ChunkDerivation d2 = After(first);
  REQUIRE(store
              ->WriteChunks({Chunk(ewma::kRawKind, first, d1),
                             Chunk(ewma::kRawKind, second, d2)},
                            kBucketMs)
              .ok());

  Status s;
  // Raw reads get the raw chunk bytes, without the derivation.
  REQUIRE(Read(store.get(), ewma::kRawKind, INT64_MIN, INT64_MAX, &s) == all);
  REQUIRE(s.ok());
  const auto [want_ewma, want_upper] = Reference(d1.params, {}, all);
  REQUIRE(Read(store.get(), kEwmaKind, INT64_MIN, INT64_MAX, &s) == want_ewma);
  REQUIRE(s.ok());
  REQUIRE(Read(store.get(), kUpperKind, INT64_MIN, INT64_MAX, &s) ==
          want_upper);
  REQUIRE(s.ok());
  REQUIRE(want_upper.size() == 230);  // from the 11th sample on
  // Not configured: nothing.
  REQUIRE(Read(store.get(), ewma::StoredKindOf(ewma::Output::kStddev),
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
    REQUIRE(store->CorruptChunksForTest(kSeries, ewma::kRawKind, 30).ok());
    for (uint8_t kind : {ewma::kRawKind, kEwmaKind}) {
      Read(store.get(), kind, INT64_MIN, INT64_MAX, &s);
      REQUIRE(s.code() == StatusCode::kCorruption);
      REQUIRE_THAT(s.message(), Catch::Contains("checksum mismatch"));
    }
  }
}

TEST_CASE("a derivation that cannot be replayed is Corruption naming the chunk") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  Status s;
  SECTION("samples out of order") {
    const Samples backwards = {{20000, 1}, {10000, 2}};
    REQUIRE(store->WriteChunks({Chunk(ewma::kRawKind, backwards, After({}))},
                               kBucketMs)
                .ok());
    Read(store.get(), kEwmaKind, INT64_MIN, INT64_MAX, &s);
    REQUIRE(s.code() == StatusCode::kCorruption);
    REQUIRE_THAT(s.message(), Catch::StartsWith("chunk ") &&
                                  Catch::EndsWith(": raw chunk does not "
                                                  "replay at timestamp 10000"));
  }
  SECTION("a field no writer produces") {
    ewma::ChunkDerivation d = After({});
    d.params.threshold_basis = static_cast<ewma::ThresholdBasis>(7);
    REQUIRE(
        store->WriteChunks({Chunk(ewma::kRawKind, Series(0, 3), d)}, kBucketMs)
            .ok());
    for (uint8_t kind : {ewma::kRawKind, kEwmaKind}) {
      Read(store.get(), kind, INT64_MIN, INT64_MAX, &s);
      REQUIRE(s.code() == StatusCode::kCorruption);
      REQUIRE_THAT(s.message(), Catch::EndsWith(": malformed derivation"));
    }
  }
}

TEST_CASE("chunks of the older layout read alongside derived ones") {
  TempDir dir;
  auto store = OpenStore(dir.path());
  const Samples all = Series(0, 200);
  const Samples old_part(all.begin(), all.begin() + 80);
  const Samples new_part(all.begin() + 80, all.end());
  const ewma::ChunkDerivation d = After(old_part);
  const auto [want_ewma, want_upper] = Reference(d.params, {}, all);
  // The older layout: raw and each output as chunks of their own.
  const auto [old_ewma, old_upper] = Reference(d.params, {}, old_part);
  REQUIRE(store
              ->WriteChunks({Chunk(ewma::kRawKind, old_part, std::nullopt),
                             Chunk(kEwmaKind, old_ewma, std::nullopt),
                             Chunk(kUpperKind, old_upper, std::nullopt),
                             Chunk(ewma::kRawKind, new_part, d)},
                            kBucketMs)
              .ok());
  Status s;
  REQUIRE(Read(store.get(), ewma::kRawKind, INT64_MIN, INT64_MAX, &s) == all);
  REQUIRE(Read(store.get(), kEwmaKind, INT64_MIN, INT64_MAX, &s) == want_ewma);
  REQUIRE(Read(store.get(), kUpperKind, INT64_MIN, INT64_MAX, &s) ==
          want_upper);
  REQUIRE(s.ok());
  // A range that ends inside the older chunks still finds the newer ones'
  // start correctly excluded, and one that starts after them skips them.
  const int64_t boundary = new_part.front().first;
  REQUIRE(Read(store.get(), kEwmaKind, 0, boundary - 1, &s) == old_ewma);
  const Samples tail(want_ewma.begin() + 80, want_ewma.end());
  REQUIRE(Read(store.get(), kEwmaKind, boundary, INT64_MAX, &s) == tail);
}

TEST_CASE("a chunk stored in both layouts is read once") {
  // An older promewma stored a chunk, crashed before its checkpoint, and
  // this one's replay of the log stored the same chunk again, with its
  // derivation.
  TempDir dir;
  auto store = OpenStore(dir.path());
  const Samples all = Series(0, 200);
  const Samples first(all.begin(), all.begin() + 120);
  const Samples rest(all.begin() + 120, all.end());
  const ewma::ChunkDerivation d1 = After({}), d2 = After(first);
  const auto [want_ewma, want_upper] = Reference(d1.params, {}, all);
  const auto [old_ewma, old_upper] = Reference(d1.params, {}, first);
  REQUIRE(store
              ->WriteChunks({Chunk(ewma::kRawKind, first, std::nullopt),
                             Chunk(kEwmaKind, old_ewma, std::nullopt),
                             Chunk(kUpperKind, old_upper, std::nullopt),
                             Chunk(ewma::kRawKind, first, d1),
                             Chunk(ewma::kRawKind, rest, d2)},
                            kBucketMs)
              .ok());
  Status s;
  REQUIRE(Read(store.get(), ewma::kRawKind, INT64_MIN, INT64_MAX, &s) == all);
  REQUIRE(Read(store.get(), kEwmaKind, INT64_MIN, INT64_MAX, &s) == want_ewma);
  REQUIRE(Read(store.get(), kUpperKind, INT64_MIN, INT64_MAX, &s) ==
          want_upper);
  REQUIRE(s.ok());
}

}  // namespace
}  // namespace promewma::store
