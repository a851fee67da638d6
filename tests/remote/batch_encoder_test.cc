// The hand-written WriteRequest encoder, decoded with libprotobuf (the
// generated prometheus.WriteRequest) and compared field by field.

#include "remote/batch_encoder.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "codec/snappy_block.h"
#include "model/labels.h"
#include "remote.pb.h"

namespace promewma::remote {
namespace {

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

std::string Encode(std::vector<model::Label> labels) {
  std::string out;
  REQUIRE(model::EncodeLabelSet(&labels, &out).ok());
  return out;
}

prometheus::WriteRequest Decode(const std::string& snappy) {
  std::string raw;
  REQUIRE(codec::DecompressSnappyBlock(snappy, 1 << 30, &raw).ok());
  prometheus::WriteRequest req;
  REQUIRE(req.ParseFromString(raw));
  return req;
}

// A fresh encoder per body, as the tests compare whole bodies.
std::string EncodeSnappyWriteRequest(
    const std::vector<OutgoingSample>& samples) {
  return std::string(BatchEncoder().EncodeSnappy(samples));
}

TEST_CASE("empty batch encodes to an empty WriteRequest") {
  std::string raw = "not empty";
  EncodeWriteRequest({}, &raw);
  CHECK(raw.empty());
  CHECK(Decode(EncodeSnappyWriteRequest({})).timeseries_size() == 0);
}

TEST_CASE("consecutive samples of one series share a TimeSeries") {
  const std::string a = Encode({{"__name__", "cpu:ewma"}, {"host", "a"}});
  const std::string b = Encode({{"__name__", "cpu:ewma"}, {"host", "b"}});
  const double stale = [] {
    double v;
    uint64_t bits = 0x7ff0000000000002ULL;
    std::memcpy(&v, &bits, sizeof(v));
    return v;
  }();
  const std::vector<OutgoingSample> samples = {
      {a, 1000, 0.5},  {a, 2000, 0.0}, {b, 1000, -1.25},
      {a, 3000, stale}, {b, -5, 1e300}, {b, 0, 0.0},
  };
  const prometheus::WriteRequest req =
      Decode(EncodeSnappyWriteRequest(samples));
  // a, b, a, b: runs of equal labels, in order.
  REQUIRE(req.timeseries_size() == 4);
  const std::vector<std::pair<std::string, std::vector<size_t>>> runs = {
      {"a", {0, 1}}, {"b", {2}}, {"a", {3}}, {"b", {4, 5}}};
  for (size_t t = 0; t < runs.size(); ++t) {
    const auto& ts = req.timeseries(static_cast<int>(t));
    REQUIRE(ts.labels_size() == 2);
    CHECK(ts.labels(0).name() == "__name__");
    CHECK(ts.labels(0).value() == "cpu:ewma");
    CHECK(ts.labels(1).name() == "host");
    CHECK(ts.labels(1).value() == runs[t].first);
    REQUIRE(ts.samples_size() == static_cast<int>(runs[t].second.size()));
    for (size_t k = 0; k < runs[t].second.size(); ++k) {
      const OutgoingSample& want = samples[runs[t].second[k]];
      CHECK(ts.samples(static_cast<int>(k)).timestamp() == want.timestamp_ms);
      CHECK(Bits(ts.samples(static_cast<int>(k)).value()) == Bits(want.value));
    }
  }
}

TEST_CASE("random batches round-trip through libprotobuf") {
  std::mt19937_64 rng(42);
  for (int iter = 0; iter < 200; ++iter) {
    std::vector<std::string> series;
    const int nseries = 1 + static_cast<int>(rng() % 5);
    for (int i = 0; i < nseries; ++i) {
      // Long values make the length varints multi-byte.
      series.push_back(Encode({{"__name__", "m"},
                               {"k", std::string(rng() % 300, 'x') +
                                         std::to_string(i)}}));
    }
    std::vector<OutgoingSample> samples;
    const int n = static_cast<int>(rng() % 50);
    for (int i = 0; i < n; ++i) {
      int64_t ts;
      switch (rng() % 3) {
        case 0: ts = static_cast<int64_t>(rng()); break;
        case 1: ts = -static_cast<int64_t>(rng() % 100000); break;
        default: ts = static_cast<int64_t>(rng() % 200); break;
      }
      double v;
      const uint64_t bits = rng();
      std::memcpy(&v, &bits, sizeof(v));
      samples.push_back({series[rng() % series.size()], ts, v});
    }
    const prometheus::WriteRequest req =
        Decode(EncodeSnappyWriteRequest(samples));
    // Flatten back and compare sample by sample, labels included.
    size_t k = 0;
    for (const auto& ts : req.timeseries()) {
      std::vector<model::Label> labels;
      for (const auto& l : ts.labels()) labels.push_back({l.name(), l.value()});
      const std::string encoded = Encode(labels);
      REQUIRE(ts.samples_size() > 0);
      for (const auto& s : ts.samples()) {
        REQUIRE(k < samples.size());
        CHECK(encoded == samples[k].labels);
        CHECK(s.timestamp() == samples[k].timestamp_ms);
        CHECK(Bits(s.value()) == Bits(samples[k].value));
        ++k;
      }
    }
    CHECK(k == samples.size());
  }
}

}  // namespace
}  // namespace promewma::remote

namespace promewma::remote {
namespace {

TEST_CASE("a name suffix renames the series when the batch is encoded") {
  // A 125-byte name: with the suffix its length, and the label entry's,
  // cross 127 and take a two-byte varint.
  const std::string long_name(125, 'n');
  const std::string input = Encode({{"__name__", long_name}, {"host", "a"}});
  const std::vector<OutgoingSample> samples = {
      {input, 1000, 1.5, ":ewma"},
      {input, 2000, 2.5, ":ewma"},
      {input, 1000, 9.5, ":upper_threshold"},
      {input, 1000, 7.0},
  };
  const prometheus::WriteRequest req =
      Decode(EncodeSnappyWriteRequest(samples));
  REQUIRE(req.timeseries_size() == 3);
  const char* names[] = {":ewma", ":upper_threshold", ""};
  const int counts[] = {2, 1, 1};
  for (int t = 0; t < 3; ++t) {
    const auto& ts = req.timeseries(t);
    REQUIRE(ts.labels_size() == 2);
    CHECK(ts.labels(0).value() == long_name + names[t]);
    CHECK(ts.labels(1).value() == "a");
    CHECK(ts.samples_size() == counts[t]);
  }
  CHECK(req.timeseries(0).samples(1).value() == 2.5);
}

}  // namespace
}  // namespace promewma::remote
