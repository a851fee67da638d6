// GET /federate: exactly the matching series, input and derived, with the
// values and timestamps remote read gives as their latest samples, in the
// text format Prometheus parses, streamed in pieces.

#include "http/federate_handler.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "codec/xor_chunk.h"
#include "common/thread_role.h"
#include "db/database.h"
#include "http/http_types.h"
#include "testing/remote_write.h"

namespace promewma::http {
namespace {

using Labels = std::map<std::string, std::string>;
// name + labels (without __name__) -> (timestamp, value)
using Exposed = std::map<std::pair<std::string, Labels>,
                         std::pair<int64_t, double>>;

constexpr int64_t kT0 = 1700000000000;

struct Fixture {
  db::Database db;
  FederateHandler handler{db.head()};

  explicit Fixture(head::HeadOptions options = {}) : db(std::move(options)) {}

  void Ingest(const std::vector<testing::TestSeries>& series) {
    const std::string body = testing::SerializeWriteRequest(series);
    codec::DecodedWriteRequest decoded;
    REQUIRE(codec::DecodeWriteRequest(body, &decoded).ok());
    head::ApplyResult result;
    REQUIRE(db.Ingest(decoded, body, &result).ok());
  }

  // The whole answer, and how many pieces it came in.
  std::string Federate(const std::vector<std::string>& match,
                       int* pieces = nullptr) {
    auto body = handler.Select(match);
    INFO(body.status().ToString());
    REQUIRE(body.ok());
    std::string all, piece;
    int n = 0;
    while ((*body)->Next(&piece)) {
      REQUIRE(piece.size() <= FederateBody::kPieceBytes + 1024);
      all += piece;
      ++n;
    }
    if (pieces != nullptr) *pieces = n;
    return all;
  }

  // The last sample remote read returns for (input series, output).
  std::pair<int64_t, double> LatestRead(const std::string& labels,
                                        std::optional<ewma::Output> output) {
    std::vector<std::pair<int64_t, double>> samples;
    REQUIRE(db.ReadSeries(model::HashLabelSet(labels), labels, output,
                          INT64_MIN, INT64_MAX,
                          [&](const store::ChunkView& c) {
                            return codec::DecodeXorChunk(c.bytes, &samples);
                          })
                .ok());
    REQUIRE(!samples.empty());
    return samples.back();
  }
};

std::string Encoded(const std::vector<model::Label>& labels) {
  std::vector<model::Label> l = labels;
  std::string out;
  REQUIRE(model::EncodeLabelSet(&l, &out).ok());
  return out;
}

// Undoes the text format's label value escapes.
std::string Unescape(const std::string& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      ++i;
      out.push_back(v[i] == 'n' ? '\n' : v[i]);
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

// Parses an answer; every line is a TYPE line or a sample, and each
// family's TYPE line comes once, before its samples.
Exposed Parse(const std::string& text) {
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+) (-?\d+))");
  static const std::regex kLabel(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?)re");
  Exposed out;
  std::set<std::string> typed;
  std::string current;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      REQUIRE(type == "untyped");
      REQUIRE(typed.insert(name).second);  // one TYPE line per family
      current = name;
      continue;
    }
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, kSample));
    REQUIRE(m[1].str() == current);  // samples follow their family's TYPE
    Labels labels;
    const std::string body = m[3].str();
    for (auto it = std::sregex_iterator(body.begin(), body.end(), kLabel);
         it != std::sregex_iterator(); ++it) {
      labels[(*it)[1].str()] = Unescape((*it)[2].str());
    }
    const double value = std::strtod(m[4].str().c_str(), nullptr);
    REQUIRE(out.emplace(std::make_pair(m[1].str(), labels),
                        std::make_pair(std::stoll(m[5].str()), value))
                .second);  // each series once
  }
  return out;
}

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

std::vector<std::pair<int64_t, double>> Samples(int n, double base) {
  std::vector<std::pair<int64_t, double>> out;
  for (int i = 0; i < n; ++i) {
    // Full-mantissa values, as a rate() gives.
    out.push_back({kT0 + i * 15000, base + std::sqrt(2.0 + i) / 3.0});
  }
  return out;
}

TEST_CASE("federate without match[] is a 400 that says so") {
  Fixture f;
  auto body = f.handler.Select({});
  REQUIRE(body.status().code() == StatusCode::kInvalidArgument);
  REQUIRE_THAT(body.status().message(),
               Catch::StartsWith("no match[] parameter"));
  REQUIRE(HttpStatusFor(body.status().code()) == 400);
}

TEST_CASE("federate refuses a match[] that is not a series selector") {
  Fixture f;
  auto body = f.handler.Select({"cpu", "cpu{host=a}"});
  REQUIRE(body.status().code() == StatusCode::kInvalidArgument);
  REQUIRE_THAT(body.status().message(), Catch::Contains("cpu{host=a}"));
}

