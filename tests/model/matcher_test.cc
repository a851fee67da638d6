#include "model/matcher.h"

#include <catch2/catch.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "model/labels.h"

namespace promewma::model {
namespace {

// Canonical encoding of {__name__="cpu_utilization", extra...}; the
// returned string owns the bytes a LabelSetView points into.
std::string CpuSeries(std::vector<Label> extra) {
  extra.push_back({kMetricNameLabel, "cpu_utilization"});
  std::string encoded;
  Status status = EncodeLabelSet(&extra, &encoded);
  REQUIRE(status.ok());
  return encoded;
}

Selector MustParse(std::string_view text) {
  Result<Selector> selector = Selector::Parse(text);
  INFO(text << ": " << selector.status().message());
  REQUIRE(selector.ok());
  return std::move(selector).value();
}

TEST_CASE("Matcher::Create compiles regexes and checks names", "[matcher]") {
  SECTION("each type") {
    auto [type, value, input, want] =
        GENERATE(table<Matcher::Type, std::string, std::string, bool>({
            {Matcher::Type::kEqual, "node", "node", true},
            {Matcher::Type::kEqual, "node", "nodes", false},
            {Matcher::Type::kNotEqual, "node", "node", false},
            {Matcher::Type::kNotEqual, "node", "vm", true},
            {Matcher::Type::kRegexMatch, "node|vm", "vm", true},
            {Matcher::Type::kRegexMatch, "node|vm", "vmx", false},
            {Matcher::Type::kRegexNoMatch, "node|vm", "vm", false},
            {Matcher::Type::kRegexNoMatch, "node|vm", "db", true},
            // Fully anchored like Prometheus' ^(?:...)$.
            {Matcher::Type::kRegexMatch, "no", "node", false},
            {Matcher::Type::kRegexMatch, "de", "node", false},
            {Matcher::Type::kRegexMatch, "no.*", "node", true},
            {Matcher::Type::kRegexMatch, "a|b", "ab", false},
            {Matcher::Type::kRegexNoMatch, "no", "node", true},
            // Go/Prometheus 2.x: '.' does not match a newline.
            {Matcher::Type::kRegexMatch, ".*", "a\nb", false},
            {Matcher::Type::kRegexMatch, "(?i)NODE", "node", true},
            {Matcher::Type::kRegexMatch, "", "", true},
            {Matcher::Type::kRegexMatch, "", "x", false},
        }));
    Result<Matcher> m = Matcher::Create(type, "job", value);
    REQUIRE(m.ok());
    INFO(m->ToString() << " on \"" << input << "\"");
    CHECK(m->Matches(input) == want);
    CHECK(m->type() == type);
    CHECK(m->name() == "job");
    CHECK(m->value() == value);
  }

  SECTION("bad regex carries RE2's error") {
    Result<Matcher> m =
        Matcher::Create(Matcher::Type::kRegexMatch, "job", "node(");
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(m.status().message(),
               Catch::StartsWith("invalid regular expression \"node(\": ") &&
                   Catch::Contains("missing )"));
  }

  SECTION("the bare pattern must parse on its own") {
    // "^(?:a)|(b)$" would compile, with a different meaning.
    Result<Matcher> m =
        Matcher::Create(Matcher::Type::kRegexNoMatch, "job", "a)|(b");
    CHECK_FALSE(m.ok());
  }

  SECTION("invalid label name") {
    auto name = GENERATE(as<std::string>{}, "", "1job", "a-b", "a:b");
    Result<Matcher> m = Matcher::Create(Matcher::Type::kEqual, name, "x");
    REQUIRE_FALSE(m.ok());
    CHECK_THAT(m.status().message(), Catch::Contains("invalid label name"));
  }

  SECTION("copies share the compiled regex and keep working") {
    Result<Matcher> m =
        Matcher::Create(Matcher::Type::kRegexMatch, "job", "node|vm");
    REQUIRE(m.ok());
    std::vector<Matcher> copies(3, *m);
    Matcher moved = std::move(copies[0]);
    CHECK(moved.Matches("vm"));
    CHECK(copies[2].Matches("node"));
    CHECK_FALSE(copies[1].Matches("db"));
  }
}

TEST_CASE("Matcher::ToString quotes like Go's %q", "[matcher]") {
  auto [type, value, want] =
      GENERATE(table<Matcher::Type, std::string, std::string>({
          {Matcher::Type::kEqual, "node", R"(job="node")"},
          {Matcher::Type::kNotEqual, "", R"(job!="")"},
          {Matcher::Type::kRegexMatch, "node|vm", R"(job=~"node|vm")"},
          {Matcher::Type::kRegexNoMatch, R"(\d+)", R"(job!~"\\d+")"},
          {Matcher::Type::kEqual, "a\"b\n\tc", R"(job="a\"b\n\tc")"},
          {Matcher::Type::kEqual, std::string("\x01", 1), R"(job="\x01")"},
          {Matcher::Type::kEqual, "h\xc3\xa9", "job=\"h\xc3\xa9\""},
          {Matcher::Type::kEqual, "\xff", R"(job="\xff")"},
      }));
  Result<Matcher> m = Matcher::Create(type, "job", value);
  REQUIRE(m.ok());
  CHECK(m->ToString() == want);
}

TEST_CASE("Matcher::LiteralPrefix is a prefix of every value it matches",
          "[matcher]") {
  using T = Matcher::Type;
  auto [type, value, want] =
      GENERATE(table<Matcher::Type, std::string, std::string>({
          {T::kEqual, "cpu:ewma", "cpu:ewma"},
          {T::kRegexMatch, "cpu", "cpu"},
          {T::kRegexMatch, "soak_gen_.*", "soak_gen_"},
          {T::kRegexMatch, "soak_gen_1|soak_gen_2", "soak_gen_"},
          {T::kRegexMatch, "cpu:e.+", "cpu:e"},
          {T::kRegexMatch, "(cpu|mem)_total", ""},
          {T::kRegexMatch, ".*cpu", ""},
          {T::kRegexMatch, "(?i)cpu", ""},
          {T::kRegexMatch, "cpu|", ""},  // also matches ""
          {T::kNotEqual, "cpu", ""},
          {T::kRegexNoMatch, "cpu.*", ""},
      }));
  Result<Matcher> m = Matcher::Create(type, "__name__", value);
  REQUIRE(m.ok());
  INFO(m->ToString());
  CHECK(m->LiteralPrefix() == want);
  for (const char* v : {"cpu", "cpu:ewma", "cpu:e1", "soak_gen_1",
                        "soak_gen_2", "soak_gen_", "mem_total", "CPU", "",
                        "xcpu"}) {
    if (m->Matches(v)) CHECK(std::string_view(v).substr(0, want.size()) == want);
  }
}

TEST_CASE("Selector::Parse accepts PromQL selectors", "[selector]") {
  using T = Matcher::Type;
  using Expected = std::vector<std::tuple<T, std::string, std::string>>;
  auto [text, want] = GENERATE(table<std::string, Expected>({
      {"cpu_utilization", {{T::kEqual, "__name__", "cpu_utilization"}}},
      {"  cpu_utilization  ", {{T::kEqual, "__name__", "cpu_utilization"}}},
      {"node:cpu:rate5m", {{T::kEqual, "__name__", "node:cpu:rate5m"}}},
      {"cpu_utilization{}", {{T::kEqual, "__name__", "cpu_utilization"}}},
      {R"(cpu_utilization{job="node"})",
       {{T::kEqual, "__name__", "cpu_utilization"},
        {T::kEqual, "job", "node"}}},
      {R"(cpu_utilization {job="node"})",
       {{T::kEqual, "__name__", "cpu_utilization"},
        {T::kEqual, "job", "node"}}},
      {R"({__name__="cpu_utilization",job=~"node|vm"})",
       {{T::kEqual, "__name__", "cpu_utilization"},
        {T::kRegexMatch, "job", "node|vm"}}},
      {"{ job != \"a\" , env =~ 'x|y' , }",
       {{T::kNotEqual, "job", "a"}, {T::kRegexMatch, "env", "x|y"}}},
      {"{job !~ \"a\", env=\"x\"}",
       {{T::kRegexNoMatch, "job", "a"}, {T::kEqual, "env", "x"}}},
      {"{\n  job=\"node\",\n\tenv=\"\",\r\n}",
       {{T::kEqual, "job", "node"}, {T::kEqual, "env", ""}}},
      {"{job=`raw\\n`}", {{T::kEqual, "job", "raw\\n"}}},
      {"{job=`multi\nline`}", {{T::kEqual, "job", "multi\nline"}}},
      {R"({job='it\'s'})", {{T::kEqual, "job", "it's"}}},
      {R"({job="say \"hi\""})", {{T::kEqual, "job", "say \"hi\""}}},
      {R"({job="a\\b"})", {{T::kEqual, "job", "a\\b"}}},
      {R"({job="\n\t\r\a\b\f\v"})", {{T::kEqual, "job", "\n\t\r\a\b\f\v"}}},
      {R"({job="\x41\101\u00e9\U0001F600"})",
       {{T::kEqual, "job", "AA\xc3\xa9\xf0\x9f\x98\x80"}}},
      {R"({job='"'})", {{T::kEqual, "job", "\""}}},
      {R"({job="'"})", {{T::kEqual, "job", "'"}}},
      {R"({job=~"\\d+"})", {{T::kRegexMatch, "job", "\\d+"}}},
      {R"({_x="1", __name__=~"cpu.*"})",
       {{T::kEqual, "_x", "1"}, {T::kRegexMatch, "__name__", "cpu.*"}}},
      // Several matchers on one label are allowed, as in PromQL.
      {R"({job="a", job!="b"})",
       {{T::kEqual, "job", "a"}, {T::kNotEqual, "job", "b"}}},
  }));
  INFO(text);
  Selector selector = MustParse(text);
  Expected got;
  for (const Matcher& m : selector.matchers()) {
    got.emplace_back(m.type(), m.name(), m.value());
  }
  CHECK(got == want);
}

