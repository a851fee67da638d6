#include "head/head.h"

#include <catch2/catch.hpp>
#include <malloc.h>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "codec/xor_chunk.h"
#include "head/series_table.h"
#include "testing/remote_write.h"

namespace promewma::head {
namespace {

using ewma::DerivedValues;
using ewma::EstimatorParams;
using ewma::EstimatorState;
using ewma::kDefaultOutputs;
using ewma::kOutputCount;
using ewma::kStaleNaNBits;
using ewma::Output;
using ewma::OutputBit;
using ewma::StaleMarker;
using ewma::UpdateEstimator;

// Which series of an input a chunk holds: its raw samples (nullopt) or an
// output.
using Kind = std::optional<Output>;
constexpr Kind kRaw = std::nullopt;

// A chunk a test looks at: a sealed raw chunk, or an output derived from it.
struct TestChunk {
  uint64_t labels_hash;
  Kind kind;
  int64_t min_time_ms;
  int64_t max_time_ms;
  std::string bytes;
};

using testing::SerializeWriteRequest;
using testing::TestSeries;

// Applies `series` as one request; keeps the body alive while applying.
ApplyResult ApplySeries(Head& engine, const std::vector<TestSeries>& series) {
  const std::string body = SerializeWriteRequest(series);
  codec::DecodedWriteRequest decoded;
  Status s = codec::DecodeWriteRequest(body, &decoded);
  REQUIRE(s.ok());
  ApplyResult result;
  s = engine.Apply(decoded, &result);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return result;
}

// Latest values by "series text" -> ewma.
std::map<std::string, std::pair<int64_t, double>> LatestEwma(const Head& e) {
  std::map<std::string, std::pair<int64_t, double>> out;
  e.VisitLatest([&](const LatestDerived& d) {
    out[d.labels.ToString()] = {d.timestamp_ms, d.values.get(Output::kEwma)};
  });
  return out;
}

TEST_CASE("a reused ApplyResult reports the last request only") {
  HeadOptions options;
  options.collect_derived = true;
  Head engine{options};
  std::string body;  // the decoded request points into it
  auto decode = [&body](const std::vector<TestSeries>& series,
                        codec::DecodedWriteRequest* out) {
    body = SerializeWriteRequest(series);
    REQUIRE(codec::DecodeWriteRequest(body, out).ok());
  };
  TestSeries cpu;
  cpu.labels = {{"__name__", "cpu"}};
  for (int i = 0; i < 121; ++i) cpu.samples.push_back({i * 1000, 1.0 + i % 3});
  TestSeries looped;
  looped.labels = {{"__name__", "x:ewma"}};
  looped.samples = {{1, 1}};
  codec::DecodedWriteRequest decoded;
  decode({cpu, looped}, &decoded);
  ApplyResult r;
  REQUIRE(engine.Apply(decoded, &r).ok());
  REQUIRE(r.sealed.size() == 1);
  REQUIRE(r.derived.size() == 121);
  REQUIRE(r.dropped_by(DropReason::kDerivedSeries) == 1);

  cpu.samples = {{121000, 5}, {1000, 5}};
  decode({cpu}, &decoded);
  REQUIRE(engine.Apply(decoded, &r).ok());
  CHECK(r.received == 2);
  CHECK(r.applied == 1);
  CHECK(r.new_series == 0);
  CHECK(r.sealed.empty());
  REQUIRE(r.derived.size() == 1);
  CHECK(r.derived[0].timestamp_ms == 121000);
  CHECK(r.dropped_by(DropReason::kDerivedSeries) == 0);
  CHECK(r.dropped_by(DropReason::kOutOfOrder) == 1);
  CHECK(r.max_timestamp_ms == 121000);
}

TEST_CASE("series carrying a derived suffix are ignored and counted") {
  Head engine{HeadOptions{}};
  ApplyResult r = ApplySeries(
      engine, {{{{"__name__", "cpu:ewma"}}, {{1, 1}, {2, 2}}},
               {{{"__name__", "cpu:upper_threshold"}, {"a", "b"}}, {{1, 1}}},
               {{{"__name__", "cpu:anomaly_score"}}, {{1, 1}}},
               {{{"__name__", "cpu"}}, {{1, 1}}}});
  REQUIRE(r.received == 5);
  REQUIRE(r.applied == 1);
  REQUIRE(r.dropped_by(DropReason::kDerivedSeries) == 4);
  REQUIRE(engine.active_series() == 1);
  REQUIRE(engine.ignored_series() == 3);
  REQUIRE(LatestEwma(engine).size() == 1);
}

TEST_CASE("rules: first match wins, unmatched series are ignored") {
  HeadOptions options;
  SeriesRule fast{
      model::Selector::Parse("{__name__=\"cpu\",job=~\"node|vm\"}").value(),
      {}};
  fast.params.alpha = 0.5;
  SeriesRule slow{model::Selector::Parse("cpu").value(), {}};
  slow.params.alpha = 0.1;
  options.rules = {fast, slow};
  Head engine(options);
  ApplyResult r = ApplySeries(
      engine, {{{{"__name__", "cpu"}, {"job", "node"}}, {{1, 0}, {2, 10}}},
               {{{"__name__", "cpu"}, {"job", "db"}}, {{1, 0}, {2, 10}}},
               {{{"__name__", "mem"}, {"job", "node"}}, {{1, 0}, {2, 10}}}});
  REQUIRE(r.applied == 4);
  REQUIRE(r.dropped_by(DropReason::kUnmatched) == 2);
  auto latest = LatestEwma(engine);
  REQUIRE(latest.at("cpu{job=\"node\"}").second == 5);        // alpha 0.5
  REQUIRE(latest.at("cpu{job=\"db\"}").second == Approx(1));  // alpha 0.1
  REQUIRE(latest.count("mem{job=\"node\"}") == 0);
}

TEST_CASE("one series split over many TimeSeries entries keeps its order") {
  // Prometheus sends one sample per TimeSeries; the series repeats.
  Head engine{HeadOptions{}};
  std::vector<TestSeries> entries;
  for (int i = 0; i < 50; ++i) {
    entries.push_back(
        {{{"__name__", "cpu"}, {"host", "a"}}, {{i * 1000, double(i)}}});
    entries.push_back(
        {{{"__name__", "cpu"}, {"host", "b"}}, {{i * 1000, double(2 * i)}}});
  }
  ApplyResult r = ApplySeries(engine, entries);
  REQUIRE(r.applied == 100);
  REQUIRE(r.rejection.empty());
  REQUIRE(engine.active_series() == 2);
  auto latest = LatestEwma(engine);
  REQUIRE(latest.at("cpu{host=\"a\"}").first == 49000);
}

TEST_CASE(
    "rejected samples do not stop the others and the first bad series is named") {
  Head engine{HeadOptions{}};
  ApplySeries(engine, {{{{"__name__", "cpu"}, {"host", "a"}}, {{5000, 1}}},
                       {{{"__name__", "cpu"}, {"host", "b"}}, {{5000, 1}}}});
  // Many series so that the bad ones land in different shards.
  std::vector<TestSeries> request;
  for (int i = 0; i < 40; ++i) {
    request.push_back({{{"__name__", "cpu"}, {"host", "n" + std::to_string(i)}},
                       {{1000, 1}}});
  }
  request.push_back({{{"__name__", "cpu"}, {"host", "b"}}, {{4000, 1}}});
  request.push_back(
      {{{"__name__", "cpu"}, {"host", "a"}}, {{5000, 2}, {6000, 3}}});
  ApplyResult r = ApplySeries(engine, request);
  REQUIRE(r.applied == 41);
  REQUIRE(r.dropped_by(DropReason::kOutOfOrder) == 1);
  REQUIRE(r.dropped_by(DropReason::kConflict) == 1);
  REQUIRE(r.rejection ==
          "out of order sample for series cpu{host=\"b\"}: timestamp 4000 is "
          "older than the last one, 5000");
  REQUIRE(LatestEwma(engine).at("cpu{host=\"a\"}").first == 6000);
}

TEST_CASE("an invalid new series refuses the whole request, changing nothing") {
  Head engine{HeadOptions{}};
  ApplySeries(engine,
              {{{{"__name__", "cpu"}, {"host", "known"}}, {{1000, 1}}}});
  const std::string body = SerializeWriteRequest(
      {{{{"__name__", "cpu"}, {"host", "known"}}, {{2000, 5}}},
       {{{"__name__", "cpu"}, {"host", "new"}}, {{2000, 5}}},
       {{{"job", "no-name"}}, {{2000, 5}}}});
  codec::DecodedWriteRequest decoded;
  REQUIRE(codec::DecodeWriteRequest(body, &decoded).ok());
  ApplyResult r;
  Status s = engine.Apply(decoded, &r);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message() == "timeseries[2]: series has no __name__ label");
  REQUIRE(engine.active_series() == 1);
  auto latest = LatestEwma(engine);
  REQUIRE(latest.size() == 1);
  REQUIRE(latest.at("cpu{host=\"known\"}").first == 1000);
}

TEST_CASE("a new series over a label limit refuses the whole request") {
  HeadOptions options;
  options.limits.max_labels_per_series = 3;
  options.limits.max_label_name_length = 8;
  options.limits.max_label_value_length = 10;
  Head engine{options};
  ApplySeries(engine,
              {{{{"__name__", "cpu"}, {"host", "known"}}, {{1000, 1}}}});
  auto [labels, want_refusal, want_message] =
      GENERATE(table<std::vector<std::pair<std::string, std::string>>,
                     Refusal, std::string>({
          {{{"__name__", "cpu"}, {"a", "1"}, {"b", "2"}, {"c", "3"}},
           Refusal::kLabelsPerSeries,
           "timeseries[1]: series \"cpu\" has 4 labels, over "
           "limits.max_labels_per_series (3)"},
          {{{"__name__", "cpu"}, {"longer_name", "1"}},
           Refusal::kLabelNameLength,
           "timeseries[1]: label name \"longer_name\" is 11 bytes, over "
           "limits.max_label_name_length (8)"},
          {{{"__name__", "cpu"}, {"host", "eleven-byte"}},
           Refusal::kLabelValueLength,
           "timeseries[1]: value of label \"host\" is 11 bytes, over "
           "limits.max_label_value_length (10): \"eleven-byte\""},
      }));
  testing::TestSeries bad{labels, {{2000, 5}}};
  const std::string body = SerializeWriteRequest(
      {{{{"__name__", "cpu"}, {"host", "known"}}, {{2000, 5}}}, bad});
  codec::DecodedWriteRequest decoded;
  REQUIRE(codec::DecodeWriteRequest(body, &decoded).ok());
  Head::PreparedRequest prepared;
  Status s = engine.Prepare(decoded, &prepared);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message() == want_message);
  REQUIRE(prepared.refusal() == want_refusal);
  ApplyResult r;
  REQUIRE(engine.Apply(decoded, &r).code() == StatusCode::kInvalidArgument);
  REQUIRE(engine.active_series() == 1);
  REQUIRE(LatestEwma(engine).at("cpu{host=\"known\"}").first == 1000);
}

