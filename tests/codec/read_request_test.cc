// Remote-read request decoding, checked against libprotobuf (the generated
// prometheus.ReadRequest from proto/) on random and mutated requests, plus
// one table per rule: negotiation, matcher types, and every refusal.

#include "codec/read_request.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "codec/snappy_block.h"
#include "remote.pb.h"

namespace promewma::codec {
namespace {

using prometheus::LabelMatcher;
using prometheus::ReadRequest;
using Type = model::Matcher::Type;

constexpr size_t kLimit = 1 << 20;

// Quiets libprotobuf's log lines for invalid UTF-8 while a test runs.
class QuietProtobufLog {
 public:
  QuietProtobufLog() : previous_(google::protobuf::SetLogHandler(nullptr)) {}
  ~QuietProtobufLog() { google::protobuf::SetLogHandler(previous_); }

 private:
  google::protobuf::LogHandler* previous_;
};

std::string Body(const ReadRequest& req) {
  return CompressSnappyBlock(req.SerializeAsString());
}

void AddMatcher(prometheus::Query* q, LabelMatcher::Type type,
                const std::string& name, const std::string& value) {
  auto* m = q->add_matchers();
  m->set_type(type);
  m->set_name(name);
  m->set_value(value);
}

// A request with one query selecting cpu{job="node"} over [1000, 2000].
ReadRequest SimpleRequest() {
  ReadRequest req;
  auto* q = req.add_queries();
  q->set_start_timestamp_ms(1000);
  q->set_end_timestamp_ms(2000);
  AddMatcher(q, LabelMatcher::EQ, "__name__", "cpu");
  AddMatcher(q, LabelMatcher::EQ, "job", "node");
  return req;
}

Status Decode(const ReadRequest& req, ReadRequestView* out) {
  return DecodeReadRequest(Body(req), kLimit, out);
}

// Simple regexes RE2 always accepts, plus literal values.
std::string RandomValue(std::mt19937_64& rng, bool regex) {
  static const char* kLiteral[] = {"node", "", "9100", "é", "a b", "x\"y"};
  static const char* kRegex[] = {"node|vm", ".*", ".+",      "cpu_[0-9]+",
                                 "",        "a",  "(?i)Node"};
  return regex ? kRegex[rng() % 7] : kLiteral[rng() % 6];
}

ReadRequest RandomRequest(std::mt19937_64& rng) {
  static const char* kNames[] = {"__name__", "job", "instance", "a_b", "Z9"};
  ReadRequest req;
  const size_t queries = rng() % 4;
  for (size_t i = 0; i < queries; ++i) {
    auto* q = req.add_queries();
    const int64_t start = static_cast<int64_t>(rng()) >> (rng() % 64);
    const int64_t span = static_cast<int64_t>(rng() % 100000);
    const int64_t end = start > std::numeric_limits<int64_t>::max() - span
                            ? start
                            : start + span;
    q->set_start_timestamp_ms(start);
    q->set_end_timestamp_ms(end);
    const size_t matchers = 1 + rng() % 4;
    for (size_t j = 0; j < matchers; ++j) {
      const auto type = static_cast<LabelMatcher::Type>(rng() % 4);
      const bool regex = type == LabelMatcher::RE || type == LabelMatcher::NRE;
      AddMatcher(q, type, kNames[rng() % 5], RandomValue(rng, regex));
    }
    if (rng() % 3 == 0) {
      auto* hints = q->mutable_hints();
      hints->set_step_ms(15000);
      hints->set_func("rate");
      hints->add_grouping("job");
      hints->set_start_ms(start);
      hints->set_end_ms(end);
    }
  }
  const size_t types = rng() % 3;
  for (size_t i = 0; i < types; ++i) {
    req.add_accepted_response_types(
        static_cast<ReadRequest::ResponseType>(rng() % 2));
  }
  return req;
}

// What DecodeReadRequest must produce for a message libprotobuf parsed:
// false when one of the semantic checks must refuse it.
bool Acceptable(const ReadRequest& req) {
  bool supported = req.accepted_response_types_size() == 0;
  for (int t : req.accepted_response_types()) supported |= t == 0 || t == 1;
  if (!supported) return false;
  int matchers = 0;
  for (const auto& q : req.queries()) {
    if (q.start_timestamp_ms() > q.end_timestamp_ms()) return false;
    if (q.matchers_size() == 0) return false;
    for (const auto& m : q.matchers()) {
      if (m.type() < 0 || m.type() > 3) return false;
      const auto type = static_cast<Type>(m.type());
      if (!model::Matcher::Create(type, m.name(), m.value()).ok()) return false;
      ++matchers;
    }
  }
  return matchers <= static_cast<int>(kMaxReadMatchers);
}

ReadResponseType ExpectedType(const ReadRequest& req) {
  for (int t : req.accepted_response_types()) {
    if (t == 0) return ReadResponseType::kSamples;
    if (t == 1) return ReadResponseType::kStreamedXorChunks;
  }
  return ReadResponseType::kSamples;
}

void RequireSame(const ReadRequestView& got, const ReadRequest& want) {
  REQUIRE(got.response_type == ExpectedType(want));
  REQUIRE(got.queries.size() == static_cast<size_t>(want.queries_size()));
  for (int i = 0; i < want.queries_size(); ++i) {
    const auto& wq = want.queries(i);
    const ReadQuery& gq = got.queries[i];
    REQUIRE(gq.start_ms == wq.start_timestamp_ms());
    REQUIRE(gq.end_ms == wq.end_timestamp_ms());
    REQUIRE(gq.matchers.size() == static_cast<size_t>(wq.matchers_size()));
    for (int j = 0; j < wq.matchers_size(); ++j) {
      REQUIRE(static_cast<int>(gq.matchers[j].type()) == wq.matchers(j).type());
      REQUIRE(gq.matchers[j].name() == wq.matchers(j).name());
      REQUIRE(gq.matchers[j].value() == wq.matchers(j).value());
    }
  }
}

TEST_CASE("read request decoder agrees with libprotobuf on random requests") {
  std::mt19937_64 rng(11);
  ReadRequestView got;
  for (int iter = 0; iter < 2000; ++iter) {
    const ReadRequest req = RandomRequest(rng);
    Status s = Decode(req, &got);
    INFO("iteration " << iter << ": " << s.ToString());
    REQUIRE(s.ok());
    RequireSame(got, req);
  }
}

TEST_CASE("read request: mutated bodies decode like libprotobuf or fail") {
  QuietProtobufLog quiet;
  std::mt19937_64 rng(12);
  ReadRequestView got;
  int agreed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string raw = RandomRequest(rng).SerializeAsString();
    if (raw.empty()) continue;
    switch (rng() % 3) {
      case 0:
        raw[rng() % raw.size()] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        raw.resize(rng() % raw.size());
        break;
      default:
        raw[rng() % raw.size()] = static_cast<char>(rng());
    }
    ReadRequest reference;
    const bool reference_ok = reference.ParseFromString(raw);
    Status s = DecodeReadRequest(CompressSnappyBlock(raw), kLimit, &got);
    INFO("iteration " << iter << ": " << s.ToString());
    // Where libprotobuf refuses, we may still accept: we only skip the
    // hints, whose strings libprotobuf also checks for UTF-8, and we take
    // over-long tag varints as it takes over-long value varints.
    if (!reference_ok) continue;
    if (Acceptable(reference)) {
      REQUIRE(s.ok());
      RequireSame(got, reference);
      ++agreed;
    } else {
      REQUIRE(s.code() == StatusCode::kInvalidArgument);
    }
  }
  REQUIRE(agreed > 1000);
}

TEST_CASE("response type negotiation follows Prometheus") {
  using RT = ReadRequest;
  struct Case {
    std::vector<int> accepted;
    ReadResponseType want;
  };
  auto c = GENERATE(values<Case>({
      {{}, ReadResponseType::kSamples},
      {{RT::SAMPLES}, ReadResponseType::kSamples},
      {{RT::STREAMED_XOR_CHUNKS}, ReadResponseType::kStreamedXorChunks},
      // The first supported type in the client's order wins, even when
      // streaming is listed later.
      {{RT::SAMPLES, RT::STREAMED_XOR_CHUNKS}, ReadResponseType::kSamples},
      {{RT::STREAMED_XOR_CHUNKS, RT::SAMPLES},
       ReadResponseType::kStreamedXorChunks},
      // Unknown types (a future one, or garbage) are passed over.
      {{7, RT::STREAMED_XOR_CHUNKS}, ReadResponseType::kStreamedXorChunks},
      {{-1, 2, RT::SAMPLES}, ReadResponseType::kSamples},
  }));
  ReadRequest req = SimpleRequest();
  for (int t : c.accepted) {
    req.add_accepted_response_types(static_cast<RT::ResponseType>(t));
  }
  ReadRequestView got;
  SECTION("packed (how proto3 writes them)") {
    Status s = Decode(req, &got);
    INFO(s.ToString());
    REQUIRE(s.ok());
    REQUIRE(got.response_type == c.want);
  }
  SECTION("unpacked (parsers must accept both)") {
    ReadRequest queries_only = req;
    queries_only.clear_accepted_response_types();
    std::string raw = queries_only.SerializeAsString();
    for (int t : c.accepted) {
      raw += '\x10';  // field 2, varint
      uint64_t v = static_cast<uint64_t>(static_cast<int64_t>(t));
      do {
        raw += static_cast<char>((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
      } while (v != 0);
    }
    ReadRequest reference;
    REQUIRE(reference.ParseFromString(raw));
    REQUIRE(reference.accepted_response_types_size() ==
            static_cast<int>(c.accepted.size()));
    Status s = DecodeReadRequest(CompressSnappyBlock(raw), kLimit, &got);
    INFO(s.ToString());
    REQUIRE(s.ok());
    REQUIRE(got.response_type == c.want);
  }
}

TEST_CASE("no supported response type is refused") {
  ReadRequest req = SimpleRequest();
  req.add_accepted_response_types(static_cast<ReadRequest::ResponseType>(7));
  req.add_accepted_response_types(static_cast<ReadRequest::ResponseType>(9));
  ReadRequestView got;
  Status s = Decode(req, &got);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message() ==
          "none of the accepted response types [7, 9] is supported "
          "(supported: SAMPLES, STREAMED_XOR_CHUNKS)");
}

TEST_CASE("every matcher type maps to its model::Matcher, fully anchored") {
  struct Case {
    LabelMatcher::Type wire;
    Type type;
    std::string value;
    std::vector<std::pair<std::string, bool>> matches;
  };
  auto c = GENERATE(values<Case>({
      {LabelMatcher::EQ, Type::kEqual, "node", {{"node", true}, {"no", false}}},
      {LabelMatcher::NEQ,
       Type::kNotEqual,
       "node",
       {{"node", false}, {"vm", true}, {"", true}}},
      {LabelMatcher::RE,
       Type::kRegexMatch,
       "no|vm",
       {{"no", true}, {"vm", true}, {"node", false}, {"xvm", false}}},
      {LabelMatcher::NRE,
       Type::kRegexNoMatch,
       "no.*",
       {{"node", false}, {"vm", true}, {"xno", true}}},
  }));
  ReadRequest req;
  auto* q = req.add_queries();
  q->set_start_timestamp_ms(-5000);  // negative timestamps are fine
  q->set_end_timestamp_ms(-5000);
  AddMatcher(q, c.wire, "job", c.value);
  ReadRequestView got;
  REQUIRE(Decode(req, &got).ok());
  REQUIRE(got.queries.size() == 1);
  REQUIRE(got.queries[0].start_ms == -5000);
  REQUIRE(got.queries[0].end_ms == -5000);
  const model::Matcher& m = got.queries[0].matchers.at(0);
  REQUIRE(m.type() == c.type);
  REQUIRE(m.name() == "job");
  REQUIRE(m.value() == c.value);
  for (const auto& [value, want] : c.matches) {
    INFO(m.ToString() << " on \"" << value << "\"");
    REQUIRE(m.Matches(value) == want);
  }
}

TEST_CASE("semantically wrong queries are refused naming the query") {
  struct Case {
    const char* name;
    void (*mutate)(ReadRequest*);
    std::string message;
  };
  auto c = GENERATE(values<Case>({
      {"start after end",
       [](ReadRequest* r) {
         r->mutable_queries(1)->set_start_timestamp_ms(3000);
       },
       "query 1: start 3000 ms is after end 2000 ms"},
      {"no matchers",
       [](ReadRequest* r) { r->mutable_queries(1)->clear_matchers(); },
       "query 1: no label matchers"},
      {"bad regex",
       [](ReadRequest* r) {
         AddMatcher(r->mutable_queries(1), LabelMatcher::RE, "job", "(node");
       },
       "query 1, matcher 2 on label \"job\": invalid regular expression "
       "\"(node\": missing ): (node"},
      {"bad negated regex",
       [](ReadRequest* r) {
         AddMatcher(r->mutable_queries(1), LabelMatcher::NRE, "env", "a**");
       },
       "query 1, matcher 2 on label \"env\": invalid regular expression "
       "\"a**\": bad repetition operator: **"},
      {"unknown matcher type",
       [](ReadRequest* r) {
         AddMatcher(r->mutable_queries(1), static_cast<LabelMatcher::Type>(7),
                    "job", "x");
       },
       "query 1, matcher 2 on label \"job\": unknown matcher type 7"},
      {"invalid label name",
       [](ReadRequest* r) {
         AddMatcher(r->mutable_queries(1), LabelMatcher::EQ, "bad-name", "x");
       },
       "query 1, matcher 2: invalid label name \"bad-name\""},
      {"empty label name",
       [](ReadRequest* r) {
         AddMatcher(r->mutable_queries(1), LabelMatcher::EQ, "", "x");
       },
       "query 1, matcher 2: invalid label name \"\""},
  }));
  INFO(c.name);
  ReadRequest req = SimpleRequest();
  *req.add_queries() = req.queries(0);  // query 1, the one made wrong
  c.mutate(&req);
  ReadRequestView got;
  Status s = Decode(req, &got);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message() == c.message);
}

TEST_CASE("a request with no queries is valid and empty") {
  ReadRequest req;
  req.add_accepted_response_types(ReadRequest::STREAMED_XOR_CHUNKS);
  ReadRequestView got;
  got.queries.resize(3);  // stale contents are replaced
  REQUIRE(Decode(req, &got).ok());
  REQUIRE(got.queries.empty());
  REQUIRE(got.response_type == ReadResponseType::kStreamedXorChunks);
  REQUIRE(DecodeReadRequest(CompressSnappyBlock(""), kLimit, &got).ok());
  REQUIRE(got.response_type == ReadResponseType::kSamples);
}

TEST_CASE("size limit, snappy and protobuf errors") {
  ReadRequestView got;
  const std::string raw = SimpleRequest().SerializeAsString();
  const std::string body = CompressSnappyBlock(raw);

  SECTION("declared decoded size over the limit") {
    Status s = DecodeReadRequest(body, raw.size() - 1, &got);
    REQUIRE(s.code() == StatusCode::kTooLarge);
    REQUIRE(s.message() ==
            "decoded body would be " + std::to_string(raw.size()) +
                " bytes, over the limit of " + std::to_string(raw.size() - 1));
    REQUIRE(DecodeReadRequest(body, raw.size(), &got).ok());
  }
  SECTION("corrupt snappy") {
    std::string cut = body.substr(0, body.size() - 4);
    Status s = DecodeReadRequest(cut, kLimit, &got);
    REQUIRE(s.code() == StatusCode::kInvalidArgument);
    REQUIRE(s.message() == "corrupt snappy body");
  }
  SECTION("uncompressed protobuf where snappy is expected") {
    Status s = DecodeReadRequest(raw, kLimit, &got);
    REQUIRE(s.code() == StatusCode::kInvalidArgument);
  }
  SECTION("garbage protobuf") {
    struct Case {
      std::string raw;
      std::string message;
    };
    auto c = GENERATE(values<Case>({
        {std::string("\x0a\x05\x08\x01", 4),
         "malformed read request protobuf at byte 2: truncated query"},
        {std::string("\x00", 1),
         "malformed read request protobuf at byte 1: bad field tag"},
        {std::string("\x0f", 1),
         "malformed read request protobuf at byte 1: bad unknown field"},
        {std::string("\x0a\x02\x1a\x05", 4),
         "malformed read request protobuf at byte 4: truncated matcher"},
        {std::string("\x0a\x04\x1a\x02\x12\x05", 6),
         "malformed read request protobuf at byte 6: truncated matcher name"},
        {std::string("\x0a\x02\x22\x03", 4),
         "malformed read request protobuf at byte 4: truncated hints"},
        {std::string("\x0a\x04\x22\x02\x08\x80", 6),
         "malformed read request protobuf at byte 5: bad field in hints"},
        {std::string("\x12\x02\x01\x80", 4),
         "malformed read request protobuf at byte 3: truncated packed "
         "response type"},
        {std::string("\x10", 1),
         "malformed read request protobuf at byte 1: truncated response "
         "type"},
        {"this is not a protobuf message at all",
         "malformed read request protobuf at byte 1: bad unknown field"},
    }));
    {
      QuietProtobufLog quiet;
      ReadRequest reference;
      REQUIRE_FALSE(reference.ParseFromString(c.raw));
    }
    Status s = DecodeReadRequest(CompressSnappyBlock(c.raw), kLimit, &got);
    REQUIRE(s.code() == StatusCode::kInvalidArgument);
    REQUIRE(s.message() == c.message);
  }
}

TEST_CASE("matcher strings must be UTF-8, like any proto3 string") {
  ReadRequest req = SimpleRequest();
  AddMatcher(req.mutable_queries(0), LabelMatcher::EQ, "job",
             std::string("\xc3\x28", 2));
  std::string raw;
  {
    QuietProtobufLog quiet;
    req.SerializePartialToString(&raw);
    ReadRequest reference;
    REQUIRE_FALSE(reference.ParseFromString(raw));
  }
  ReadRequestView got;
  Status s = DecodeReadRequest(CompressSnappyBlock(raw), kLimit, &got);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message().find("matcher value is not valid UTF-8") !=
          std::string::npos);
}

