// Remote read over stored raw and derived series, both response types,
// checked by decoding the responses with libprotobuf.

#include "http/read_handler.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <rocksdb/perf_context.h>
#include <thread>

#include "codec/chunked_frame.h"
#include "codec/snappy_block.h"
#include "codec/xor_chunk.h"
#include "common/fault_injector.h"
#include "common/thread_role.h"
#include "ewma/series_estimator.h"
#include "model/labels.h"
#include "remote.pb.h"
#include "store/store.h"
#include "testing/remote_write.h"
#include "http/read_metrics_probe.h"
#include "testing/subprocess.h"

namespace promewma::http {
namespace {

constexpr int64_t kT0 = 1700000000000;
constexpr int kSamples = 300;

double ValueAt(int host, int t) { return 10.0 + (t * 7 + host * 3) % 11; }

// Applies one remote-write request, as the write handler would.
void Ingest(db::Database* db, const std::vector<testing::TestSeries>& request) {
  const std::string body = testing::SerializeWriteRequest(request);
  codec::DecodedWriteRequest decoded;
  REQUIRE(codec::DecodeWriteRequest(body, &decoded).ok());
  head::ApplyResult result;
  REQUIRE(db->Ingest(decoded, body, &result).ok());
}

// A database stored under `dir`, recovered, whose series are idle after
// 1 s of the clock `*now`.
std::unique_ptr<db::Database> OpenIdleDropping(const testing::TempDir& dir,
                                               int64_t* now) {
  head::HeadOptions options;
  options.series_idle_timeout_ms = 1000;
  options.clock = [now] { return *now; };
  db::DatabaseOptions db_options;
  db_options.dir = dir.path();
  auto opened = db::Database::Open(db_options, options);
  REQUIRE(opened.ok());
  std::unique_ptr<db::Database> db = std::move(opened).value();
  db::RecoveryStats recovery;
  REQUIRE(db->Recover(&recovery).ok());
  return db;
}

struct Fixture {
  db::Database ingester{head::HeadOptions{}};
  ReadLimits limits;

  Fixture() {
    for (int t = 0; t < kSamples; ++t) {
      std::vector<testing::TestSeries> request;
      for (int host = 0; host < 2; ++host) {
        request.push_back(
            {{{"__name__", "cpu"}, {"host", "h" + std::to_string(host)}},
             {{kT0 + t * 15000, ValueAt(host, t)}}});
      }
      request.push_back({{{"__name__", "cpu"}, {"env", "prod"}, {"host", "h9"}},
                         {{kT0 + t * 15000, 50}}});
      Ingest(&ingester, request);
    }
  }