TEST_CASE("a known series is not checked against label limits again") {
  HeadOptions options;
  options.limits.max_labels_per_series = 2;
  Head engine{options};
  ApplySeries(engine, {{{{"__name__", "cpu"}, {"host", "a"}}, {{1000, 1}}}});
  REQUIRE(engine.active_series() == 1);
  ApplyResult r = ApplySeries(
      engine, {{{{"__name__", "cpu"}, {"host", "a"}}, {{2000, 1}}}});
  REQUIRE(r.applied == 1);
}

TEST_CASE("new series beyond max_active_series are refused, known ones go on") {
  HeadOptions options;
  options.limits.max_active_series = 2;
  Head engine{options};
  ApplySeries(engine, {{{{"__name__", "cpu"}, {"host", "a"}}, {{1000, 1}}}});
  ApplyResult r = ApplySeries(
      engine, {{{{"__name__", "cpu"}, {"host", "a"}}, {{2000, 2}}},
               {{{"__name__", "cpu"}, {"host", "b"}}, {{2000, 3}}},
               {{{"__name__", "cpu"}, {"host", "c"}}, {{2000, 4}}},
               {{{"__name__", "cpu:ewma"}, {"host", "d"}}, {{2000, 4}}}});
  REQUIRE(r.new_series == 1);
  REQUIRE(r.refused_series == 1);
  REQUIRE(r.refusal == Refusal::kActiveSeries);
  REQUIRE(r.applied == 2);
  REQUIRE(r.dropped_by(DropReason::kSeriesLimit) == 1);
  // Ignored series (a derived name) do not count towards the limit.
  REQUIRE(r.dropped_by(DropReason::kDerivedSeries) == 1);
  REQUIRE(engine.active_series() == 2);
  auto latest = LatestEwma(engine);
  REQUIRE(latest.size() == 2);
  REQUIRE(latest.at("cpu{host=\"a\"}").first == 2000);
  // Known series keep working at the limit (b or c: series are created in
  // shard order).
  r = ApplySeries(engine, {{{{"__name__", "cpu"}, {"host", "a"}}, {{3000, 3}}},
                           {{{"__name__", "cpu"}, {"host", "b"}}, {{3000, 3}}},
                           {{{"__name__", "cpu"}, {"host", "c"}}, {{3000, 3}}}});
  REQUIRE(r.applied == 2);
  REQUIRE(r.refused_series == 1);
  REQUIRE(engine.active_series() == 2);
}

using ChurnLabels = std::vector<std::pair<std::string, std::string>>;

// A head on a clock the test moves.
struct ChurnFixture {
  int64_t now = 0;
  HeadOptions options;
  std::unique_ptr<Head> engine;

  explicit ChurnFixture(int64_t idle_timeout_ms =
                            HeadOptions::kIdleTimeoutResetAfter) {
    options.series_idle_timeout_ms = idle_timeout_ms;
    options.clock = [this] { return now; };
    engine = std::make_unique<Head>(options);
  }
  // Every shard's idle series.
  uint64_t Drop(std::vector<SealedChunk>* sealed,
                std::vector<DroppedSeries>* dropped) {
    uint64_t total = 0;
    for (size_t shard = 0; shard < Head::kShardCount; ++shard) {
      total += engine->DropIdleSeries(shard, sealed, dropped);
    }
    return total;
  }
};

// A request decoded and prepared, to be committed later: the body holds
// the bytes the decoded request's labels point into.
struct PreparedBody {
  std::string body;
  codec::DecodedWriteRequest decoded;
  Head::PreparedRequest prepared;

