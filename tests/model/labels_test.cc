#include "model/labels.h"

#include <catch2/catch.hpp>

namespace promewma::model {
namespace {

TEST_CASE("label and metric name character classes") {
  auto [name, label_ok, metric_ok] = GENERATE(table<std::string, bool, bool>({
      {"a", true, true},
      {"_x9", true, true},
      {"job:sum", false, true},
      {":a", false, true},
      {"9a", false, false},
      {"", false, false},
      {"a-b", false, false},
      {"é", false, false},
  }));
  INFO(name);
  REQUIRE(IsValidLabelName(name) == label_ok);
  REQUIRE(IsValidMetricName(name) == metric_ok);
}

TEST_CASE("UTF-8 validation") {
  auto [text, ok] = GENERATE(table<std::string, bool>({
      {"plain ascii text, long enough for the fast path", true},
      {"caf\xc3\xa9", true},
      {"\xe6\x97\xa5\xe6\x9c\xac", true},
      {"\xf0\x9f\x98\x80", true},
      {"\xc3\x28", false},          // bad continuation
      {"\xc0\xaf", false},          // overlong '/'
      {"\xed\xa0\x80", false},      // surrogate
      {"\xf4\x90\x80\x80", false},  // past U+10FFFF
      {"abcdefgh\xe6\x97", false},  // truncated after the fast path
  }));
  REQUIRE(IsValidUtf8(text) == ok);
}

TEST_CASE("canonical encoding sorts, drops empty values and reads back") {
  std::vector<Label> labels = {
      {"job", "node"}, {"__name__", "cpu"}, {"env", ""}, {"host", "a\"b"}};
  std::string encoded;
  REQUIRE(EncodeLabelSet(&labels, &encoded).ok());
  LabelSetView view(encoded);
  std::vector<std::pair<std::string, std::string>> got;
  for (const Label& l : view) got.emplace_back(l.name, l.value);
  REQUIRE(got == std::vector<std::pair<std::string, std::string>>{
                     {"__name__", "cpu"}, {"host", "a\"b"}, {"job", "node"}});
  REQUIRE(view.MetricName() == "cpu");
  REQUIRE(view.Get("env").empty());
  REQUIRE(view.ToString() == "cpu{host=\"a\\\"b\", job=\"node\"}");

  // The same set in another order has the same bytes and hash.
  std::vector<Label> again = {
      {"host", "a\"b"}, {"job", "node"}, {"__name__", "cpu"}};
  std::string encoded2;
  REQUIRE(EncodeLabelSet(&again, &encoded2).ok());
  REQUIRE(encoded2 == encoded);
  REQUIRE(HashLabelSet(encoded2) == HashLabelSet(encoded));
}

TEST_CASE("long names and values use multi-byte lengths") {
  std::string long_value(300, 'v');
  std::vector<Label> labels = {{"__name__", "m"}, {"big", long_value}};
  std::string encoded;
  REQUIRE(EncodeLabelSet(&labels, &encoded).ok());
  REQUIRE(LabelSetView(encoded).Get("big") == long_value);
}

TEST_CASE("invalid label sets leave the output untouched") {
  std::vector<Label> labels = {{"__name__", "cpu"}, {"a", "1"}, {"a", "2"}};
  std::string encoded = "keep";
  Status s = EncodeLabelSet(&labels, &encoded);
  REQUIRE(s.code() == StatusCode::kInvalidArgument);
  REQUIRE(s.message() == "duplicate label name \"a\"");
  REQUIRE(encoded == "keep");
}

}  // namespace
}  // namespace promewma::model

namespace promewma::model {
namespace {

TEST_CASE("a derived name keeps the other labels and their order") {
  // "Zone" sorts before "__name__": the name is not always first.
  std::vector<Label> input = {
      {"__name__", "cpu"}, {"Zone", "eu"}, {"instance", "a:9100"}};
  std::string encoded;
  REQUIRE(EncodeLabelSet(&input, &encoded).ok());
  std::string derived;
  EncodeWithMetricName(LabelSetView(encoded), "cpu:ewma", &derived);
  std::vector<Label> want = {
      {"__name__", "cpu:ewma"}, {"Zone", "eu"}, {"instance", "a:9100"}};
  std::string expected;
  REQUIRE(EncodeLabelSet(&want, &expected).ok());
  REQUIRE(derived == expected);
}

TEST_CASE("a suffix spliced into the name equals encoding the renamed set") {
  // The name first, after an upper-case label, or last; and a value whose
  // length crosses 127 with the suffix, so its length varint grows a byte.
  const std::string long_name(120, 'c'), long_job(200, 'j');
  const std::vector<std::vector<Label>> cases = {
      {{"__name__", "cpu"}, {"instance", "a:9100"}, {"mode", "idle"}},
      {{"__name__", "cpu"}, {"Zone", "eu"}, {"instance", "a:9100"}},
      {{"A", "1"}, {"B", "2"}, {"__name__", "cpu"}},
      {{"__name__", long_name}, {"job", long_job}},
  };
  for (std::vector<Label> labels : cases) {
    for (std::string_view suffix : {":ewma", ":upper_threshold"}) {
      std::string encoded;
      REQUIRE(EncodeLabelSet(&labels, &encoded).ok());
      std::vector<Label> renamed = labels;
      std::string new_name;
      for (Label& l : renamed) {
        if (l.name != kMetricNameLabel) continue;
        new_name = std::string(l.value) + std::string(suffix);
        l.value = new_name;
      }
      std::string expected;
      REQUIRE(EncodeLabelSet(&renamed, &expected).ok());

      const MetricNameEntry entry = FindMetricNameEntry(encoded);
      REQUIRE(entry.size > 0);
      REQUIRE(entry.value == LabelSetView(encoded).MetricName());
      const size_t size = SizeWithNameSuffix(encoded, entry, suffix);
      REQUIRE(size == expected.size());
      std::string out(size + 8, '#');  // the tail shows any overrun
      char* end = WriteWithNameSuffix(encoded, entry, suffix, out.data());
      REQUIRE(end == out.data() + size);
      REQUIRE(out.substr(0, size) == expected);
      REQUIRE(out.substr(size) == std::string(8, '#'));
    }
  }
}

}  // namespace
}  // namespace promewma::model