TEST_CASE("unknown fields, hints and repeated scalars are handled") {
  ReadRequest req = SimpleRequest();
  auto* hints = req.mutable_queries(0)->mutable_hints();
  hints->set_func("rate");
  hints->set_range_ms(300000);
  std::string raw = req.SerializeAsString();
  // Unknown top-level fields: a varint (15), a group (14) with a fixed32
  // inside, a fixed64 (13).
  raw += std::string("\x78\x05\x73\x0d\x01\x02\x03\x04\x74\x69", 10) +
         std::string(8, '\x01');
  // A second query message whose start repeats: the last value wins.
  prometheus::Query q2;
  q2.set_start_timestamp_ms(1);
  q2.set_end_timestamp_ms(10);
  AddMatcher(&q2, LabelMatcher::RE, "__name__", "cpu.*");
  std::string q2_raw = q2.SerializeAsString() + std::string("\x08\x05", 2);
  raw += '\x0a';
  raw += static_cast<char>(q2_raw.size());
  raw += q2_raw;

  ReadRequest reference;
  REQUIRE(reference.ParseFromString(raw));
  REQUIRE(reference.queries(1).start_timestamp_ms() == 5);
  ReadRequestView got;
  Status s = DecodeReadRequest(CompressSnappyBlock(raw), kLimit, &got);
  INFO(s.ToString());
  REQUIRE(s.ok());
  RequireSame(got, reference);
}