  PreparedBody(Head& engine, const std::vector<TestSeries>& series)
      : body(SerializeWriteRequest(series)) {
    REQUIRE(codec::DecodeWriteRequest(body, &decoded).ok());
    REQUIRE(engine.Prepare(decoded, &prepared).ok());
  }
};

constexpr int64_t kMinute = 60 * 1000;

TEST_CASE("a series idle for reset_after is dropped, its open head sealed") {
  ChurnFixture f;  // idle timeout: reset_after, 1h by default
  const ChurnLabels a = {{"__name__", "cpu"}, {"host", "a"}};
  const ChurnLabels b = {{"__name__", "cpu"}, {"host", "b"}};
  ApplySeries(*f.engine, {{a, {{1000, 1}, {2000, 2}, {3000, 3}}},
                          {b, {{1000, 5}}}});
  f.now = 30 * kMinute;
  ApplySeries(*f.engine, {{b, {{4000, 6}}}});
  f.now = 60 * kMinute;
  std::vector<SealedChunk> sealed;
  std::vector<DroppedSeries> dropped;
  REQUIRE(f.Drop(&sealed, &dropped) == 1);
  REQUIRE(f.engine->active_series() == 1);
  REQUIRE(dropped.size() == 1);
  REQUIRE(model::LabelSetView(dropped[0].labels).ToString() ==
          "cpu{host=\"a\"}");
  REQUIRE(dropped[0].labels_hash == model::HashLabelSet(dropped[0].labels));
  REQUIRE(dropped[0].outputs == kDefaultOutputs);
  REQUIRE(dropped[0].last_timestamp_ms == 3000);
  REQUIRE(sealed.size() == 1);
  REQUIRE(sealed[0].labels_hash == dropped[0].labels_hash);
  REQUIRE(sealed[0].min_time_ms == 1000);
  REQUIRE(sealed[0].max_time_ms == 3000);
  auto latest = LatestEwma(*f.engine);
  REQUIRE(latest.size() == 1);
  REQUIRE(latest.count("cpu{host=\"b\"}") == 1);
  // Dropping again finds nothing new.
  sealed.clear();
  dropped.clear();
  REQUIRE(f.Drop(&sealed, &dropped) == 0);

  // It comes back: afresh, as after reset_after (an older timestamp than
  // its last one is accepted too, since that one is forgotten).
  ApplyResult r = ApplySeries(*f.engine, {{a, {{2500, 40}}}});
  REQUIRE(r.new_series == 1);
  REQUIRE(r.applied == 1);
  REQUIRE(LatestEwma(*f.engine).at("cpu{host=\"a\"}") ==
          std::make_pair(int64_t{2500}, 40.0));
  REQUIRE(f.engine->active_series() == 2);
}

TEST_CASE("after a stale marker a series is dropped within 5 minutes") {
  ChurnFixture f;
  const ChurnLabels a = {{"__name__", "cpu"}, {"host", "a"}};
  const ChurnLabels b = {{"__name__", "cpu"}, {"host", "b"}};
  ApplySeries(*f.engine,
              {{a, {{1000, 1}, {2000, StaleMarker()}}}, {b, {{1000, 1}}}});
  std::vector<SealedChunk> sealed;
  std::vector<DroppedSeries> dropped;
  f.now = 5 * kMinute - 1;
  REQUIRE(f.Drop(&sealed, &dropped) == 0);
  f.now = 5 * kMinute;
  REQUIRE(f.Drop(&sealed, &dropped) == 1);
  REQUIRE(model::LabelSetView(dropped.at(0).labels).ToString() ==
          "cpu{host=\"a\"}");
  // The stale marker is in the sealed head, bit-exact.
  REQUIRE(sealed.at(0).max_time_ms == 2000);
}

TEST_CASE("series_idle_timeout chooses the timeout, 0 keeps every series") {
  SECTION("0") {
    ChurnFixture f(0);
    ApplySeries(*f.engine, {{{{"__name__", "cpu"}, {"host", "a"}}, {{1, 1}}}});
    f.now = 1000 * kMinute;
    std::vector<SealedChunk> sealed;
    std::vector<DroppedSeries> dropped;
    REQUIRE(f.Drop(&sealed, &dropped) == 0);
  }
  SECTION("10m, ignored series included") {
    ChurnFixture f(10 * kMinute);
    ApplySeries(*f.engine,
                {{{{"__name__", "cpu"}, {"host", "a"}}, {{1, 1}}},
                 {{{"__name__", "cpu:ewma"}, {"host", "a"}}, {{1, 1}}}});
    REQUIRE(f.engine->ignored_series() == 1);
    std::vector<SealedChunk> sealed;
    std::vector<DroppedSeries> dropped;
    f.now = 10 * kMinute - 1;
    REQUIRE(f.Drop(&sealed, &dropped) == 0);
    f.now = 10 * kMinute;
    REQUIRE(f.Drop(&sealed, &dropped) == 2);
    REQUIRE(dropped.size() == 1);  // the processed one
    REQUIRE(f.engine->ignored_series() == 0);
    REQUIRE(f.engine->active_series() == 0);
  }
}

TEST_CASE("a request prepared before a drop creates its series afresh") {
  ChurnFixture f(kMinute);
  const ChurnLabels a = {{"__name__", "cpu"}, {"host", "a"}};
  ApplySeries(*f.engine, {{a, {{1000, 1}}}});
  PreparedBody request(*f.engine, {{a, {{2000, 9}}}});
  f.now = kMinute;
  std::vector<SealedChunk> sealed;
  std::vector<DroppedSeries> dropped;
  REQUIRE(f.Drop(&sealed, &dropped) == 1);
  ApplyResult r;
  f.engine->Commit(request.decoded, &request.prepared, &r);
  REQUIRE(r.new_series == 1);
  REQUIRE(r.applied == 1);
  REQUIRE(LatestEwma(*f.engine).at("cpu{host=\"a\"}") ==
          std::make_pair(int64_t{2000}, 9.0));
}

TEST_CASE("dropped shard by shard, each idle series goes once, and a "
          "request prepared before creates its series afresh") {
  ChurnFixture f(kMinute);
  constexpr int kSeries = 200;
  std::vector<TestSeries> first, second;
  for (int i = 0; i < kSeries; ++i) {
    const ChurnLabels labels = {{"__name__", "cpu"},
                                {"host", "h" + std::to_string(i)}};
    first.push_back({labels, {{1000, 1.0 * i}}});
    second.push_back({labels, {{2000, 2.0 * i}}});
  }
  ApplySeries(*f.engine, first);
  PreparedBody request(*f.engine, second);
  f.now = kMinute;
  std::vector<SealedChunk> sealed;
  std::vector<DroppedSeries> dropped;
  uint64_t total = 0;
  int shards_with_drops = 0;
  for (size_t shard = 0; shard < Head::kShardCount; ++shard) {
    const uint64_t n = f.engine->DropIdleSeries(shard, &sealed, &dropped);
    total += n;
    shards_with_drops += n > 0;
    REQUIRE(f.engine->active_series() == kSeries - total);
  }
  REQUIRE(total == kSeries);
  REQUIRE(shards_with_drops > 1);
  std::set<std::string> names;
  for (const DroppedSeries& d : dropped) {
    names.insert(model::LabelSetView(d.labels).ToString());
  }
  REQUIRE(names.size() == kSeries);
  REQUIRE(sealed.size() == kSeries);
  // Its pointers are to freed slots now: Commit must look every series up.
  ApplyResult r;
  f.engine->Commit(request.decoded, &request.prepared, &r);
  REQUIRE(r.new_series == kSeries);
  REQUIRE(r.applied == kSeries);
  REQUIRE(LatestEwma(*f.engine).at("cpu{host=\"h7\"}") ==
          std::make_pair(int64_t{2000}, 14.0));
}