  HttpResponse Read(const prometheus::ReadRequest& request) {
    RemoteReadHandler handler(&ingester, limits);
    return handler.Handle(
        HttpRequest{"application/x-protobuf", "snappy",
                    codec::CompressSnappyBlock(request.SerializeAsString())});
  }
};

prometheus::ReadRequest Query(
    int64_t start, int64_t end,
    std::vector<
        std::tuple<prometheus::LabelMatcher::Type, std::string, std::string>>
        matchers,
    bool streamed = false) {
  prometheus::ReadRequest req;
  auto* q = req.add_queries();
  q->set_start_timestamp_ms(start);
  q->set_end_timestamp_ms(end);
  for (const auto& [type, name, value] : matchers) {
    auto* m = q->add_matchers();
    m->set_type(type);
    m->set_name(name);
    m->set_value(value);
  }
  if (streamed)
    req.add_accepted_response_types(
        prometheus::ReadRequest::STREAMED_XOR_CHUNKS);
  return req;
}

std::string LabelsText(
    const google::protobuf::RepeatedPtrField<prometheus::Label>& labels) {
  std::string out;
  for (const auto& l : labels) out += l.name() + "=" + l.value() + ",";
  return out;
}

using Samples = std::vector<std::pair<int64_t, double>>;

// labels text -> samples, from a SAMPLES response.
std::map<std::string, Samples> ParseSamples(const HttpResponse& r,
                                            int query = 0) {
  REQUIRE(r.status == 200);
  std::string raw;
  REQUIRE(codec::DecompressSnappyBlock(r.body, 1 << 30, &raw).ok());
  prometheus::ReadResponse resp;
  REQUIRE(resp.ParseFromString(raw));
  std::map<std::string, Samples> out;
  std::vector<std::string> order;
  for (const auto& ts : resp.results(query).timeseries()) {
    order.push_back(LabelsText(ts.labels()));
    auto& s = out[order.back()];
    for (const auto& sample : ts.samples())
      s.push_back({sample.timestamp(), sample.value()});
  }
  REQUIRE(std::is_sorted(order.begin(), order.end()));
  return out;
}

// The body of a response sent in pieces, taken piece by piece; the largest
// piece's size in `largest`.
std::string Drain(HttpResponse* r, size_t* largest = nullptr) {
  REQUIRE(r->stream);
  std::string body, piece;
  while (r->stream(&piece)) {
    if (largest != nullptr) *largest = std::max(*largest, piece.size());
    body += piece;
  }
  return body;
}

// labels text -> samples, from a STREAMED_XOR_CHUNKS body; also checks
// that each chunk's time range is its samples'.
std::map<std::string, Samples> ParseChunked(std::string_view body) {
  codec::ChunkedFrameReader reader(body);
  std::string_view frame;
  std::map<std::string, Samples> got;
  while (true) {
    Result<bool> more = reader.Next(&frame);
    REQUIRE(more.ok());
    if (!*more) break;
    prometheus::ChunkedReadResponse resp;
    REQUIRE(resp.ParseFromArray(frame.data(), static_cast<int>(frame.size())));
    for (const auto& series : resp.chunked_series()) {
      auto& samples = got[LabelsText(series.labels())];
      for (const auto& chunk : series.chunks()) {
        Samples decoded;
        REQUIRE(codec::DecodeXorChunk(chunk.data(), &decoded).ok());
        REQUIRE(decoded.front().first == chunk.min_time_ms());
        REQUIRE(decoded.back().first == chunk.max_time_ms());
        samples.insert(samples.end(), decoded.begin(), decoded.end());
      }
    }
  }
  return got;
}

const auto EQ = prometheus::LabelMatcher::EQ;
const auto NEQ = prometheus::LabelMatcher::NEQ;
const auto RE = prometheus::LabelMatcher::RE;
const auto NRE = prometheus::LabelMatcher::NRE;

TEST_CASE("SAMPLES: raw series in an inclusive range") {
  Fixture f;
  const int64_t start = kT0 + 10 * 15000, end = kT0 + 200 * 15000;
  auto got = ParseSamples(f.Read(
      Query(start, end, {{EQ, "__name__", "cpu"}, {RE, "host", "h[01]"}})));
  REQUIRE(got.size() == 2);
  for (int host = 0; host < 2; ++host) {
    Samples want;
    for (int t = 10; t <= 200; ++t)
      want.push_back({kT0 + t * 15000, ValueAt(host, t)});
    REQUIRE(got.at("__name__=cpu,host=h" + std::to_string(host) + ",") == want);
  }
}

TEST_CASE(
    "the widest possible range is answered, not walked bucket by bucket") {
  Fixture f;
  auto got = ParseSamples(
      f.Read(Query(INT64_MIN, INT64_MAX, {{EQ, "__name__", "cpu"}})));
  REQUIRE(got.size() == 3);
  REQUIRE(got.at("__name__=cpu,host=h0,").size() == kSamples);
}

TEST_CASE("SAMPLES: derived series equal an independent recomputation") {
  Fixture f;
  auto got = ParseSamples(
      f.Read(Query(kT0, kT0 + kSamples * 15000,
                   {{EQ, "__name__", "cpu:ewma"}, {EQ, "host", "h1"}})));
  REQUIRE(got.size() == 1);
  const Samples& ewma = got.at("__name__=cpu:ewma,host=h1,");
  REQUIRE(ewma.size() == kSamples);
  ewma::EstimatorParams params;
  ewma::EstimatorState state;
  ewma::DerivedValues out;
  for (int t = 0; t < kSamples; ++t) {
    ewma::UpdateEstimator(params, &state, kT0 + t * 15000, ValueAt(1, t), &out);
    REQUIRE(ewma[t].first == kT0 + t * 15000);
    REQUIRE(ewma[t].second == out.get(ewma::Output::kEwma));
  }
}

TEST_CASE(
    "matchers: Prometheus semantics, empty-string matches, sorted results") {
  Fixture f;
  auto [matchers, want] =
      GENERATE(table<std::vector<std::tuple<prometheus::LabelMatcher::Type,
                                            std::string, std::string>>,
                     std::vector<std::string>>({
          {{{RE, "__name__", "cpu.*"}, {EQ, "host", "h0"}},
           {"__name__=cpu,host=h0,", "__name__=cpu:ewma,host=h0,",
            "__name__=cpu:upper_threshold,host=h0,"}},
          {{{EQ, "__name__", "cpu"},
            {EQ, "env", ""}},  // absent label matches ""
           {"__name__=cpu,host=h0,", "__name__=cpu,host=h1,"}},
          {{{EQ, "__name__", "cpu"}, {NEQ, "env", ""}},
           {"__name__=cpu,env=prod,host=h9,"}},
          {{{EQ, "__name__", "cpu:upper_threshold"}, {NRE, "host", "h0|h9"}},
           {"__name__=cpu:upper_threshold,host=h1,"}},
          {{{RE, "host", "h"}}, {}},  // fully anchored: "h" matches no host
          {{{EQ, "__name__", "cpu:lower_threshold"}}, {}},  // not configured
      }));
  auto got = ParseSamples(f.Read(Query(kT0, kT0 + kSamples * 15000, matchers)));
  std::vector<std::string> names;
  for (const auto& [labels, samples] : got) names.push_back(labels);
  REQUIRE(names == want);
}

TEST_CASE("several queries answer in query order") {
  Fixture f;
  prometheus::ReadRequest req =
      Query(kT0, kT0 + 15000, {{EQ, "host", "h0"}, {EQ, "__name__", "cpu"}});
  auto* q2 = req.add_queries();
  q2->set_start_timestamp_ms(kT0);
  q2->set_end_timestamp_ms(kT0);
  auto* m = q2->add_matchers();
  m->set_name("host");
  m->set_value("h9");
  HttpResponse r = f.Read(req);
  REQUIRE(ParseSamples(r, 0).at("__name__=cpu,host=h0,").size() == 2);
  auto second = ParseSamples(r, 1);
  REQUIRE(second.at("__name__=cpu,env=prod,host=h9,") == Samples{{kT0, 50}});
}

TEST_CASE("STREAMED_XOR_CHUNKS: same samples and whole chunks sent as stored") {
  Fixture f;
  const int64_t start = kT0 + 5 * 15000, end = kT0 + 280 * 15000;
  auto matchers = std::vector<
      std::tuple<prometheus::LabelMatcher::Type, std::string, std::string>>{
      {RE, "__name__", "cpu|cpu:ewma"}, {RE, "host", "h0|h1"}};
  auto want = ParseSamples(f.Read(Query(start, end, matchers)));
  HttpResponse r = f.Read(Query(start, end, matchers, /*streamed=*/true));
  REQUIRE(r.status == 200);
  REQUIRE(
      r.content_type ==
      "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse");
  r.body = Drain(&r);
  codec::ChunkedFrameReader reader(r.body);
  std::string_view frame;
  std::map<std::string, Samples> got;
  int whole_chunks = 0;
  while (true) {
    Result<bool> more = reader.Next(&frame);
    REQUIRE(more.ok());
    if (!*more) break;
    prometheus::ChunkedReadResponse resp;
    REQUIRE(resp.ParseFromArray(frame.data(), static_cast<int>(frame.size())));
    REQUIRE(resp.query_index() == 0);
    for (const auto& series : resp.chunked_series()) {
      auto& samples = got[LabelsText(series.labels())];
      for (const auto& chunk : series.chunks()) {
        REQUIRE(chunk.type() == prometheus::Chunk::XOR);
        Samples decoded;
        REQUIRE(codec::DecodeXorChunk(chunk.data(), &decoded).ok());
        REQUIRE(!decoded.empty());
        REQUIRE(decoded.front().first == chunk.min_time_ms());
        REQUIRE(decoded.back().first == chunk.max_time_ms());
        REQUIRE(chunk.min_time_ms() >= start);
        REQUIRE(chunk.max_time_ms() <= end);
        if (decoded.size() == 120) ++whole_chunks;
        samples.insert(samples.end(), decoded.begin(), decoded.end());
      }
    }
  }
  REQUIRE(got == want);
  REQUIRE(got.size() == 4);
  REQUIRE(whole_chunks >= 4);  // [120, 240) of each series went out as stored
}

TEST_CASE("limits and bad requests") {
  Fixture f;
  SECTION("over the sample limit: 400 before building the response") {
    f.limits.max_samples_per_query = 100;
    HttpResponse r =
        f.Read(Query(kT0, kT0 + kSamples * 15000, {{EQ, "__name__", "cpu"}}));
    REQUIRE(r.status == 400);
    REQUIRE(
        r.body ==
        "query 0 selects more than 100 samples (limits.max_samples_per_query); "
        "narrow the time range or the matchers\n");
  }
  SECTION("a bad regex") {
    HttpResponse r = f.Read(Query(kT0, kT0 + 1, {{RE, "host", "("}}));
    REQUIRE(r.status == 400);
    REQUIRE(r.body.find('\n') == r.body.size() - 1);
  }
  SECTION("garbage and oversized bodies") {
    RemoteReadHandler handler(&f.ingester, f.limits);
    REQUIRE(handler.Handle(HttpRequest{"", "snappy", "not snappy"}).status ==
            400);
    ReadLimits tiny;
    tiny.max_request_bytes = 4;
    RemoteReadHandler small(&f.ingester, tiny);
    REQUIRE(small.Handle(HttpRequest{"", "snappy", "12345"}).status == 413);
    REQUIRE(handler.Handle(HttpRequest{"", "gzip", "x"}).status == 415);
  }
}

TEST_CASE("read limits: concurrent reads and samples per query, counted") {
  Fixture f;
  ReadMetricsProbe metrics;
  f.limits.max_concurrent_reads = 2;
  f.limits.max_samples_per_query = 100;
  RemoteReadHandler handler(&f.ingester, f.limits, metrics.metrics());
  auto read = [&](int64_t end) {
    return handler.Handle(HttpRequest{
        "application/x-protobuf", "snappy",
        codec::CompressSnappyBlock(
            Query(kT0, end, {{EQ, "__name__", "cpu"}}).SerializeAsString())});
  };
  {
    // Two reads in progress: a third is refused at once.
    ReadGate::Ticket first = handler.gate().TryEnter();
    ReadGate::Ticket second = handler.gate().TryEnter();
    REQUIRE(first);
    REQUIRE(second);
    HttpResponse r = read(kT0);
    REQUIRE(r.status == 503);
    REQUIRE(r.body ==
            "2 remote reads in progress already (limits.max_concurrent_reads); "
            "retry shortly\n");
    REQUIRE(std::find(r.headers.begin(), r.headers.end(),
                      std::pair<std::string, std::string>{"Retry-After",
                                                          "1"}) !=
            r.headers.end());
    REQUIRE(metrics.refused_concurrent() == 1);
  }
  // Their slots are free again.
  REQUIRE(handler.gate().in_flight() == 0);
  REQUIRE(read(kT0).status == 200);
  REQUIRE(read(kT0 + kSamples * 15000).status == 400);
  REQUIRE(metrics.refused_samples() == 1);
  REQUIRE(metrics.refused_concurrent() == 1);
  REQUIRE(handler.gate().in_flight() == 0);
}

TEST_CASE("a series dropped from memory still reads back, raw and derived") {
  int64_t now = 0;
  head::HeadOptions options;
  options.series_idle_timeout_ms = 1000;
  options.clock = [&now] { return now; };
  db::Database db{options};
  for (int t = 0; t < kSamples; ++t) {
    std::vector<testing::TestSeries> request;
    for (int host = 0; host < 2; ++host) {
      request.push_back(
          {{{"__name__", "cpu"}, {"host", "h" + std::to_string(host)}},
           {{kT0 + t * 15000, ValueAt(host, t)}}});
    }
    Ingest(&db, request);
  }
  RemoteReadHandler handler(&db, ReadLimits{});
  auto read_all = [&] {
    return ParseSamples(handler.Handle(HttpRequest{
        "application/x-protobuf", "snappy",
        codec::CompressSnappyBlock(
            Query(kT0, kT0 + kSamples * 15000, {{RE, "__name__", "cpu.*"}})
                .SerializeAsString())}));
  };
  const auto before = read_all();
  REQUIRE(before.size() == 6);  // cpu, :ewma, :upper_threshold of two hosts
  REQUIRE(before.at("__name__=cpu,host=h0,").size() == kSamples);
  now = 1000;
  uint64_t dropped = 0;
  REQUIRE(db.DropIdleSeries(&dropped).ok());
  REQUIRE(dropped == 2);
  REQUIRE(db.head()->active_series() == 0);
  REQUIRE(read_all() == before);
}

TEST_CASE("a dropped series recorded in the store reads back by its name "
          "and by its outputs' names") {
  testing::TempDir dir;
  int64_t now = 0;
  std::unique_ptr<db::Database> db = OpenIdleDropping(dir, &now);
  // cpu and cpu_total (its name starts with cpu's) of one host.
  for (int t = 0; t < kSamples; ++t) {
    std::vector<testing::TestSeries> request;
    for (const char* name : {"cpu", "cpu_total"}) {
      request.push_back({{{"__name__", name}, {"host", "h0"}},
                         {{kT0 + t * 15000, ValueAt(0, t)}}});
    }
    Ingest(db.get(), request);
  }
  RemoteReadHandler handler(db.get(), ReadLimits{});
  auto read = [&](const std::string& name,
                  prometheus::LabelMatcher::Type type = EQ) {
    return ParseSamples(handler.Handle(HttpRequest{
        "application/x-protobuf", "snappy",
        codec::CompressSnappyBlock(
            Query(kT0, kT0 + kSamples * 15000, {{type, "__name__", name}})
                .SerializeAsString())}));
  };
  // Regexes: the records scanned are those of names starting with the
  // regex's literal prefix, and of inputs whose outputs' names can.
  const char* const regexes[] = {"cpu:e.*", "cpu:upper_.+", "cpu.*",
                                 "cpu_total:.*", "(cpu|x):ewma"};
  std::map<std::string, std::map<std::string, Samples>> by_regex;
  for (const char* re : regexes) by_regex[re] = read(re, RE);
  CHECK(by_regex["cpu:e.*"].size() == 1);
  CHECK(by_regex["cpu.*"].size() == 6);  // both series, raw and 2 outputs
  const auto raw = read("cpu");
  const auto ewma = read("cpu:ewma");
  const auto upper = read("cpu:upper_threshold");
  REQUIRE(raw.size() == 1);
  REQUIRE(raw.begin()->second.size() == kSamples);
  REQUIRE(ewma.size() == 1);
  REQUIRE(upper.size() == 1);
  now = 1000;
  uint64_t dropped = 0;
  REQUIRE(db->DropIdleSeries(&dropped).ok());
  REQUIRE(dropped == 2);
  REQUIRE(db->head()->active_series() == 0);
  CHECK(read("cpu") == raw);
  CHECK(read("cpu:ewma") == ewma);
  CHECK(read("cpu:upper_threshold") == upper);
  CHECK(read("cpu_total").size() == 1);
  CHECK(read("cpu_total:ewma").begin()->first.find("cpu_total:ewma") !=
        std::string::npos);
  CHECK(read("cpu:stddev").empty());  // not an output of this series
  for (const char* re : regexes) {
    INFO(re);
    CHECK(read(re, RE) == by_regex[re]);
  }
}

// Enough series for the handler's two-thread path, stored in RocksDB so that
// stored chunks can be corrupted. Hosts are zero-padded: label order is
// host order, and the second half of the series is h040..h079.
// Counts the reads of stored chunks, one per series read, on any thread.
class StoreReads : public FaultInjector {
 public:
  Status BeforeWrite(std::string_view) override { return Status::Ok(); }
  void BeforeRead(std::string_view) override { reads_.fetch_add(1); }
  uint64_t count() const { return reads_.load(); }

