// The zero-copy WriteRequest decoder, checked against libprotobuf (the
// generated prometheus.WriteRequest from proto/) on random, non-canonical
// and mutated messages.

#include "codec/write_request.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "remote.pb.h"

namespace promewma::codec {
namespace {

using model::Label;
using model::LabelSetView;

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

std::string Hex(std::string_view s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    std::snprintf(buf, sizeof(buf), "%02x", c);
    out += buf;
  }
  return out;
}

std::string RandomName(std::mt19937_64& rng, bool metric) {
  static const char kFirst[] = "abcxyzABZ_";
  static const char kRest[] = "abcxyz019_AZ";
  std::string s(1, kFirst[rng() % (sizeof(kFirst) - 1)]);
  if (metric && rng() % 4 == 0) s += ':';
  size_t n = rng() % 12;
  for (size_t i = 0; i < n; ++i) s += kRest[rng() % (sizeof(kRest) - 1)];
  return s;
}

std::string RandomValue(std::mt19937_64& rng) {
  static const char* kPieces[] = {"a",  "node-1", "9100", "é",   "日本", " ",
                                  "\"", "\\",     "\n",   "x=y", "{}",   ""};
  std::string s;
  size_t n = 1 + rng() % 4;
  for (size_t i = 0; i < n; ++i) s += kPieces[rng() % 12];
  return s;
}

double RandomSampleValue(std::mt19937_64& rng) {
  switch (rng() % 8) {
    case 0:
      return std::nan("");
    case 1:
      return -INFINITY;
    case 2:
      return 0.0;
    case 3:
      return -0.0;
    default:
      return std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
  }
}

// A random request as Prometheus would write it: labels sorted, unique,
// non-empty values.
prometheus::WriteRequest RandomRequest(std::mt19937_64& rng) {
  prometheus::WriteRequest req;
  size_t series = rng() % 8;
  for (size_t i = 0; i < series; ++i) {
    auto* ts = req.add_timeseries();
    std::map<std::string, std::string> labels;
    labels["__name__"] = RandomName(rng, true);
    size_t n = rng() % 6;
    for (size_t j = 0; j < n; ++j) {
      std::string v = RandomValue(rng);
      if (!v.empty()) labels[RandomName(rng, false)] = v;
    }
    for (const auto& [k, v] : labels) {
      auto* l = ts->add_labels();
      l->set_name(k);
      l->set_value(v);
    }
    size_t samples = rng() % 4;
    for (size_t j = 0; j < samples; ++j) {
      auto* s = ts->add_samples();
      s->set_value(RandomSampleValue(rng));
      s->set_timestamp(static_cast<int64_t>(rng()) >> (rng() % 64));
    }
  }
  return req;
}

// What the decoder must produce for a libprotobuf message, or false when
// the message has invalid labels.
struct Expected {
  std::vector<std::string> labels;  // canonical encodings
  std::vector<std::vector<std::pair<int64_t, uint64_t>>> samples;
};

bool Expect(const prometheus::WriteRequest& req, Expected* out) {
  for (const auto& ts : req.timeseries()) {
    std::vector<Label> labels;
    for (const auto& l : ts.labels()) labels.push_back({l.name(), l.value()});
    std::string encoded;
    if (!model::EncodeLabelSet(&labels, &encoded).ok()) return false;
    out->labels.push_back(encoded);
    out->samples.emplace_back();
    for (const auto& s : ts.samples())
      out->samples.back().emplace_back(s.timestamp(), Bits(s.value()));
  }
  return true;
}

// Decoding plus the label validation the engine runs for new series.
Status DecodeAndValidate(std::string_view body, DecodedWriteRequest* out) {
  Status s = DecodeWriteRequest(body, out);
  for (size_t i = 0; s.ok() && i < out->series.size(); ++i) {
    s = ValidateSeriesLabels(*out, i);
  }
  return s;
}

void RequireMatches(const DecodedWriteRequest& got, const Expected& want) {
  REQUIRE(got.series.size() == want.labels.size());
  for (size_t i = 0; i < want.labels.size(); ++i) {
    const DecodedSeries& s = got.series[i];
    REQUIRE(s.labels == want.labels[i]);
    REQUIRE(s.labels_hash == model::HashLabelSet(want.labels[i]));
    REQUIRE(s.sample_count == want.samples[i].size());
    for (size_t j = 0; j < s.sample_count; ++j) {
      const DecodedSample& d = got.samples[s.first_sample + j];
      REQUIRE(d.timestamp_ms == want.samples[i][j].first);
      REQUIRE(Bits(d.value) == want.samples[i][j].second);
    }
  }
}

TEST_CASE("decoder agrees with libprotobuf on random requests") {
  google::protobuf::LogHandler* previous =
      google::protobuf::SetLogHandler(nullptr);
  std::mt19937_64 rng(42);
  DecodedWriteRequest decoded;
  for (int iter = 0; iter < 2000; ++iter) {
    prometheus::WriteRequest req = RandomRequest(rng);
    std::string body = req.SerializeAsString();
    Expected want;
    REQUIRE(Expect(req, &want));
    Status s = DecodeAndValidate(body, &decoded);
    INFO("iteration " << iter << ": " << s.ToString());
    REQUIRE(s.ok());
    RequireMatches(decoded, want);
    // Prometheus-style input is used in place, never copied.
    for (const DecodedSeries& series : decoded.series) {
      REQUIRE(series.labels.data() >= body.data());
      REQUIRE(series.labels.data() + series.labels.size() <=
              body.data() + body.size());
    }
  }
  google::protobuf::SetLogHandler(previous);
}

TEST_CASE("non-canonical label sets are re-encoded to the same identity") {
  prometheus::WriteRequest canonical;
  auto* a = canonical.add_timeseries();
  for (auto [k, v] :
       {std::pair{"__name__", "cpu"}, {"host", "a"}, {"job", "node"}}) {
    auto* l = a->add_labels();
    l->set_name(k);
    l->set_value(v);
  }
  const std::string canonical_body = canonical.SerializeAsString();
  std::string want_labels;
  {
    DecodedWriteRequest d;
    REQUIRE(DecodeWriteRequest(canonical_body, &d).ok());
    want_labels = std::string(d.series[0].labels);
  }

  prometheus::WriteRequest odd;
  auto* b = odd.add_timeseries();
  SECTION("unsorted labels") {
    for (auto [k, v] :
         {std::pair{"job", "node"}, {"__name__", "cpu"}, {"host", "a"}}) {
      auto* l = b->add_labels();
      l->set_name(k);
      l->set_value(v);
    }
  }
  SECTION("an empty-valued label is the same as no label") {
    for (auto [k, v] : {std::pair{"__name__", "cpu"},
                        {"env", ""},
                        {"host", "a"},
                        {"job", "node"}}) {
      auto* l = b->add_labels();
      l->set_name(k);
      l->set_value(v);
    }
  }
  SECTION("samples written between labels") {
    auto* l = b->add_labels();
    l->set_name("__name__");
    l->set_value("cpu");
    std::string body = odd.SerializeAsString();
    prometheus::WriteRequest tail;
    auto* t = tail.add_timeseries();
    t->add_samples()->set_value(1);
    for (auto [k, v] : {std::pair{"host", "a"}, {"job", "node"}}) {
      auto* l2 = t->add_labels();
      l2->set_name(k);
      l2->set_value(v);
    }
    // Concatenating two serialized messages merges them (protobuf rule), so
    // this is one TimeSeries whose labels are interrupted by a sample.
    std::string merged_ts =
        odd.timeseries(0).SerializeAsString() + t->SerializeAsString();
    prometheus::WriteRequest merged;
    REQUIRE(merged.add_timeseries()->ParseFromString(merged_ts));
    std::string wire = "\x0a";
    wire += static_cast<char>(merged_ts.size());
    wire += merged_ts;
    DecodedWriteRequest d;
    REQUIRE(DecodeWriteRequest(wire, &d).ok());
    REQUIRE(d.series.size() == 1);
    REQUIRE(d.series[0].labels == want_labels);
    REQUIRE(d.series[0].sample_count == 1);
    return;
  }
  const std::string odd_body = odd.SerializeAsString();
  DecodedWriteRequest d;
  Status s = DecodeWriteRequest(odd_body, &d);
  INFO(s.ToString());
  REQUIRE(s.ok());
  REQUIRE(d.series[0].labels == want_labels);
  REQUIRE(d.series[0].labels_hash == model::HashLabelSet(want_labels));
}

TEST_CASE("invalid label sets are refused with the series index") {
  struct Case {
    std::vector<std::pair<std::string, std::string>> labels;
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {{{"job", "node"}}, "timeseries[1]: series has no __name__ label"},
      {{{"__name__", "1cpu"}}, "timeseries[1]: invalid metric name \"1cpu\""},
      {{{"__name__", "cpu"}, {"bad-name", "x"}},
       "timeseries[1]: invalid label name \"bad-name\""},
      {{{"__name__", "cpu"}, {"a", "x"}, {"a", "y"}},
       "timeseries[1]: duplicate label name \"a\""},
      {{{"__name__", "cpu"}, {"a", std::string("\xc3\x28", 2)}},
       "timeseries[1]: label \"a\" has a value that is not valid UTF-8"},
  }));
  prometheus::WriteRequest req;
  auto* good = req.add_timeseries();
  auto* l = good->add_labels();
  l->set_name("__name__");
  l->set_value("ok");
  auto* bad = req.add_timeseries();
  for (const auto& [k, v] : c.labels) {
    auto* x = bad->add_labels();
    x->set_name(k);
    x->set_value(v);
  }
  std::string body;
  google::protobuf::LogHandler* previous =
      google::protobuf::SetLogHandler(nullptr);
  req.SerializePartialToString(&body);  // keeps invalid UTF-8 as it is
  google::protobuf::SetLogHandler(previous);
  DecodedWriteRequest d;
  Status s = DecodeAndValidate(body, &d);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message() == c.message);
}