TEST_CASE("generations of churned series: the head's memory follows the "
          "active set") {
  ChurnFixture f(kMinute);
  constexpr int kGenerations = 12;
  constexpr int kSeries = 3000;
  std::vector<uint64_t> bytes;
  for (int g = 0; g < kGenerations; ++g) {
    std::vector<TestSeries> request;
    for (int i = 0; i < kSeries; ++i) {
      request.push_back(
          {{{"__name__", "cpu"},
            {"pod", "gen" + std::to_string(g) + "-pod-" + std::to_string(i)}},
           {{g * 1000 + 1, 1.0 * i}, {g * 1000 + 2, 2.0 * i}}});
    }
    ApplySeries(*f.engine, request);
    REQUIRE(f.engine->active_series() == kSeries);
    bytes.push_back(f.engine->MemoryBytes());
    f.now += kMinute;
    std::vector<SealedChunk> sealed;
    std::vector<DroppedSeries> dropped;
    REQUIRE(f.Drop(&sealed, &dropped) == kSeries);
    REQUIRE(f.engine->active_series() == 0);
    f.engine->ReleaseRetiredLabels();
  }
  std::string all;
  for (uint64_t b : bytes) all += std::to_string(b >> 10) + " KiB ";
  INFO("head bytes with each generation: " << all);
  // Slots, index and label blocks are reused: generation 12 holds what
  // generation 2 did, not 12 times one generation.
  CHECK(bytes.back() <= bytes[1] + bytes[1] / 4);
}

TEST_CASE("SeriesTable: erasing keeps every other entry findable") {
  struct Item {
    std::string text;
    std::string_view labels() const { return text; }
  };
  std::vector<Item> items(2000);
  SeriesTable<Item> table;
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].text = "series-" + std::to_string(i);
    // Few distinct low bits: long probe runs that wrap around the table.
    table.Insert((i * 0x9E3779B97F4A7C15ull) & ~0xF0ull, &items[i]);
  }
  auto hash = [](size_t i) { return (i * 0x9E3779B97F4A7C15ull) & ~0xF0ull; };
  for (size_t i = 0; i < items.size(); i += 3) table.Erase(hash(i), &items[i]);
  for (size_t i = 0; i < items.size(); ++i) {
    Item* found = table.Find(hash(i), items[i].text);
    INFO(i);
    REQUIRE(found == (i % 3 == 0 ? nullptr : &items[i]));
  }
  REQUIRE(table.size() == items.size() - (items.size() + 2) / 3);
}

TEST_CASE("native histograms are counted, not processed") {
  const std::string body =
      SerializeWriteRequest({{{{"__name__", "lat"}}, {}, /*histograms=*/1}});
  codec::DecodedWriteRequest decoded;
  REQUIRE(codec::DecodeWriteRequest(body, &decoded).ok());
  Head engine{HeadOptions{}};
  ApplyResult r;
  REQUIRE(engine.Apply(decoded, &r).ok());
  REQUIRE(r.received == 1);
  REQUIRE(r.dropped_by(DropReason::kHistogram) == 1);
}

TEST_CASE("concurrent requests give the same state as serial ones") {
  // Two writers with disjoint series, as two Prometheus shards would be.
  auto requests_for = [](int writer) {
    std::vector<std::vector<TestSeries>> out;
    for (int t = 0; t < 200; ++t) {
      std::vector<TestSeries> req;
      for (int s = 0; s < 50; ++s) {
        req.push_back(
            {{{"__name__", "cpu"},
              {"host", "w" + std::to_string(writer) + "-" + std::to_string(s)}},
             {{t * 1000, double((t * 7 + s) % 13)}}});
      }
      out.push_back(req);
    }
    return out;
  };
  // No REQUIRE inside the threads: Catch2 assertions are not thread-safe.
  auto run = [&](Head& engine, int writer) {
    int failures = 0;
    codec::DecodedWriteRequest decoded;
    for (const auto& req : requests_for(writer)) {
      const std::string body = SerializeWriteRequest(req);
      if (!codec::DecodeWriteRequest(body, &decoded).ok()) ++failures;
      ApplyResult r;
      if (!engine.Apply(decoded, &r).ok() || r.applied != req.size())
        ++failures;
    }
    return failures;
  };
  Head serial{HeadOptions{}};
  REQUIRE(run(serial, 0) == 0);
  REQUIRE(run(serial, 1) == 0);
  Head parallel{HeadOptions{}};
  int failures_a = -1, failures_b = -1;
  std::thread a([&] { failures_a = run(parallel, 0); });
  std::thread b([&] { failures_b = run(parallel, 1); });
  a.join();
  b.join();
  REQUIRE(failures_a == 0);
  REQUIRE(failures_b == 0);
  REQUIRE(parallel.active_series() == 100);
  REQUIRE(LatestEwma(parallel) == LatestEwma(serial));
}


std::vector<std::pair<int64_t, double>> Decode(std::string_view bytes) {
  std::vector<std::pair<int64_t, double>> out;
  REQUIRE(codec::DecodeXorChunk(bytes, &out).ok());
  return out;
}

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

std::string CpuLabels() {
  std::vector<model::Label> l = {{"__name__", "cpu"}};
  std::string out;
  REQUIRE(model::EncodeLabelSet(&l, &out).ok());
  return out;
}

// The chunks sealed raw chunks stand for: each chunk, then every output
// derived from a raw one, as the store derives them when read.
std::vector<TestChunk> ChunksOf(const std::vector<SealedChunk>& sealed) {
  std::vector<TestChunk> chunks;
  for (const SealedChunk& c : sealed) {
    chunks.push_back(
        TestChunk{c.labels_hash, kRaw, c.min_time_ms, c.max_time_ms, c.bytes});
    for (int o = 0; o < kOutputCount; ++o) {
      codec::XorChunkAppender derived(0);
      REQUIRE(DeriveOutputChunk(c.derivation, c.bytes, static_cast<Output>(o),
                                &derived)
                  .ok());
      if (derived.num_samples() == 0) continue;
      chunks.push_back(TestChunk{c.labels_hash, static_cast<Output>(o),
                                 derived.min_time(), derived.max_time(),
                                 std::string(derived.bytes())});
    }
  }
  return chunks;
}

// Every stored sample of the "cpu" series by kind: sealed chunks in order,
// then the open head.
std::map<Kind, std::vector<std::pair<int64_t, double>>> StoredSamples(
    const Head& engine, const std::vector<TestChunk>& sealed) {
  std::map<Kind, std::vector<std::pair<int64_t, double>>> stored;
  for (const TestChunk& c : sealed) {
    auto decoded = Decode(c.bytes);
    REQUIRE(!decoded.empty());
    REQUIRE(c.min_time_ms == decoded.front().first);
    REQUIRE(c.max_time_ms == decoded.back().first);
    stored[c.kind].insert(stored[c.kind].end(), decoded.begin(), decoded.end());
  }
  const std::string labels = CpuLabels();
  for (int o = -1; o < kOutputCount; ++o) {
    const Kind kind = o < 0 ? kRaw : Kind(static_cast<Output>(o));
    HeadChunk head;
    REQUIRE(engine.CopyHeadChunk(model::HashLabelSet(labels), labels, kind,
                                 &head));
    if (!head.bytes.empty()) {
      auto open = Decode(head.bytes);
      REQUIRE(head.min_time_ms == open.front().first);
      REQUIRE(head.max_time_ms == open.back().first);
      stored[kind].insert(stored[kind].end(), open.begin(), open.end());
    }
  }
  return stored;
}