 private:
  std::atomic<uint64_t> reads_{0};
};

struct ManySeries {
  static constexpr int kHosts = 80;
  static constexpr int kSteps = 130;  // a sealed, stored chunk + a head each

  testing::TempDir dir;
  StoreReads store_reads;  // outlives the database
  std::unique_ptr<db::Database> ingester;
  ReadLimits limits;
  std::vector<std::unique_ptr<RemoteReadHandler>> handlers;  // Read's

  static std::string Host(int h) {
    char name[8];
    std::snprintf(name, sizeof(name), "h%03d", h);
    return name;
  }

  // `steps` samples a series, 15 s apart from `first_ms` on.
  explicit ManySeries(int steps = kSteps, int64_t first_ms = kT0) {
    db::DatabaseOptions options;
    options.dir = dir.path();
    options.faults = &store_reads;
    auto opened = db::Database::Open(options, head::HeadOptions{});
    REQUIRE(opened.ok());
    ingester = std::move(opened).value();
    db::RecoveryStats stats;
    REQUIRE(ingester->Recover(&stats).ok());
    for (int t = 0; t < steps; ++t) {
      std::vector<testing::TestSeries> request;
      for (int h = 0; h < kHosts; ++h) {
        request.push_back({{{"__name__", "cpu"}, {"host", Host(h)}},
                           {{first_ms + t * 15000, ValueAt(h, t)}}});
      }
      Ingest(ingester.get(), request);
    }
  }