TEST_CASE("Selector::Parse errors name the position and the problem",
          "[selector]") {
  auto [text, want] = GENERATE(table<std::string, std::string>({
      {"{job=node}", "selector {job=node}: position 5: expected quoted string"},
      {"", "selector : position 0: expected metric name or '{'"},
      {"   ", "position 3: expected metric name or '{'"},
      {"-cpu", "position 0: expected metric name or '{'"},
      {"1cpu", "position 0: invalid metric name \"1cpu\""},
      {"cpu job", "position 4: expected '{' or end of selector"},
      {"cpu{job=\"a\"} x", "position 13: unexpected text after '}'"},
      {"cpu[5m]", "position 3: expected '{' or end of selector"},
      {"{", "position 1: expected label name or '}'"},
      {"{,}", "position 1: expected label name or '}'"},
      {"{job=\"a\",,}", "position 9: expected label name or '}'"},
      {"{1job=\"a\"}", "position 1: invalid label name \"1job\""},
      {"{a:b=\"a\"}", "position 1: invalid label name \"a:b\""},
      {"{job}", "position 4: expected one of = != =~ !~"},
      {"{job==\"a\"}", "position 5: expected quoted string"},
      {"{job~\"a\"}", "position 4: expected one of = != =~ !~"},
      {"{job=\"a\" env=\"b\"}", "position 9: expected ',' or '}'"},
      {"{job=\"a\"", "position 8: expected ',' or '}'"},
      {"{job=\"a}", "position 5: unterminated quoted string"},
      {"{job=\"a\nb\"}", "position 5: unterminated quoted string"},
      {"{job=`a}", "position 5: unterminated raw string"},
      {R"({job="\q"})", "position 6: unknown escape sequence \\q"},
      // Go accepts only the escaped quote of the string's own kind.
      {R"({job="\'"})", "position 6: unknown escape sequence \\'"},
      {R"({job='\"'})", "position 6: unknown escape sequence \\\""},
      {R"({job="\x4g"})", "position 6: escape sequence \\x needs 2 hex digits"},
      {R"({job="\u12"})", "position 6: escape sequence \\u needs 4 hex digits"},
      {R"({job="\18"})",
       "position 6: escape sequence \\NNN needs 3 octal digits"},
      {R"({job="\777"})", "invalid Unicode code point"},
      {R"({job="\ud800"})", "invalid Unicode code point"},
      {R"({job="\U00110000"})", "invalid Unicode code point"},
      {"{job=\"\\", "position 6: escape sequence not terminated"},
      {"{job=~\"(\"}",
       "position 6: invalid regular expression \"(\": missing )"},
      {"cpu{__name__=\"mem\"}",
       "position 4: metric name must not be set twice: \"cpu\""},
      {"cpu{__name__=~\"m.*\"}", "metric name must not be set twice"},
      {"{}",
       "selector {}: vector selector must contain at least one "
       "non-empty matcher"},
      {"{job=~\".*\"}", "at least one non-empty matcher"},
      {"{job=\"\"}", "at least one non-empty matcher"},
      {"{job!=\"x\", env=~\"a|\"}", "at least one non-empty matcher"},
      {"{job!~\".+\"}", "at least one non-empty matcher"},
      {"{job=\"\xff\"}", "not valid UTF-8"},
      // Control characters are shown escaped: errors stay on one line.
      {"{job\n", "selector {job\\n: position 5: expected one of"},
  }));
  Result<Selector> selector = Selector::Parse(text);
  REQUIRE_FALSE(selector.ok());
  CHECK(selector.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(selector.status().message(), Catch::Contains(want));
  CHECK(selector.status().message().find('\n') == std::string::npos);
}

TEST_CASE("Selector::Matches follows Prometheus' empty-value semantics",
          "[selector]") {
  const std::string with_env = CpuSeries({{"job", "node"}, {"env", "prod"}});
  const std::string without_env = CpuSeries({{"job", "node"}});
  const std::string other_job = CpuSeries({{"job", "vm"}, {"env", "dev"}});

  auto [text, want_with_env, want_without_env, want_other_job] =
      GENERATE(table<std::string, bool, bool, bool>({
          {"cpu_utilization", true, true, true},
          {"mem_utilization", false, false, false},
          {R"({job="node"})", true, true, false},
          {R"({job=~"no"})", false, false, false},
          {R"({job=~"node|vm"})", true, true, true},
          {R"(cpu_utilization{env=""})", false, true, false},
          {R"(cpu_utilization{env!=""})", true, false, true},
          {R"(cpu_utilization{env=~".+"})", true, false, true},
          {R"(cpu_utilization{env=~"prod|"})", true, true, false},
          // An absent label is "", which differs from "prod" ...
          {R"(cpu_utilization{env!="prod"})", false, true, true},
          // ... and does not match the regex, so !~ selects it.
          {R"(cpu_utilization{env!~"prod|dev"})", false, true, false},
          {R"(cpu_utilization{absent!~".+"})", true, true, true},
          {R"({__name__=~"cpu_.*", job!="vm"})", true, true, false},
          {R"({job="node", env="prod"})", true, false, false},
      }));
  INFO(text);
  Selector selector = MustParse(text);
  CHECK(selector.Matches(LabelSetView(with_env)) == want_with_env);
  CHECK(selector.Matches(LabelSetView(without_env)) == want_without_env);
  CHECK(selector.Matches(LabelSetView(other_job)) == want_other_job);
}

TEST_CASE("Selector escapes decode to the label value they match",
          "[selector]") {
  const std::string series = CpuSeries({{"path", "C:\\dir \"x\"\n\xc3\xa9"}});
  auto text = GENERATE(as<std::string>{}, R"({path="C:\\dir \"x\"\n\u00e9"})",
                       R"({path='C:\\dir "x"\n\xc3\xa9'})",
                       R"({path=~"C:\\\\dir \"x\"\n\303\251"})",
                       "{path=`C:\\dir \"x\"\n\xc3\xa9`}");
  INFO(text);
  CHECK(MustParse(text).Matches(LabelSetView(series)));
}