// What each output should store: the estimator run directly on the input.
std::map<Kind, std::vector<std::pair<int64_t, double>>> Reference(
    const EstimatorParams& params,
    const std::vector<std::pair<int64_t, double>>& samples) {
  std::map<Kind, std::vector<std::pair<int64_t, double>>> out;
  EstimatorState state;
  DerivedValues values;
  for (const auto& [t, v] : samples) {
    UpdateEstimator(params, &state, t, v, &values);
    for (int o = 0; o < kOutputCount; ++o) {
      if (values.present & (1u << o)) {
        out[static_cast<Output>(o)].push_back({t, values.value[o]});
      }
    }
  }
  return out;
}

TEST_CASE("raw and derived samples go into head chunks, sealed at 120") {
  HeadOptions options;
  options.defaults.outputs = kDefaultOutputs | OutputBit(Output::kStddev);
  Head engine{options};
  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 0; i < 250; ++i) samples.push_back({i * 10000, 40.0 + i % 7});
  ApplyResult r = ApplySeries(engine, {{{{"__name__", "cpu"}}, samples}});

  // Each output's chunks are cut with the raw chunk they derive from: at
  // the 121st and 241st raw sample. upper_threshold begins at the 11th
  // sample (min_samples 10, prior basis) and stddev at the 2nd, so their
  // first chunks are shorter.
  std::map<Kind, std::vector<size_t>> sizes;
  const std::vector<TestChunk> sealed = ChunksOf(r.sealed);
  REQUIRE(r.sealed.size() == 2);  // two raw heads, with their derivations
  for (const SealedChunk& c : r.sealed) {
    REQUIRE(c.derivation.params == options.defaults);
  }
  for (const TestChunk& c : sealed) {
    REQUIRE(c.labels_hash == model::HashLabelSet(CpuLabels()));
    sizes[c.kind].push_back(Decode(c.bytes).size());
  }
  using Sizes = std::vector<size_t>;
  REQUIRE(sizes[kRaw] == Sizes{120, 120});
  REQUIRE(sizes[Kind(Output::kEwma)] == Sizes{120, 120});
  REQUIRE(sizes[Kind(Output::kUpperThreshold)] == Sizes{110, 120});
  REQUIRE(sizes[Kind(Output::kStddev)] == Sizes{119, 120});
  REQUIRE(sealed.size() == 8);

  auto stored = StoredSamples(engine, sealed);
  REQUIRE(stored[kRaw] == samples);
  auto expected = Reference(options.defaults, samples);
  REQUIRE(expected.size() == 3);
  for (const auto& [kind, want] : expected) {
    INFO("output " << (kind ? int(*kind) : -1));
    REQUIRE(stored[kind] == want);
  }
  REQUIRE(stored.count(Kind(Output::kLowerThreshold)) == 0);
}

TEST_CASE("a restored series continues its head chunks exactly") {
  HeadOptions options;
  Head engine{options};
  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 0; i < 200; ++i) {
    samples.push_back({i * 10000, 30.0 + (i * 37 % 11) * 0.7});
  }
  const std::vector<std::pair<int64_t, double>> first(samples.begin(),
                                                      samples.begin() + 150);
  const std::vector<std::pair<int64_t, double>> second(samples.begin() + 150,
                                                       samples.end());
  ApplyResult r1 = ApplySeries(engine, {{{{"__name__", "cpu"}}, first}});

  Head restored{options};
  std::vector<SealedChunk> sealed_at_restore;
  engine.VisitSnapshots([&](const SeriesSnapshot& snapshot) {
    REQUIRE(snapshot.params == options.defaults);
    REQUIRE(restored.Restore(snapshot, &sealed_at_restore).ok());
  });
  REQUIRE(sealed_at_restore.empty());
  ApplyResult r2 = ApplySeries(restored, {{{{"__name__", "cpu"}}, second}});
  std::vector<TestChunk> sealed = ChunksOf(r1.sealed);
  for (const TestChunk& c : ChunksOf(r2.sealed)) sealed.push_back(c);
  auto stored = StoredSamples(restored, sealed);
  REQUIRE(stored[kRaw] == samples);
  for (const auto& [kind, want] : Reference(options.defaults, samples)) {
    REQUIRE(stored[kind] == want);
  }
}

TEST_CASE("with a season, chunks derived on read equal the live outputs, "
          "across a restore") {
  HeadOptions options;
  options.defaults.outputs = kDefaultOutputs | OutputBit(Output::kStddev);
  options.defaults.spread = ewma::SpreadKind::kErrorRms;
  options.defaults.spread_alpha = 2.0 / 1001.0;
  options.defaults.season_slots = 96;
  options.defaults.season_alpha = 2.0 / 15.0;
  options.defaults.season_min_history_ms = 6 * 3600 * 1000;
  Head engine{options};
  // Two days of 5-minute samples with a spike at 03:00 every day.
  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 0; i < 576; ++i) {
    const int64_t t = int64_t{1700000000000} + i * 300000;
    const bool night_job = (t / 300000) % 288 == 36;
    samples.push_back({t, 20.0 + (i * 37 % 11) * 0.7 + (night_job ? 40 : 0)});
  }
  const std::vector<std::pair<int64_t, double>> first(samples.begin(),
                                                      samples.begin() + 400);
  const std::vector<std::pair<int64_t, double>> second(samples.begin() + 400,
                                                       samples.end());
  ApplyResult r1 = ApplySeries(engine, {{{{"__name__", "cpu"}}, first}});
  Head restored{options};
  std::vector<SealedChunk> sealed_at_restore;
  engine.VisitSnapshots([&](const SeriesSnapshot& snapshot) {
    REQUIRE(snapshot.params == options.defaults);
    REQUIRE(snapshot.head_start.season != ewma::EmptySeasonProfile());
    REQUIRE(restored.Restore(snapshot, &sealed_at_restore).ok());
  });
  REQUIRE(sealed_at_restore.empty());
  ApplyResult r2 = ApplySeries(restored, {{{{"__name__", "cpu"}}, second}});
  std::vector<TestChunk> sealed = ChunksOf(r1.sealed);
  for (const TestChunk& c : ChunksOf(r2.sealed)) sealed.push_back(c);
  REQUIRE(sealed.size() > 10);
  auto stored = StoredSamples(restored, sealed);
  REQUIRE(stored[kRaw] == samples);
  const auto expected = Reference(options.defaults, samples);
  for (const auto& [kind, want] : expected) {
    INFO("output " << (kind ? int(*kind) : -1));
    REQUIRE(stored[kind] == want);
  }
  // The season is in use: the plain band differs from the seasonal one.
  EstimatorParams plain = options.defaults;
  plain.season_slots = 0;
  REQUIRE(Reference(plain, samples).at(Output::kUpperThreshold) !=
          expected.at(Output::kUpperThreshold));
}