TEST_CASE("more than kMaxReadMatchers matchers is refused as too large") {
  ReadRequest req;
  auto* q = req.add_queries();
  q->set_end_timestamp_ms(1);
  for (size_t i = 0; i < kMaxReadMatchers; ++i) {
    AddMatcher(q, LabelMatcher::EQ, "job", "x");
  }
  ReadRequestView got;
  REQUIRE(Decode(req, &got).ok());
  AddMatcher(req.add_queries(), LabelMatcher::EQ, "job", "y");
  Status s = Decode(req, &got);
  REQUIRE(s.code() == StatusCode::kTooLarge);
  REQUIRE(s.message() == "read request has over 64 label matchers");

  // Queries without matchers are invalid anyway, but a body of thousands of
  // empty ones (2 bytes each) is refused by count while it is parsed.
  std::string raw;
  for (size_t i = 0; i <= kMaxReadMatchers; ++i)
    raw += std::string("\x0a\x00", 2);
  s = DecodeReadRequest(CompressSnappyBlock(raw), kLimit, &got);
  REQUIRE(s.code() == StatusCode::kTooLarge);
  REQUIRE(s.message() == "read request has over 64 queries");
}

TEST_CASE("a long list of unsupported response types is shown shortened") {
  ReadRequest req = SimpleRequest();
  for (int t = 2; t < 40; ++t) {
    req.add_accepted_response_types(static_cast<ReadRequest::ResponseType>(t));
  }
  ReadRequestView got;
  Status s = Decode(req, &got);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message() ==
          "none of the accepted response types [2, 3, 4, 5, 6, 7, 8, 9, ...] "
          "is supported (supported: SAMPLES, STREAMED_XOR_CHUNKS)");
  // A supported type after many unknown ones still wins.
  req.add_accepted_response_types(ReadRequest::STREAMED_XOR_CHUNKS);
  REQUIRE(Decode(req, &got).ok());
  REQUIRE(got.response_type == ReadResponseType::kStreamedXorChunks);
}

TEST_CASE("the fuzz seed corpus holds valid snappy read requests") {
  struct Case {
    const char* file;
    size_t queries;
    ReadResponseType type;
  };
  auto c = GENERATE(values<Case>({
      {"one_query_streamed.sz", 1, ReadResponseType::kStreamedXorChunks},
      {"two_queries_samples.sz", 2, ReadResponseType::kSamples},
  }));
  const std::string path = std::string(PROMEWMA_SOURCE_DIR) +
                           "/tests/fuzz/corpus/read_request/" + c.file;
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  const std::string body((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  ReadRequestView got;
  Status s = DecodeReadRequest(body, kLimit, &got);
  INFO(path << ": " << s.ToString());
  REQUIRE(s.ok());
  REQUIRE(got.queries.size() == c.queries);
  REQUIRE(got.response_type == c.type);
}

}  // namespace
}  // namespace promewma::codec