TEST_CASE("malformed protobuf is refused with the byte offset") {
  auto c = GENERATE(values<std::pair<std::string, std::string>>({
      {std::string("\x0a\x05\x0a\x03", 4),
       "malformed protobuf at byte 2: truncated timeseries"},
      {std::string("\x0a", 1),
       "malformed protobuf at byte 1: truncated timeseries"},
      {std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12),
       "malformed protobuf at byte 1: bad unknown field"},
      {std::string("\x00", 1), "malformed protobuf at byte 1: bad field tag"},
      {std::string("\x0c", 1),
       "malformed protobuf at byte 1: bad unknown field"},
      {std::string("\x1a\x10", 2),
       "malformed protobuf at byte 2: truncated metadata"},
  }));
  DecodedWriteRequest d;
  Status s = DecodeWriteRequest(c.first, &d);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message() == c.second);
}

TEST_CASE("unknown fields, groups, metadata, exemplars and histograms") {
  prometheus::WriteRequest req;
  auto* ts = req.add_timeseries();
  auto* l = ts->add_labels();
  l->set_name("__name__");
  l->set_value("cpu");
  ts->add_samples()->set_timestamp(5);
  ts->add_exemplars()->set_value(1);
  ts->add_histograms()->set_count_int(3);
  ts->add_histograms()->set_count_int(4);
  req.add_metadata()->set_metric_family_name("cpu");
  std::string body = req.SerializeAsString();
  // An unknown group field (number 15) with a nested varint, at the top.
  body += std::string("\x7b\x08\x01\x7c", 4);
  DecodedWriteRequest d;
  REQUIRE(DecodeWriteRequest(body, &d).ok());
  REQUIRE(d.series.size() == 1);
  REQUIRE(d.samples.size() == 1);
  REQUIRE(d.samples[0].timestamp_ms == 5);
  REQUIRE(d.samples[0].value == 0);  // proto3 default
  REQUIRE(d.exemplar_count == 1);
  REQUIRE(d.histogram_count == 2);
  REQUIRE(d.metadata_count == 1);
  prometheus::WriteRequest reference;
  REQUIRE(reference.ParseFromString(body));
}