TEST_CASE("a parameter change at restore seals the heads as computed") {
  Head engine{HeadOptions{}};
  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 0; i < 60; ++i) samples.push_back({i * 10000, 10.0 + i % 5});
  ApplySeries(engine, {{{{"__name__", "cpu"}}, samples}});

  HeadOptions changed;
  changed.defaults.alpha = 0.5;
  changed.defaults.outputs = OutputBit(Output::kEwma);
  Head restored{changed};
  std::vector<SealedChunk> sealed;
  engine.VisitSnapshots([&](const SeriesSnapshot& snapshot) {
    REQUIRE(restored.Restore(snapshot, &sealed).ok());
  });
  // Stored as received: the raw chunk, deriving the outputs of the old
  // parameters.
  REQUIRE(sealed.size() == 1);
  REQUIRE(sealed[0].derivation.params == EstimatorParams{});
  std::map<Kind, std::vector<std::pair<int64_t, double>>> by_kind;
  for (const TestChunk& c : ChunksOf(sealed))
    by_kind[c.kind] = Decode(c.bytes);
  REQUIRE(by_kind[kRaw] == samples);
  auto expected = Reference(EstimatorParams{}, samples);
  REQUIRE(by_kind.size() == 3);
  for (const auto& [kind, want] : expected) REQUIRE(by_kind[kind] == want);
  // The new head starts empty and uses the new parameters from here on.
  ApplySeries(restored, {{{{"__name__", "cpu"}}, {{600000, 20}}}});
  auto after = StoredSamples(restored, {});
  REQUIRE(after[kRaw] == std::vector<std::pair<int64_t, double>>{
                                 {600000, 20}});
  REQUIRE(after.count(Kind(Output::kUpperThreshold)) == 0);
  REQUIRE(after[Kind(Output::kEwma)].size() == 1);
}

TEST_CASE("a series no rule selects any more keeps its stored head") {
  Head engine{HeadOptions{}};
  ApplySeries(engine, {{{{"__name__", "cpu"}}, {{1000, 1}, {2000, 2}}}});
  HeadOptions only_mem;
  auto selector = model::Selector::Parse("{__name__=\"mem\"}");
  REQUIRE(selector.ok());
  only_mem.rules.push_back(SeriesRule{std::move(selector).value(), {}});
  Head restored{only_mem};
  std::vector<SealedChunk> sealed;
  engine.VisitSnapshots([&](const SeriesSnapshot& snapshot) {
    REQUIRE(restored.Restore(snapshot, &sealed).ok());
  });
  REQUIRE(restored.active_series() == 0);
  REQUIRE(sealed.size() == 1);  // the raw chunk, deriving ewma
  REQUIRE(Decode(sealed[0].bytes).size() == 2);
  const std::vector<TestChunk> chunks = ChunksOf(sealed);
  REQUIRE(chunks.size() == 2);
  REQUIRE(chunks[1].kind == Kind(Output::kEwma));
  REQUIRE(Decode(chunks[1].bytes).size() == 2);
}

// Rules selecting the series whose metric name matches `regex`, with
// `params`.
SeriesRule RuleFor(const std::string& regex, const EstimatorParams& params) {
  auto selector = model::Selector::Parse("{__name__=~\"" + regex + "\"}");
  REQUIRE(selector.ok());
  return SeriesRule{std::move(selector).value(), params};
}

TEST_CASE("a reload that keeps a series' parameters keeps its EWMA exactly") {
  // Same parameters, reached through a different rule list.
  HeadOptions before;
  before.rules.push_back(RuleFor("cpu|mem", EstimatorParams{}));
  HeadOptions after;
  EstimatorParams mem_params;
  mem_params.alpha = 0.5;
  after.rules.push_back(RuleFor("mem", mem_params));
  after.rules.push_back(RuleFor("cpu", EstimatorParams{}));
  Head reloaded{before};
  Head reference{before};
  std::vector<std::pair<int64_t, double>> first, second;
  for (int i = 0; i < 50; ++i) first.push_back({i * 10000, 10.0 + i % 7});
  for (int i = 50; i < 100; ++i) second.push_back({i * 10000, 10.0 + i % 7});
  ApplySeries(reloaded, {{{{"__name__", "cpu"}}, first}});
  ApplySeries(reference, {{{{"__name__", "cpu"}}, first}});

  std::vector<SealedChunk> sealed;
  std::vector<DroppedSeries> dropped;
  ReconfigureStats stats;
  reloaded.Reconfigure(after, &sealed, &dropped, &stats);
  REQUIRE(stats.unchanged == 1);
  REQUIRE(stats.restarted + stats.dropped + stats.forgotten == 0);
  REQUIRE(sealed.empty());
  REQUIRE(dropped.empty());

  ApplySeries(reloaded, {{{{"__name__", "cpu"}}, second}});
  ApplySeries(reference, {{{{"__name__", "cpu"}}, second}});
  const auto got = LatestEwma(reloaded);
  REQUIRE(got.size() == 1);
  REQUIRE(got == LatestEwma(reference));  // bit for bit: doubles compared
  REQUIRE(StoredSamples(reloaded, {}) == StoredSamples(reference, {}));
}

TEST_CASE("a reload that changes a series' parameters seals its head and "
          "starts it afresh") {
  Head engine{HeadOptions{}};
  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 0; i < 60; ++i) samples.push_back({i * 10000, 10.0 + i % 5});
  ApplySeries(engine, {{{{"__name__", "cpu"}}, samples}});

  HeadOptions changed;
  changed.defaults.alpha = 0.5;
  changed.defaults.outputs = OutputBit(Output::kEwma);
  std::vector<SealedChunk> sealed;
  std::vector<DroppedSeries> dropped;
  ReconfigureStats stats;
  engine.Reconfigure(changed, &sealed, &dropped, &stats);
  REQUIRE(stats.restarted == 1);
  REQUIRE(stats.unchanged == 0);
  REQUIRE(dropped.empty());
  REQUIRE(engine.active_series() == 1);
  // Stored as received: the raw head, deriving the old parameters' outputs.
  REQUIRE(sealed.size() == 1);
  REQUIRE(sealed[0].derivation.params == EstimatorParams{});
  std::map<Kind, std::vector<std::pair<int64_t, double>>> by_kind;
  for (const TestChunk& c : ChunksOf(sealed)) by_kind[c.kind] = Decode(c.bytes);
  REQUIRE(by_kind[kRaw] == samples);
  for (const auto& [kind, want] : Reference(EstimatorParams{}, samples)) {
    REQUIRE(by_kind[kind] == want);
  }
  // Nothing served from the old parameters until the next sample.
  REQUIRE(LatestEwma(engine).empty());
  // Afresh: the first sample is the mean, whatever came before.
  ApplySeries(engine, {{{{"__name__", "cpu"}}, {{600000, 20}}}});
  REQUIRE(LatestEwma(engine).begin()->second ==
          std::pair<int64_t, double>{600000, 20.0});
  ApplySeries(engine, {{{{"__name__", "cpu"}}, {{610000, 30}}}});
  REQUIRE(LatestEwma(engine).begin()->second.second == 25.0);  // alpha 0.5
  auto after = StoredSamples(engine, {});
  REQUIRE(after.count(Kind(Output::kUpperThreshold)) == 0);
  // Samples older than the last one accepted stay refused.
  ApplyResult old = ApplySeries(engine, {{{{"__name__", "cpu"}}, {{5000, 1}}}});
  REQUIRE(old.dropped_by(DropReason::kOutOfOrder) == 1);
}