  // With `with`, or a handler of the current limits that lives as long as
  // the fixture: a streamed answer holds its read slot and kept chunks in
  // the handler until it is sent.
  HttpResponse Read(const prometheus::ReadRequest& request,
                    const RemoteReadHandler* with = nullptr) {
    if (with == nullptr) {
      with = handlers.emplace_back(
          std::make_unique<RemoteReadHandler>(ingester.get(), limits)).get();
    }
    return with->Handle(
        HttpRequest{"application/x-protobuf", "snappy",
                    codec::CompressSnappyBlock(request.SerializeAsString())});
  }

  void CorruptStoredChunks(int h) {
    const std::string host = Host(h);  // outlives the label views
    std::vector<model::Label> l = {{"__name__", "cpu"}, {"host", host}};
    std::string labels;
    REQUIRE(model::EncodeLabelSet(&l, &labels).ok());
    REQUIRE(ingester->store()
                ->CorruptChunksForTest(model::HashLabelSet(labels), 20)
                .ok());
  }
};

// Checks one query's series of ManySeries(steps, first_ms): exactly the
// first `hosts` hosts, samples first_t..last_t.
void RequireFirstHosts(const std::map<std::string, Samples>& got, int hosts,
                       int64_t first_ms, int first_t, int last_t) {
  REQUIRE(got.size() == static_cast<size_t>(hosts));
  for (int h = 0; h < hosts; ++h) {
    const Samples& samples =
        got.at("__name__=cpu,host=" + ManySeries::Host(h) + ",");
    REQUIRE(samples.size() == static_cast<size_t>(last_t - first_t + 1));
    for (int t = first_t; t <= last_t; ++t) {
      REQUIRE(samples[t - first_t] ==
              std::make_pair(first_ms + t * 15000, ValueAt(h, t)));
    }
  }
}

// Checks a SAMPLES answer of ManySeries(steps, first_ms): every host,
// samples first_t..last_t.
void RequireHostsSamples(const std::string& body, int64_t first_ms,
                         int first_t, int last_t) {
  HttpResponse r;
  r.status = 200;
  r.body = body;
  RequireFirstHosts(ParseSamples(r), ManySeries::kHosts, first_ms, first_t,
                    last_t);
}

TEST_CASE("SAMPLES of many series: the answer of series read one by one") {
  ManySeries f;
  const int64_t start = kT0 + 3 * 15000, end = kT0 + 127 * 15000;
  prometheus::ReadRequest both = Query(start, end, {{EQ, "__name__", "cpu"}});
  auto* q2 = both.add_queries();
  *q2 = both.queries(0);
  q2->mutable_matchers(0)->set_value("cpu:ewma");
  HttpResponse r = f.Read(both);
  REQUIRE(r.status == 200);
  std::string raw;
  REQUIRE(codec::DecompressSnappyBlock(r.body, 1 << 30, &raw).ok());
  prometheus::ReadResponse got;
  REQUIRE(got.ParseFromString(raw));
  REQUIRE(got.results_size() == 2);
  for (int q = 0; q < 2; ++q) {
    const auto& series = got.results(q).timeseries();
    REQUIRE(series.size() == ManySeries::kHosts);
    for (int h = 0; h < ManySeries::kHosts; ++h) {
      // One series alone.
      const std::string name = q == 0 ? "cpu" : "cpu:ewma";
      auto alone = ParseSamples(f.Read(
          Query(start, end,
                {{EQ, "__name__", name}, {EQ, "host", ManySeries::Host(h)}})));
      const std::string labels = LabelsText(series[h].labels());
      REQUIRE(labels ==
              "__name__=" + name + ",host=" + ManySeries::Host(h) + ",");
      Samples samples;
      for (const auto& s : series[h].samples())
        samples.push_back({s.timestamp(), s.value()});
      REQUIRE(samples.size() == 125);
      REQUIRE(alone.at(labels) == samples);
    }
  }
}

TEST_CASE("a read on a lower-class thread yields its core between series") {
  // A read of many series takes a core for up to a second; a write's
  // thread queued behind the query pool gets it in between.
  ManySeries f;
  SetYieldInterval(std::chrono::microseconds(0));
  const uint64_t before = BackgroundYields();
  HttpResponse r;
  std::thread pool([&] {
    SetThisThreadRole("http-query", ThreadRole::kIdle);
    r = f.Read(Query(kT0, kT0 + 127 * 15000, {{EQ, "__name__", "cpu"}}));
  });
  pool.join();
  SetYieldInterval(kYieldInterval);
  REQUIRE(r.status == 200);
  REQUIRE(ParseSamples(r).size() == ManySeries::kHosts);
  CHECK(BackgroundYields() - before >= ManySeries::kHosts);
}

TEST_CASE("SAMPLES of many series: the sample limit counts the whole query") {
  ManySeries f;
  const int64_t end = kT0 + ManySeries::kSteps * 15000;
  // 80 series x 130 samples = 10,400.
  const uint64_t limit = GENERATE(8000, 1000);
  f.limits.max_samples_per_query = limit;
  const std::string over = " selects more than " + std::to_string(limit) +
                           " samples (limits.max_samples_per_query); narrow "
                           "the time range or the matchers\n";
  HttpResponse r = f.Read(Query(kT0, end, {{EQ, "__name__", "cpu"}}));
  REQUIRE(r.status == 400);
  REQUIRE(r.body == "query 0" + over);

  // The first query fits (one sample per series), the second does not.
  prometheus::ReadRequest two = Query(kT0, kT0, {{EQ, "__name__", "cpu"}});
  *two.add_queries() = Query(kT0, end, {{EQ, "__name__", "cpu"}}).queries(0);
  r = f.Read(two);
  REQUIRE(r.status == 400);
  REQUIRE(r.body == "query 1" + over);
}

TEST_CASE(
    "SAMPLES of many series: a corrupt chunk is a 500, the first in label "
    "order") {
  const int64_t end = kT0 + ManySeries::kSteps * 15000;
  auto read_with_corrupt = [&](std::vector<int> hosts) {
    ManySeries f;
    for (int h : hosts) f.CorruptStoredChunks(h);
    HttpResponse r = f.Read(Query(kT0, end, {{EQ, "__name__", "cpu"}}));
    REQUIRE(r.status == 500);
    REQUIRE(r.body.find("checksum mismatch") != std::string::npos);
    return r.body.substr(0, r.body.find(" in /"));  // the key, not the dir
  };
  const std::string host10 = read_with_corrupt({10});
  const std::string host70 = read_with_corrupt({70});
  REQUIRE(host10 != host70);  // the message names the chunk
  // Both: the one a single thread would have met first.
  REQUIRE(read_with_corrupt({10, 70}) == host10);
}

}  // namespace
}  // namespace promewma::http