TEST_CASE("Selector::ToString prints PromQL that parses back", "[selector]") {
  auto [text, want] = GENERATE(table<std::string, std::string>({
      {"cpu_utilization", "cpu_utilization"},
      {R"(cpu_utilization{ job="node" })", R"(cpu_utilization{job="node"})"},
      {R"({__name__="cpu",job=~'node|vm',})", R"(cpu{job=~"node|vm"})"},
      {R"({job=~`\d+`})", R"({job=~"\\d+"})"},
      {R"({__name__=~"cpu.*"})", R"({__name__=~"cpu.*"})"},
      {R"({__name__="cpu",__name__!="mem"})",
       R"({__name__="cpu",__name__!="mem"})"},
      {R"({env="a\nb"})", R"({env="a\nb"})"},
  }));
  Selector selector = MustParse(text);
  CHECK(selector.ToString() == want);

  Selector reparsed = MustParse(selector.ToString());
  REQUIRE(reparsed.matchers().size() == selector.matchers().size());
  for (size_t i = 0; i < reparsed.matchers().size(); ++i) {
    CHECK(reparsed.matchers()[i].ToString() ==
          selector.matchers()[i].ToString());
  }
}

TEST_CASE("A default Selector matches everything", "[selector]") {
  const std::string series = CpuSeries({{"job", "node"}});
  Selector selector;
  CHECK(selector.matchers().empty());
  CHECK(selector.Matches(LabelSetView(series)));
  CHECK(selector.ToString() == "{}");
}

}  // namespace
}  // namespace promewma::model

namespace promewma::model {
namespace {

TEST_CASE("a regex that would compile to megabytes is refused") {
  auto m = Matcher::Create(Matcher::Type::kRegexMatch, "job", "\\pL{1000}");
  REQUIRE_FALSE(m.ok());
  REQUIRE(m.status().message().find("invalid regular expression") == 0);
  REQUIRE(Matcher::Create(Matcher::Type::kRegexMatch, "job", "node|vm|db-[0-9]+").ok());
}

}  // namespace
}  // namespace promewma::model