TEST_CASE("a reload drops the series no rule selects and judges ignored "
          "series anew") {
  HeadOptions only_mem;
  only_mem.rules.push_back(RuleFor("mem", EstimatorParams{}));
  Head engine{only_mem};
  ApplySeries(engine, {{{{"__name__", "mem"}}, {{1000, 1}, {2000, 2}}},
                       {{{"__name__", "cpu"}}, {{1000, 5}}}});
  REQUIRE(engine.active_series() == 1);
  REQUIRE(engine.ignored_series() == 1);

  HeadOptions only_cpu;
  only_cpu.rules.push_back(RuleFor("cpu", EstimatorParams{}));
  std::vector<SealedChunk> sealed;
  std::vector<DroppedSeries> dropped;
  ReconfigureStats stats;
  engine.Reconfigure(only_cpu, &sealed, &dropped, &stats);
  REQUIRE(stats.dropped == 1);
  REQUIRE(stats.forgotten == 1);
  REQUIRE(engine.active_series() == 0);
  REQUIRE(engine.ignored_series() == 0);
  REQUIRE(dropped.size() == 1);
  REQUIRE(model::LabelSetView(dropped[0].labels).ToString() ==
          "mem{}");
  REQUIRE(dropped[0].last_timestamp_ms == 2000);
  REQUIRE(sealed.size() == 1);
  REQUIRE(Decode(sealed[0].bytes).size() == 2);

  ApplyResult r = ApplySeries(engine, {{{{"__name__", "mem"}}, {{3000, 3}}},
                                       {{{"__name__", "cpu"}}, {{3000, 6}}}});
  REQUIRE(r.new_series == 1);
  REQUIRE(r.dropped_by(DropReason::kUnmatched) == 1);
  const auto latest = LatestEwma(engine);
  REQUIRE(latest.size() == 1);
  REQUIRE(latest.begin()->first == "cpu{}");
  REQUIRE(latest.begin()->second == std::pair<int64_t, double>{3000, 6.0});
}

TEST_CASE("a reload's series limits apply to the series created after it") {
  Head engine{HeadOptions{}};
  ApplySeries(engine, {{{{"__name__", "a"}}, {{1000, 1}}},
                       {{{"__name__", "b"}}, {{1000, 1}}}});
  HeadOptions limited;
  limited.limits.max_active_series = 2;
  limited.limits.max_labels_per_series = 1;
  std::vector<SealedChunk> sealed;
  std::vector<DroppedSeries> dropped;
  ReconfigureStats stats;
  engine.Reconfigure(limited, &sealed, &dropped, &stats);
  REQUIRE(engine.limits().max_active_series == 2);
  // Known series go on; a new one is over the limit.
  ApplyResult r = ApplySeries(engine, {{{{"__name__", "a"}}, {{2000, 2}}},
                                       {{{"__name__", "c"}}, {{2000, 2}}}});
  REQUIRE(r.applied == 1);
  REQUIRE(r.refused_series == 1);
  // And a new series with two labels is refused for its label count.
  const std::string body =
      SerializeWriteRequest({{{{"__name__", "d"}, {"job", "x"}}, {{1, 1}}}});
  codec::DecodedWriteRequest decoded;
  REQUIRE(codec::DecodeWriteRequest(body, &decoded).ok());
  REQUIRE(!engine.Apply(decoded, &r).ok());
}

TEST_CASE("a head chunk is sealed where a time bucket ends") {
  HeadOptions options;
  options.chunk_bucket_ms = 60000;
  Head engine{options};
  ApplyResult r = ApplySeries(
      engine, {{{{"__name__", "cpu"}}, {{50000, 1}, {59999, 2}, {60000, 3}}}});
  const std::vector<TestChunk> sealed = ChunksOf(r.sealed);
  REQUIRE(sealed.size() == 2);  // raw and ewma, each [50000, 59999]
  for (const TestChunk& c : sealed) {
    REQUIRE(c.min_time_ms == 50000);
    REQUIRE(c.max_time_ms == 59999);
  }
}

TEST_CASE("DeriveOutputChunk derives what the parameters configure") {
  ChunkDerivation d;  // defaults: ewma and upper_threshold
  codec::XorChunkAppender raw;
  for (int i = 0; i < 15; ++i) raw.Append(1000 * (i + 1), 10.0 + i % 3);
  codec::XorChunkAppender out;
  REQUIRE(DeriveOutputChunk(d, raw.bytes(), Output::kEwma, &out).ok());
  REQUIRE(out.num_samples() == 15);
  // upper_threshold begins once the prior state holds min_samples (10).
  REQUIRE(
      DeriveOutputChunk(d, raw.bytes(), Output::kUpperThreshold, &out).ok());
  REQUIRE(out.num_samples() == 5);
  REQUIRE(out.min_time() == 11000);
  REQUIRE(DeriveOutputChunk(d, raw.bytes(), Output::kStddev, &out).ok());
  REQUIRE(out.num_samples() == 0);

  // Starting from a state that has seen enough, thresholds begin at once.
  d.start.count = 20;
  d.start.weight_sq = 0.1;
  d.start.mean = 10;
  d.start.spread = 1;
  d.start.last_sample_ms = 500;
  REQUIRE(
      DeriveOutputChunk(d, raw.bytes(), Output::kUpperThreshold, &out).ok());
  REQUIRE(out.num_samples() == 15);
}

TEST_CASE("DeriveOutputChunk refuses a raw chunk that does not replay") {
  codec::XorChunkAppender raw;
  raw.Append(2000, 1);
  raw.Append(1000, 2);  // older: the head never stores this
  codec::XorChunkAppender out;
  Status s =
      DeriveOutputChunk(ChunkDerivation{}, raw.bytes(), Output::kEwma, &out);
  REQUIRE(s.code() == StatusCode::kCorruption);
  REQUIRE(s.message() == "raw chunk does not replay at timestamp 1000");
  REQUIRE(DeriveOutputChunk(ChunkDerivation{}, "\x01", Output::kEwma, &out)
              .code() == StatusCode::kCorruption);
}

TEST_CASE("stale markers are stored bit-exact in raw and derived series") {
  Head engine{HeadOptions{}};
  ApplySeries(engine,
              {{{{"__name__", "cpu"}}, {{1000, 5}, {2000, StaleMarker()}}}});
  std::vector<model::Label> l = {{"__name__", "cpu"}};
  std::string labels;
  REQUIRE(model::EncodeLabelSet(&l, &labels).ok());
  for (Kind kind : {kRaw, Kind(Output::kEwma),
                    Kind(Output::kUpperThreshold)}) {
    HeadChunk head;
    REQUIRE(
        engine.CopyHeadChunk(model::HashLabelSet(labels), labels, kind, &head));
    auto samples = Decode(head.bytes);
    REQUIRE(samples.back().first == 2000);
    REQUIRE(Bits(samples.back().second) == kStaleNaNBits);
  }
}

}  // namespace
}  // namespace promewma::head