namespace promewma::http {
namespace {

TEST_CASE(
    "SAMPLES over 1 MiB is streamed in bounded pieces that decode to the "
    "whole answer, holding its read slot until the last") {
  // 80 series x 900 samples: 72,000 samples, about 1.4 MB encoded.
  constexpr int kLongSteps = 900;
  ManySeries f(kLongSteps);
  f.limits.max_concurrent_reads = 1;
  RemoteReadHandler handler(f.ingester.get(), f.limits);
  const int64_t start = kT0, end = kT0 + kLongSteps * 15000;
  HttpResponse r =
      f.Read(Query(start, end, {{EQ, "__name__", "cpu"}}), &handler);
  REQUIRE(r.status == 200);
  REQUIRE(r.body.empty());
  REQUIRE(r.stream);
  CHECK(!r.stream_prebuilt);  // each piece is built on the query pool
  // The slot is the stream's until it is done: a second read is refused.
  REQUIRE(handler.gate().in_flight() == 1);
  REQUIRE(f.Read(Query(start, end, {{EQ, "__name__", "cpu"}}), &handler)
              .status == 503);

  std::string body, piece;
  size_t pieces = 0, largest = 0;
  while (r.stream(&piece)) {
    ++pieces;
    largest = std::max(largest, piece.size());
    body += piece;
  }
  // A piece is at most 1 MiB of encoded samples, compressed.
  CHECK(pieces >= 2);
  CHECK(largest <= codec::MaxSnappyBlockSize(1 << 20));
  r.stream = nullptr;
  REQUIRE(handler.gate().in_flight() == 0);

  RequireHostsSamples(body, kT0, 0, kLongSteps - 1);
}

TEST_CASE(
    "SAMPLES of many short stored series reads each table block about once, "
    "not once per series, and answers in label order") {
  // 3,000 series of 40 samples, dropped from memory and flushed to a table
  // file: about 2 MB encoded, so sized, then streamed in pieces.
  constexpr int kShortSeries = 3000, kShortSteps = 40;
  testing::TempDir dir;
  int64_t now = 0;
  std::unique_ptr<db::Database> db = OpenIdleDropping(dir, &now);
  auto host = [](int h) {
    char name[8];
    std::snprintf(name, sizeof(name), "h%04d", h);
    return std::string(name);
  };
  for (int t = 0; t < kShortSteps; ++t) {
    std::vector<testing::TestSeries> request;
    for (int h = 0; h < kShortSeries; ++h) {
      request.push_back({{{"__name__", "cpu"}, {"host", host(h)}},
                         {{kT0 + t * 15000, ValueAt(h, t)}}});
    }
    Ingest(db.get(), request);
  }
  now = 1000;
  uint64_t dropped = 0;
  REQUIRE(db->DropIdleSeries(&dropped).ok());
  REQUIRE(dropped == kShortSeries);
  db::CheckpointStats checkpoint;
  REQUIRE(db->Checkpoint(&checkpoint).ok());  // the chunks go to a table file

  // The streamed answer is sized and read on this thread: RocksDB counts
  // the blocks it reads here.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  RemoteReadHandler handler(db.get(), ReadLimits{});
  HttpResponse r = handler.Handle(HttpRequest{
      "application/x-protobuf", "snappy",
      codec::CompressSnappyBlock(
          Query(kT0, kT0 + kShortSteps * 15000, {{EQ, "__name__", "cpu"}})
              .SerializeAsString())});
  REQUIRE(r.stream);
  std::string piece;
  while (r.stream(&piece)) r.body += piece;
  const uint64_t blocks = rocksdb::get_perf_context()->block_read_count;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  // In label order each series' seek lands in another block than the one
  // before: a block read per series and pass, about 6,000 here.
  INFO("table blocks read: " << blocks);
  CHECK(blocks < kShortSeries);
  CHECK(blocks > 0);  // the chunks were read from the table file

  auto got = ParseSamples(r);  // also checks the label order
  REQUIRE(got.size() == kShortSeries);
  for (int h = 0; h < kShortSeries; ++h) {
    const Samples& samples = got.at("__name__=cpu,host=" + host(h) + ",");
    REQUIRE(samples.size() == kShortSteps);
    for (int t = 0; t < kShortSteps; ++t) {
      REQUIRE(samples[t] == std::make_pair(kT0 + t * 15000, ValueAt(h, t)));
    }
  }
}

TEST_CASE(
    "STREAMED_XOR_CHUNKS is sent in pieces of about 512 KiB that together "
    "are the whole answer") {
  // 80 series x 6,000 samples: about 650 KB of chunks.
  constexpr int kLongSteps = 6000;
  ManySeries f(kLongSteps);
  HttpResponse r = f.Read(Query(kT0, kT0 + kLongSteps * 15000,
                                {{EQ, "__name__", "cpu"}}, /*streamed=*/true));
  REQUIRE(r.status == 200);
  REQUIRE(r.body.empty());
  CHECK(r.stream_prebuilt);  // sent from the connection's thread
  size_t largest = 0;
  const std::string body = Drain(&r, &largest);
  INFO("answer " << body.size() << " bytes, largest piece " << largest);
  CHECK(body.size() > largest);  // two pieces at least
  CHECK(largest <= (512 << 10) + (64 << 10));  // a piece and a frame
  auto got = ParseChunked(body);
  REQUIRE(got.size() == ManySeries::kHosts);
  for (int h = 0; h < ManySeries::kHosts; ++h) {
    const Samples& samples =
        got.at("__name__=cpu,host=" + ManySeries::Host(h) + ",");
    REQUIRE(samples.size() == kLongSteps);
    for (int t = 0; t < kLongSteps; ++t) {
      REQUIRE(samples[t] == std::make_pair(kT0 + t * 15000, ValueAt(h, t)));
    }
  }
}

// The series `f` reads from its store while `run` runs.
template <typename Run>
uint64_t StoreReadsOf(const ManySeries& f, Run run) {
  const uint64_t before = f.store_reads.count();
  run();
  return f.store_reads.count() - before;
}

TEST_CASE(
    "SAMPLES streamed: sizing keeps the chunks it read, so the pieces read "
    "no series again, and each piece gives its series' bytes back") {
  constexpr int kLongSteps = 900;
  ManySeries f(kLongSteps);
  RemoteReadHandler handler(f.ingester.get(), f.limits);
  const ChunkBudget& budget = handler.kept_chunks();
  const prometheus::ReadRequest query =
      Query(kT0, kT0 + kLongSteps * 15000, {{EQ, "__name__", "cpu"}});
  HttpResponse r;
  const uint64_t sizing_reads =
      StoreReadsOf(f, [&] { r = f.Read(query, &handler); });
  REQUIRE(r.stream);
  CHECK(sizing_reads == ManySeries::kHosts);
  const size_t kept = kKeptChunkBudgetBytes - budget.left();
  INFO("chunk bytes kept " << kept);
  CHECK(kept > 0);

  std::string body, piece;
  size_t left_after_first = 0;
  const uint64_t stream_reads = StoreReadsOf(f, [&] {
    REQUIRE(r.stream(&piece));
    body += piece;
    left_after_first = budget.left();
    while (r.stream(&piece)) body += piece;
  });
  CHECK(stream_reads == 0);
  CHECK(left_after_first > kKeptChunkBudgetBytes - kept);
  CHECK(left_after_first < kKeptChunkBudgetBytes);  // a piece at a time
  CHECK(budget.left() == kKeptChunkBudgetBytes);
  RequireHostsSamples(body, kT0, 0, kLongSteps - 1);
}

TEST_CASE(
    "SAMPLES streamed: the series whose chunks the budget has no room for "
    "are read again, and the answer is the same") {
  constexpr int kLongSteps = 900;
  ManySeries f(kLongSteps);
  RemoteReadHandler handler(f.ingester.get(), f.limits);
  ChunkBudget& budget = handler.kept_chunks();
  const prometheus::ReadRequest query =
      Query(kT0, kT0 + kLongSteps * 15000, {{EQ, "__name__", "cpu"}});
  HttpResponse all_kept = f.Read(query, &handler);
  const size_t kept = kKeptChunkBudgetBytes - budget.left();
  const std::string want = Drain(&all_kept);

  // Room for about a third of them: another read holds the rest.
  const size_t held = kKeptChunkBudgetBytes - kept / 3;
  REQUIRE(budget.TryTake(held));
  HttpResponse r = f.Read(query, &handler);
  REQUIRE(r.stream);
  CHECK(budget.left() < kept / 3);
  std::string body;
  const uint64_t stream_reads = StoreReadsOf(f, [&] { body = Drain(&r); });
  CHECK(stream_reads > 0);
  CHECK(stream_reads < ManySeries::kHosts);
  CHECK(body == want);
  budget.Give(held);
  CHECK(budget.left() == kKeptChunkBudgetBytes);
}

TEST_CASE(
    "SAMPLES streamed: chunks cut by the range, or whose timestamps change "
    "varint length, are sized sample by sample") {
  // 2^35 ms falls in the middle: earlier timestamps take 5 bytes, later 6.
  constexpr int kLongSteps = 900;
  constexpr int64_t kFirst = (int64_t{1} << 35) - 450 * 15000;
  ManySeries f(kLongSteps, kFirst);
  // Both ends inside a chunk.
  const int64_t start = kFirst + 7 * 15000 + 1;
  const int64_t end = kFirst + 890 * 15000 - 1;
  HttpResponse r = f.Read(Query(start, end, {{EQ, "__name__", "cpu"}}));
  REQUIRE(r.status == 200);
  REQUIRE(r.stream);
  RequireHostsSamples(Drain(&r), kFirst, 8, 889);
}

TEST_CASE(
    "SAMPLES streamed over several queries, empty ones among them: each "
    "query's result in order, whichever piece its series fall in") {
  constexpr int kLongSteps = 900;
  ManySeries f(kLongSteps);
  prometheus::ReadRequest request;
  // Hosts h000-h039 over the whole range, none, all 80 over the second
  // half, none.
  const std::vector<std::tuple<std::string, int, int>> queries = {
      {"h0[0-3].", 0, kLongSteps - 1},
      {"none", 0, kLongSteps - 1},
      {"h.*", kLongSteps / 2, kLongSteps - 1},
      {"none", 0, kLongSteps - 1}};
  for (const auto& [hosts, first_t, last_t] : queries) {
    *request.add_queries() =
        Query(kT0 + first_t * 15000, kT0 + last_t * 15000,
              {{EQ, "__name__", "cpu"}, {RE, "host", hosts}})
            .queries(0);
  }
  HttpResponse r = f.Read(request);
  REQUIRE(r.status == 200);
  REQUIRE(r.stream);
  r.body = Drain(&r);
  for (size_t q = 0; q < queries.size(); ++q) {
    const auto& [hosts, first_t, last_t] = queries[q];
    INFO("query " << q);
    const auto got = ParseSamples(r, static_cast<int>(q));
    const int want_hosts =
        hosts == "none" ? 0 : hosts == "h.*" ? ManySeries::kHosts : 40;
    RequireFirstHosts(got, want_hosts, kT0, first_t, last_t);
  }
}

TEST_CASE("SAMPLES under 1 MiB: each series is read from the store once") {
  ManySeries f;  // 80 series x 130 samples, about 190 KB
  const int64_t end = kT0 + ManySeries::kSteps * 15000;
  HttpResponse r;
  const uint64_t reads = StoreReadsOf(
      f, [&] { r = f.Read(Query(kT0, end, {{EQ, "__name__", "cpu"}})); });
  REQUIRE(r.status == 200);
  REQUIRE(!r.stream);  // one body
  CHECK(reads == ManySeries::kHosts);
  RequireHostsSamples(r.body, kT0, 0, ManySeries::kSteps - 1);
}

TEST_CASE("SAMPLES streamed: the sample limit is still a status code") {
  ManySeries f(900);
  f.limits.max_samples_per_query = 70'000;
  HttpResponse r = f.Read(Query(kT0, kT0 + 900 * 15000, {{EQ, "__name__", "cpu"}}));
  REQUIRE(r.status == 400);
  REQUIRE(!r.stream);
}

}  // namespace
}  // namespace promewma::http
