#include "http/write_handler.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "codec/snappy_block.h"
#include "testing/remote_write.h"

namespace promewma::http {
namespace {

using testing::SerializeWriteRequest;

struct Fixture {
  db::Database ingester{head::HeadOptions{}};
  head::Head& engine = *ingester.head();
  prometheus::Registry registry;
  WriteMetrics metrics{registry};
  WriteLimits limits;
  RemoteWriteHandler handler{&ingester, &metrics, limits};

  Fixture() = default;
  explicit Fixture(WriteLimits l)
      : limits(l), handler(&ingester, &metrics, l) {}

  HttpResponse Post(std::string_view body,
                    std::string_view type = "application/x-protobuf",
                    std::string_view encoding = "snappy") {
    return handler.Handle(HttpRequest{type, encoding, body});
  }
  size_t LatestCount() const {
    size_t n = 0;
    engine.VisitLatest([&](const head::LatestDerived&) { ++n; });
    return n;
  }
};

std::string Snappy(const std::string& raw) {
  return codec::CompressSnappyBlock(raw);
}

// Every error body is exactly one line.
void RequireOneLine(const HttpResponse& r) {
  REQUIRE(!r.body.empty());
  REQUIRE(r.body.back() == '\n');
  REQUIRE(r.body.find('\n') == r.body.size() - 1);
}

const std::string kGood = SerializeWriteRequest(
    {{{{"__name__", "cpu"}, {"host", "a"}}, {{1000, 10}, {2000, 12}}}});

TEST_CASE("a valid request is applied and answered 204") {
  Fixture f;
  HttpResponse r = f.Post(Snappy(kGood));
  REQUIRE(r.status == 204);
  REQUIRE(r.body.empty());
  REQUIRE(f.LatestCount() == 1);
  REQUIRE(f.metrics.samples_received.Value() == 2);
  REQUIRE(f.metrics.samples_applied.Value() == 2);
  REQUIRE(f.metrics.decoded_bytes.Value() == kGood.size());
}

TEST_CASE("headers: what Prometheus and other senders write is accepted") {
  auto [type, encoding] = GENERATE(table<std::string, std::string>({
      {"application/x-protobuf", "snappy"},
      {"application/x-protobuf;proto=prometheus.WriteRequest", "snappy"},
      {"Application/X-Protobuf; charset=utf-8", "SNAPPY"},
      {"", ""},
  }));
  Fixture f;
  REQUIRE(f.Post(Snappy(kGood), type, encoding).status == 204);
}

TEST_CASE("wrong Content-Type or Content-Encoding: 415, nothing applied") {
  auto [type, encoding, fragment] =
      GENERATE(table<std::string, std::string, std::string>({
          {"application/x-protobuf", "gzip", "Content-Encoding \"gzip\""},
          {"application/json", "snappy", "Content-Type \"application/json\""},
          {"application/x-protobuf;proto=io.prometheus.write.v2.Request",
           "snappy", "io.prometheus.write.v2.Request"},
      }));
  Fixture f;
  HttpResponse r = f.Post(Snappy(kGood), type, encoding);
  REQUIRE(r.status == 415);
  RequireOneLine(r);
  REQUIRE(r.body.find(fragment) != std::string::npos);
  REQUIRE(f.LatestCount() == 0);
}

TEST_CASE("oversized bodies: 413 before any work") {
  SECTION("compressed body over max_request_bytes") {
    Fixture f(WriteLimits{10, 1 << 20});
    HttpResponse r = f.Post(Snappy(kGood));
    REQUIRE(r.status == 413);
    RequireOneLine(r);
    REQUIRE(r.body.find("over the limit of 10") != std::string::npos);
  }
  SECTION("declared decoded size over max_decoded_bytes") {
    Fixture f(WriteLimits{1 << 20, 20});
    HttpResponse r = f.Post(Snappy(kGood));
    REQUIRE(r.status == 413);
    RequireOneLine(r);
    REQUIRE(f.metrics.decoded_bytes.Value() == 0);  // never decompressed
  }
  SECTION("more series than max_series_per_request") {
    WriteLimits limits;
    limits.max_series_per_request = 2;
    Fixture f(limits);
    std::vector<testing::TestSeries> three;
    for (const char* host : {"a", "b", "c"}) {
      three.push_back({{{"__name__", "cpu"}, {"host", host}}, {{1000, 1}}});
    }
    HttpResponse r = f.Post(Snappy(SerializeWriteRequest(three)));
    REQUIRE(r.status == 413);
    RequireOneLine(r);
    REQUIRE(r.body ==
            "request has 3 series, over limits.max_series_per_request (2); "
            "send smaller requests\n");
    REQUIRE(f.engine.active_series() == 0);  // nothing applied
    three.pop_back();
    REQUIRE(f.Post(Snappy(SerializeWriteRequest(three))).status == 204);
  }
}

TEST_CASE("bad bodies: 400 with one clear line, nothing applied") {
  std::string framed("\xff\x06\x00\x00sNaPpY", 10);
  std::string truncated = Snappy(kGood);
  truncated.resize(truncated.size() - 4);
  auto [body, fragment] = GENERATE_COPY(table<std::string, std::string>({
      {std::string("not snappy at all \xff\xff\xff\xff\xff"), "corrupt snappy"},
      {truncated, "corrupt snappy"},
      {framed, "framed"},
      {Snappy("\x0a\x05garbage"), "malformed protobuf"},
      {Snappy(SerializeWriteRequest({{{{"job", "x"}}, {{1, 1}}}})),
       "no __name__"},
      {Snappy(SerializeWriteRequest({{{{"__name__", "ok"}}, {{1, 1}}},
                                     {{{"__name__", "bad name"}}, {{1, 1}}}})),
       "timeseries[1]: invalid metric name \"bad name\""},
      {Snappy(SerializeWriteRequest(
           {{{{"__name__", "cpu"}, {"0a", "x"}}, {{1, 1}}}})),
       "invalid label name \"0a\""},
      {Snappy(SerializeWriteRequest(
           {{{{"__name__", "cpu"}, {"a", "x"}, {"a", "y"}}, {{1, 1}}}})),
       "duplicate label name \"a\""},
  }));
  Fixture f;
  HttpResponse r = f.Post(body);
  INFO(r.body);
  REQUIRE(r.status == 400);
  RequireOneLine(r);
  REQUIRE(r.body.find(fragment) != std::string::npos);
  REQUIRE(f.LatestCount() == 0);
  REQUIRE(f.engine.active_series() == 0);
}

TEST_CASE("out-of-order samples: 400 after applying the valid ones") {
  Fixture f;
  REQUIRE(f.Post(Snappy(kGood)).status == 204);
  const std::string late = SerializeWriteRequest(
      {{{{"__name__", "cpu"}, {"host", "b"}}, {{500, 1}}},
       {{{"__name__", "cpu"}, {"host", "a"}}, {{1500, 99}}},
       {{{"__name__", "cpu"}, {"host", "a"}}, {{3000, 14}}}});
  HttpResponse r = f.Post(Snappy(late));
  REQUIRE(r.status == 400);
  RequireOneLine(r);
  REQUIRE(r.body ==
          "out of order sample for series cpu{host=\"a\"}: timestamp 1500 is "
          "older than the last one, 2000\n");
  REQUIRE(f.LatestCount() == 2);  // host=b created, host=a advanced
  REQUIRE(f.metrics.samples_applied.Value() == 4);
  REQUIRE(f.metrics
              .samples_dropped[static_cast<int>(head::DropReason::kOutOfOrder)]
              ->Value() == 1);
}

TEST_CASE("label limits: 400 naming the limit, nothing applied, counted") {
  head::HeadOptions options;
  options.limits.max_label_value_length = 4;
  db::Database db{options};
  prometheus::Registry registry;
  WriteMetrics metrics{registry};
  RemoteWriteHandler handler{&db, &metrics, WriteLimits{}};
  const std::string body = Snappy(SerializeWriteRequest(
      {{{{"__name__", "cpu"}, {"host", "a"}}, {{1000, 1}}},
       {{{"__name__", "cpu"}, {"host", "too-long"}}, {{1000, 1}}}}));
  HttpResponse r = handler.Handle(
      HttpRequest{"application/x-protobuf", "snappy", body});
  REQUIRE(r.status == 400);
  RequireOneLine(r);
  REQUIRE(r.body ==
          "timeseries[1]: value of label \"host\" is 8 bytes, over "
          "limits.max_label_value_length (4): \"too-long\"\n");
  REQUIRE(db.head()->active_series() == 0);
  REQUIRE(metrics.requests_refused[static_cast<int>(
                                       head::Refusal::kLabelValueLength)]
              ->Value() == 1);
  REQUIRE(metrics.samples_received.Value() == 0);
}

TEST_CASE("max_active_series: 429 for new series, known series applied") {
  head::HeadOptions options;
  options.limits.max_active_series = 1;
  db::Database db{options};
  prometheus::Registry registry;
  WriteMetrics metrics{registry};
  RemoteWriteHandler handler{&db, &metrics, WriteLimits{}};
  auto post = [&](const std::string& raw) {
    return handler.Handle(
        HttpRequest{"application/x-protobuf", "snappy", Snappy(raw)});
  };
  REQUIRE(post(SerializeWriteRequest(
                   {{{{"__name__", "cpu"}, {"host", "a"}}, {{1000, 1}}}}))
              .status == 204);
  const std::string mixed = SerializeWriteRequest(
      {{{{"__name__", "cpu"}, {"host", "a"}}, {{2000, 2}}},
       {{{"__name__", "cpu"}, {"host", "b"}}, {{2000, 3}}}});
  HttpResponse r = post(mixed);
  REQUIRE(r.status == 429);
  RequireOneLine(r);
  REQUIRE(r.body ==
          "1 new series refused: promewma holds limits.max_active_series (1) "
          "series; the samples of known series were applied\n");
  REQUIRE(std::find(r.headers.begin(), r.headers.end(),
                    std::pair<std::string, std::string>{"Retry-After",
                                                        "10"}) !=
          r.headers.end());
  REQUIRE(metrics.samples_applied.Value() == 2);
  REQUIRE(metrics.samples_dropped[static_cast<int>(
                                      head::DropReason::kSeriesLimit)]
              ->Value() == 1);
  REQUIRE(metrics.requests_refused[static_cast<int>(
                                       head::Refusal::kActiveSeries)]
              ->Value() == 1);
  // The sender's retry repeats the known series' sample as a duplicate.
  REQUIRE(post(mixed).status == 429);
  REQUIRE(metrics.samples_applied.Value() == 2);
  REQUIRE(metrics.samples_dropped[static_cast<int>(
                                      head::DropReason::kDuplicate)]
              ->Value() == 1);
  REQUIRE(db.head()->active_series() == 1);
}

TEST_CASE("metadata-only requests: 204") {
  Fixture f;
  HttpResponse r = f.Post(Snappy(SerializeWriteRequest({}, {/*metadata=*/1})));
  REQUIRE(r.status == 204);
  REQUIRE(f.metrics.metadata_received.Value() == 1);
}

TEST_CASE("an empty body is an empty request") {
  Fixture f;
  REQUIRE(f.Post(Snappy("")).status == 204);
}

}  // namespace
}  // namespace promewma::http