namespace promewma::head {
namespace {

TEST_CASE("the head's memory grows with its series and their head chunks") {
  Head engine{HeadOptions{}};
  const uint64_t empty = engine.MemoryBytes();
  REQUIRE(empty > 0);  // the shards, their label arenas and indexes

  auto batch = [](int first, int count, int samples) {
    std::vector<testing::TestSeries> series;
    for (int i = first; i < first + count; ++i) {
      testing::TestSeries s;
      s.labels = {{"__name__", "cpu"}, {"instance", "host-" + std::to_string(i)}};
      for (int j = 0; j < samples; ++j)
        s.samples.push_back({1000 * j, 0.5 + (i * 31 + j * 7) % 97});
      series.push_back(std::move(s));
    }
    return series;
  };
  ApplySeries(engine, batch(0, 1000, 1));
  const uint64_t thousand = engine.MemoryBytes();
  ApplySeries(engine, batch(1000, 1000, 1));
  const uint64_t two_thousand = engine.MemoryBytes();
  CHECK(thousand > empty);
  CHECK(two_thousand > thousand);
  // Each series costs at least its own struct, and not much more at one
  // sample (the label arenas' and index's growth comes in steps).
  const uint64_t per_series = (two_thousand - thousand) / 1000;
  CHECK(per_series >= 64);
  CHECK(per_series <= 1024);

  // More samples in the same series grow their open head chunks only.
  std::vector<testing::TestSeries> more = batch(0, 2000, 60);
  for (testing::TestSeries& s : more) s.samples.erase(s.samples.begin());
  ApplySeries(engine, more);
  CHECK(engine.MemoryBytes() > two_thousand);
  CHECK(engine.active_series() == 2000);
}

// A sealed head chunk's bytes are copied out and its buffer is kept for the
// next chunk: freeing it and growing a new one from 64 bytes, for every
// series several times an hour, left holes of every size among the heap's
// long-lived objects that malloc could not give back.
TEST_CASE("the next head chunk reuses the buffer of the one sealed before it") {
  HeadOptions options;
  options.defaults.season_slots = 0;  // the head chunk's buffer alone
  Head engine{options};
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> value(0.0, 1.0);
  uint64_t before_seal = 0;
  int64_t t = 0;
  for (; t < 1000; ++t) {
    testing::TestSeries s;
    s.labels = {{"__name__", "cpu"}, {"instance", "a"}};
    s.samples.push_back({10'000 * t, value(rng)});  // every mantissa bit
    before_seal = engine.MemoryBytes();
    const ApplyResult result = ApplySeries(engine, {s});
    REQUIRE(result.applied == 1);
    if (!result.sealed.empty()) break;
  }
  // About 9 bytes a sample: the cap ends the chunk near 48 samples.
  REQUIRE(t < codec::XorChunkAppender::kMaxSamplesPerChunk);
  // The new chunk holds one sample in the sealed one's 448-byte buffer.
  CHECK(engine.MemoryBytes() == before_seal);
}

// What 2,000 series of 119 samples (one short of the 120-sample seal) add
// to a head whose shards already have their label blocks and index: by the
// head's own count (MemoryBytes), and by glibc's (bytes in use, so the
// allocator's headers and rounding too).
struct SeriesCost {
  uint64_t counted = 0;
  uint64_t allocated = 0;
};

// Values that use every mantissa bit, as a rate() of CPU seconds does,
// take about 9 bytes a sample: 120 of them would need a 1.6 KB buffer, so
// each series seals a chunk at the cap and keeps its 448-byte buffer.
SeriesCost MeasureSeriesCost(bool season) {
  HeadOptions options;
  // Both set explicitly: the defaults have a season.
  options.defaults.season_slots = season ? 96 : 0;
  options.defaults.season_alpha = 2.0 / 15.0;
  Head engine{options};
  constexpr int kSeries = 2000;
  constexpr int kSamples = 119;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> value(0.0, 1.0);
  auto batch = [&](const std::string& prefix, int samples) {
    std::vector<testing::TestSeries> series;
    for (int i = 0; i < kSeries; ++i) {
      testing::TestSeries s;
      s.labels = {{"__name__", "node_cpu_utilization"},
                  {"cpu", std::to_string(i % 8)},
                  {"instance", prefix + std::to_string(i) + ":9100"},
                  {"job", "node"}};
      for (int j = 0; j < samples; ++j)
        s.samples.push_back({10'000 * int64_t{j}, value(rng)});
      series.push_back(std::move(s));
    }
    return series;
  };
  ApplySeries(engine, batch("warm-", 1));
  const std::vector<testing::TestSeries> series = batch("host-", kSamples);
  const uint64_t counted_before = engine.MemoryBytes();
  const size_t allocated_before = mallinfo2().uordblks;
  ApplyResult result = ApplySeries(engine, series);
  REQUIRE(result.applied == uint64_t{kSeries} * kSamples);
  // Every series sealed at least one chunk of fewer than 120 samples, no
  // larger than the cap.
  REQUIRE(result.sealed.size() >= kSeries);
  for (const SealedChunk& chunk : result.sealed) {
    REQUIRE(chunk.bytes.size() <= Head::kMaxHeadChunkBufferBytes);
    REQUIRE(codec::XorChunkIterator(chunk.bytes).num_samples() <
            codec::XorChunkAppender::kMaxSamplesPerChunk);
  }
  // The sealed chunks are the store's to keep, not the head's.
  result = ApplyResult();
  // The label sets fit in the label blocks already there: counted here.
  uint64_t label_bytes = 0;
  for (const testing::TestSeries& s : series) {
    std::vector<model::Label> l;
    for (const auto& [name, value] : s.labels) l.push_back({name, value});
    std::string encoded;
    REQUIRE(model::EncodeLabelSet(&l, &encoded).ok());
    label_bytes += encoded.size();
  }
  SeriesCost cost;
  cost.counted =
      (engine.MemoryBytes() - counted_before + label_bytes) / kSeries;
  cost.allocated =
      (mallinfo2().uordblks - allocated_before + label_bytes) / kSeries;
  return cost;
}

// A time-of-day season adds its profile (192 bytes, allocated with the
// series' first sample) and the few slots the head chunk changed (a
// series without one pays a pointer and an empty vector). Counted here:
// 877 bytes a series without a season, 1077 with one.
TEST_CASE("a head chunk is sealed before its buffer passes the cap and a series stays under 1 KiB, 1.125 KiB with a season") {
  const bool season = GENERATE(false, true);
  const SeriesCost cost = MeasureSeriesCost(season);
  INFO("season " << season << ", bytes per series: " << cost.counted);
  CHECK(cost.counted <= (season ? 1088 : 888));
  // The sealed chunk's buffer, at the cap, holds the next chunk's samples.
  CHECK(cost.counted > Head::kMaxHeadChunkBufferBytes);
}

// What glibc hands out for the same series, headers and rounding included:
// 907 bytes without a season, 1143 with one (the season's two heap blocks
// pay a header each). Series live in blocks of 64: a heap block each would
// add about 60 bytes.
TEST_CASE("the allocator holds under 1 KiB a series, 1,152 bytes with a season") {
  const bool season = GENERATE(false, true);
  const SeriesCost cost = MeasureSeriesCost(season);
  INFO("season " << season << ", allocated bytes per series: "
                 << cost.allocated);
  CHECK(cost.allocated <= (season ? 1152 : 920));
  CHECK(cost.allocated >= cost.counted);
}

}  // namespace
}  // namespace promewma::head