TEST_CASE("federate answers exactly the matching series, as remote read "
          "reads them") {
  Fixture f;
  f.Ingest({{{{"__name__", "cpu"}, {"host", "a"}}, Samples(15, 10)},
            {{{"__name__", "cpu"}, {"host", "b"}}, Samples(15, 20)},
            {{{"__name__", "mem"}, {"host", "a"}}, Samples(15, 30)}});
  const std::string cpu_a =
      Encoded({{"__name__", "cpu"}, {"host", "a"}});
  const auto raw = f.LatestRead(cpu_a, std::nullopt);
  const auto ewma = f.LatestRead(cpu_a, ewma::Output::kEwma);
  const auto upper = f.LatestRead(cpu_a, ewma::Output::kUpperThreshold);

  SECTION("a plain metric name selects the input series only") {
    const Exposed got = Parse(f.Federate({"cpu{host=\"a\"}"}));
    REQUIRE(got.size() == 1);
    const auto& [ts, v] = got.at({"cpu", {{"host", "a"}}});
    REQUIRE(ts == raw.first);
    REQUIRE(Bits(v) == Bits(raw.second));
  }
  SECTION("a name regex selects the derived series too, bit for bit") {
    const Exposed got = Parse(f.Federate({"{__name__=~\"cpu.*\",host=\"a\"}"}));
    REQUIRE(got.size() == 3);
    for (const auto& [name, want] :
         {std::make_pair("cpu", raw), std::make_pair("cpu:ewma", ewma),
          std::make_pair("cpu:upper_threshold", upper)}) {
      INFO(name);
      const auto& [ts, v] = got.at({name, {{"host", "a"}}});
      REQUIRE(ts == want.first);
      REQUIRE(Bits(v) == Bits(want.second));
    }
  }
  SECTION("several selectors: their union, each series once") {
    const Exposed got = Parse(f.Federate(
        {"{__name__=~\"cpu:.*\"}", "cpu:ewma", "{__name__=\"mem\"}"}));
    std::set<std::pair<std::string, Labels>> keys;
    for (const auto& [key, sample] : got) keys.insert(key);
    REQUIRE(keys == std::set<std::pair<std::string, Labels>>{
                        {"cpu:ewma", {{"host", "a"}}},
                        {"cpu:ewma", {{"host", "b"}}},
                        {"cpu:upper_threshold", {{"host", "a"}}},
                        {"cpu:upper_threshold", {{"host", "b"}}},
                        {"mem", {{"host", "a"}}}});
  }
  SECTION("no series matches: an empty answer") {
    REQUIRE(f.Federate({"{job=\"none\"}"}).empty());
  }
}

TEST_CASE("federate escapes label values and spells special values") {
  head::HeadOptions options;
  options.defaults.outputs |= ewma::OutputBit(ewma::Output::kAnomalyScore);
  Fixture f(options);
  // A flat series has no spread, so a different value scores +Inf.
  std::vector<std::pair<int64_t, double>> flat;
  for (int i = 0; i < 12; ++i) flat.push_back({kT0 + i * 1000, 5});
  flat.push_back({kT0 + 12 * 1000, 7});
  const std::string odd = "a\"b\\c\nd";
  f.Ingest({{{{"__name__", "cpu"}, {"host", odd}}, flat}});
  const std::string text = f.Federate({"{__name__=~\"cpu.*\"}"});
  REQUIRE_THAT(text, Catch::Contains("host=\"a\\\"b\\\\c\\nd\""));
  const Exposed got = Parse(text);
  const auto& [ts, score] = got.at({"cpu:anomaly_score", {{"host", odd}}});
  REQUIRE(ts == kT0 + 12 * 1000);
  REQUIRE(std::isinf(score));
  REQUIRE_THAT(text, Catch::Contains(" +Inf "));
  REQUIRE(got.at({"cpu", {{"host", odd}}}).second == 7);
}

TEST_CASE("federate leaves out series whose latest sample is stale") {
  Fixture f;
  f.Ingest({{{{"__name__", "cpu"}, {"host", "a"}},
             {{kT0, 1}, {kT0 + 1000, ewma::StaleMarker()}}},
            {{{"__name__", "cpu"}, {"host", "b"}}, {{kT0, 2}}}});
  const Exposed got = Parse(f.Federate({"{__name__=~\"cpu.*\"}"}));
  REQUIRE(got.size() == 2);  // cpu and cpu:ewma of host b
  REQUIRE(got.count({"cpu", {{"host", "b"}}}) == 1);
  REQUIRE(got.count({"cpu:ewma", {{"host", "b"}}}) == 1);
}

// One sample of cpu for each of `hosts` hosts, host-N valued N / 2.
std::vector<testing::TestSeries> CpuOfHosts(int hosts) {
  std::vector<testing::TestSeries> request;
  for (int h = 0; h < hosts; ++h) {
    request.push_back({{{"__name__", "cpu"}, {"host", "host-" + std::to_string(h)}},
                       {{kT0, h * 0.5}}});
  }
  return request;
}

TEST_CASE("a large federate answer streams in pieces, families whole") {
  Fixture f;
  f.Ingest(CpuOfHosts(3000));
  int pieces = 0;
  const std::string text = f.Federate({"{__name__=~\"cpu.*\"}"}, &pieces);
  REQUIRE(pieces > 2);
  // Parse() checks one TYPE line per family, before its samples.
  const Exposed got = Parse(text);
  REQUIRE(got.size() == 6000);  // cpu and cpu:ewma per host
  REQUIRE(got.at({"cpu", {{"host", "host-7"}}}).second == 3.5);
}

TEST_CASE("a federate answer on a lower-class thread yields its core as it goes") {
  Fixture f;
  f.Ingest(CpuOfHosts(100));
  SetYieldInterval(std::chrono::microseconds(0));
  const uint64_t before = BackgroundYields();
  std::string text;
  std::thread pool([&] {
    SetThisThreadRole("http-query", ThreadRole::kIdle);
    text = f.Federate({"{__name__=~\"cpu.*\"}"});
  });
  pool.join();
  SetYieldInterval(kYieldInterval);
  REQUIRE(Parse(text).size() == 200);  // cpu and cpu:ewma per host
  CHECK(BackgroundYields() - before == 200 / 64 + 1);  // every 64 samples
}

}  // namespace
}  // namespace promewma::http