TEST_CASE("deeply nested groups are refused, not recursed") {
  std::string body;
  for (int i = 0; i < 1000; ++i) body += "\x7b";  // start group 15
  DecodedWriteRequest d;
  REQUIRE(DecodeWriteRequest(body, &d).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("mutated requests: whatever libprotobuf accepts, we decode alike") {
  // libprotobuf logs every invalid UTF-8 string it meets; thousands here.
  google::protobuf::LogHandler* previous =
      google::protobuf::SetLogHandler(nullptr);
  std::mt19937_64 rng(7);
  DecodedWriteRequest decoded;
  int agreed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string body = RandomRequest(rng).SerializeAsString();
    if (body.empty()) continue;
    switch (rng() % 3) {
      case 0:
        body[rng() % body.size()] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        body.resize(rng() % body.size());
        break;
      default:
        body[rng() % body.size()] = static_cast<char>(rng());
    }
    prometheus::WriteRequest reference;
    const bool reference_ok = reference.ParseFromString(body);
    Status s = DecodeAndValidate(body, &decoded);
    if (!reference_ok) continue;  // we may still accept skipped fields
    Expected want;
    INFO("iteration " << iter << ": " << s.ToString() << " body " << Hex(body));
    if (Expect(reference, &want)) {
      REQUIRE(s.ok());
      RequireMatches(decoded, want);
      ++agreed;
    } else {
      REQUIRE(s.code() == StatusCode::kInvalidArgument);
    }
  }
  google::protobuf::SetLogHandler(previous);
  REQUIRE(agreed > 1000);  // the mutations must leave plenty decodable
}

}  // namespace
}  // namespace promewma::codec
