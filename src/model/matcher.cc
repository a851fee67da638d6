#include "model/matcher.h"

#include <re2/re2.h>

#include <cstdint>

#include "common/one_line.h"

namespace promewma::model {
namespace {

constexpr size_t kNoPosition = std::string_view::npos;

// Go's strconv.Quote (what Prometheus' %q prints), so that a matcher printed
// here reads back through Selector::Parse to the same value. Bytes of
// invalid UTF-8 become \xNN because the raw bytes would not parse back.
void AppendQuoted(std::string* out, std::string_view value) {
  const bool utf8 = IsValidUtf8(value);
  out->push_back('"');
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\\':
        *out += "\\\\";
        break;
      case '"':
        *out += "\\\"";
        break;
      case '\a':
        *out += "\\a";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\v':
        *out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
          AppendHexByte(out, c);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

bool IsRegexType(Matcher::Type type) {
  return type == Matcher::Type::kRegexMatch ||
         type == Matcher::Type::kRegexNoMatch;
}

bool IsIdentifierChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == ':';
}

// PromQL's whitespace.
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int DigitValue(char c, int base) {
  int v = -1;
  if (c >= '0' && c <= '9') {
    v = c - '0';
  } else if (c >= 'a' && c <= 'f') {
    v = c - 'a' + 10;
  } else if (c >= 'A' && c <= 'F') {
    v = c - 'A' + 10;
  }
  return v < base ? v : -1;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Length of the UTF-8 sequence a lead byte starts (input is valid UTF-8).
size_t Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  return 4;
}

// Recursive-descent parser for
//   selector := metric_name? ('{' matcher (',' matcher)* ','? '}' | '{' '}')?
//   matcher  := label_name ('=' | '!=' | '=~' | '!~') string
// with PromQL whitespace between tokens. Strings follow PromQL's lexer,
// which in turn follows Go: the escapes \a \b \f \n \r \t \v \\, the quote
// character itself, \NNN (octal byte), \xNN (byte), \uNNNN and \UNNNNNNNN
// (code points); a raw newline ends nothing and is an error; backtick
// strings are raw.
class SelectorParser {
 public:
  explicit SelectorParser(std::string_view text) : text_(text) {}

  Result<Selector> Parse();

 private:
  Status Problem(std::string_view problem) const;
  Status ProblemAt(size_t pos, std::string_view problem) const;

  bool AtEnd() const { return pos_ >= text_.size(); }
  void SkipSpace();
  bool Consume(char c);
  std::string_view ScanIdentifier();

  Status ParseMatcherList(std::vector<Matcher>* matchers);
  Result<Matcher::Type> ParseOperator();
  Result<std::string> ParseString();
  Status ParseEscape(char quote, std::string* out);
  Status ParseNumericEscape(size_t escape_pos, char kind, std::string* out);

  const std::string_view text_;
  size_t pos_ = 0;
  // Where the first __name__ label inside the braces is, for the error when
  // the metric name is also given before them.
  size_t name_label_pos_ = kNoPosition;
};

Status SelectorParser::Problem(std::string_view problem) const {
  std::string msg = "selector ";
  msg += EscapeToOneLine(text_);
  msg += ": ";
  msg += EscapeToOneLine(problem);
  return Status::InvalidArgument(std::move(msg));
}

Status SelectorParser::ProblemAt(size_t pos, std::string_view problem) const {
  std::string msg = "position " + std::to_string(pos) + ": ";
  msg += problem;
  return Problem(msg);
}

void SelectorParser::SkipSpace() {
  while (!AtEnd() && IsSpace(text_[pos_])) ++pos_;
}

bool SelectorParser::Consume(char c) {
  if (AtEnd() || text_[pos_] != c) return false;
  ++pos_;
  return true;
}

// Scans the widest run of name characters; the caller checks it against the
// stricter label or metric name rule, so that `{1abc="x"}` is reported as
// an invalid name rather than as a missing one.
std::string_view SelectorParser::ScanIdentifier() {
  const size_t start = pos_;
  while (!AtEnd() && IsIdentifierChar(text_[pos_])) ++pos_;
  return text_.substr(start, pos_ - start);
}

Result<Selector> SelectorParser::Parse() {
  if (!IsValidUtf8(text_)) return Problem("not valid UTF-8");
  SkipSpace();

  std::string metric_name;
  if (!AtEnd() && text_[pos_] != '{') {
    const size_t name_pos = pos_;
    std::string_view name = ScanIdentifier();
    if (name.empty()) return ProblemAt(pos_, "expected metric name or '{'");
    if (!IsValidMetricName(name)) {
      return ProblemAt(name_pos,
                       "invalid metric name \"" + std::string(name) + "\"");
    }
    metric_name = std::string(name);
    SkipSpace();
  } else if (AtEnd()) {
    return ProblemAt(pos_, "expected metric name or '{'");
  }

  std::vector<Matcher> matchers;
  const bool has_braces = Consume('{');
  if (has_braces) {
    Status status = ParseMatcherList(&matchers);
    if (!status.ok()) return status;
    SkipSpace();
  }
  if (!AtEnd()) {
    return ProblemAt(pos_, has_braces ? "unexpected text after '}'"
                                      : "expected '{' or end of selector");
  }

  if (!metric_name.empty()) {
    if (name_label_pos_ != kNoPosition) {
      return ProblemAt(name_label_pos_,
                       "metric name must not be set twice: \"" + metric_name +
                           "\" before '{' and as __name__");
    }
    // Cannot fail: the name was checked above and the label name is valid.
    Result<Matcher> name_matcher = Matcher::Create(
        Matcher::Type::kEqual, std::string(kMetricNameLabel), metric_name);
    matchers.insert(matchers.begin(), std::move(name_matcher).value());
  }

  // A selector that matches the empty string everywhere selects every
  // series there is; Prometheus refuses it for the same reason.
  bool has_non_empty_matcher = false;
  for (const Matcher& m : matchers) {
    if (!m.Matches("")) has_non_empty_matcher = true;
  }
  if (!has_non_empty_matcher) {
    return Problem(
        "vector selector must contain at least one non-empty matcher (one "
        "that does not match the empty string)");
  }
  return Selector(std::move(matchers));
}

Status SelectorParser::ParseMatcherList(std::vector<Matcher>* matchers) {
  for (;;) {
    SkipSpace();
    if (Consume('}')) return Status::Ok();

    const size_t label_pos = pos_;
    std::string_view label = ScanIdentifier();
    if (label.empty()) return ProblemAt(pos_, "expected label name or '}'");
    if (!IsValidLabelName(label)) {
      return ProblemAt(label_pos,
                       "invalid label name \"" + std::string(label) + "\"");
    }
    if (label == kMetricNameLabel && name_label_pos_ == kNoPosition) {
      name_label_pos_ = label_pos;
    }

    SkipSpace();
    Result<Matcher::Type> type = ParseOperator();
    if (!type.ok()) return type.status();

    SkipSpace();
    const size_t value_pos = pos_;
    Result<std::string> value = ParseString();
    if (!value.ok()) return value.status();

    Result<Matcher> matcher =
        Matcher::Create(*type, std::string(label), std::move(value).value());
    if (!matcher.ok()) return ProblemAt(value_pos, matcher.status().message());
    matchers->push_back(std::move(matcher).value());

    SkipSpace();
    if (Consume(',')) continue;
    if (Consume('}')) return Status::Ok();
    return ProblemAt(pos_, "expected ',' or '}'");
  }
}

Result<Matcher::Type> SelectorParser::ParseOperator() {
  const std::string_view rest = text_.substr(pos_);
  struct Spelling {
    std::string_view text;
    Matcher::Type type;
  };
  // "=~" before "=": the longest operator wins.
  static constexpr Spelling kOperators[] = {
      {"=~", Matcher::Type::kRegexMatch},
      {"!=", Matcher::Type::kNotEqual},
      {"!~", Matcher::Type::kRegexNoMatch},
      {"=", Matcher::Type::kEqual},
  };
  for (const Spelling& op : kOperators) {
    if (rest.substr(0, op.text.size()) == op.text) {
      pos_ += op.text.size();
      return op.type;
    }
  }
  return ProblemAt(pos_, "expected one of = != =~ !~");
}

Result<std::string> SelectorParser::ParseString() {
  if (AtEnd()) return ProblemAt(pos_, "expected quoted string");
  const char quote = text_[pos_];
  if (quote != '"' && quote != '\'' && quote != '`') {
    return ProblemAt(pos_, "expected quoted string");
  }
  const size_t open_pos = pos_++;

  if (quote == '`') {
    const size_t close = text_.find('`', pos_);
    if (close == std::string_view::npos) {
      return ProblemAt(open_pos, "unterminated raw string");
    }
    std::string raw(text_.substr(pos_, close - pos_));
    pos_ = close + 1;
    return raw;
  }

  std::string out;
  for (;;) {
    if (AtEnd() || text_[pos_] == '\n') {
      return ProblemAt(open_pos, "unterminated quoted string");
    }
    const char c = text_[pos_];
    if (c == quote) {
      ++pos_;
      return out;
    }
    if (c == '\\') {
      Status status = ParseEscape(quote, &out);
      if (!status.ok()) return status;
      continue;
    }
    out.push_back(c);
    ++pos_;
  }
}

Status SelectorParser::ParseEscape(char quote, std::string* out) {
  const size_t escape_pos = pos_++;  // the backslash
  if (AtEnd()) return ProblemAt(escape_pos, "escape sequence not terminated");
  const char c = text_[pos_++];
  switch (c) {
    case 'a':
      out->push_back('\a');
      return Status::Ok();
    case 'b':
      out->push_back('\b');
      return Status::Ok();
    case 'f':
      out->push_back('\f');
      return Status::Ok();
    case 'n':
      out->push_back('\n');
      return Status::Ok();
    case 'r':
      out->push_back('\r');
      return Status::Ok();
    case 't':
      out->push_back('\t');
      return Status::Ok();
    case 'v':
      out->push_back('\v');
      return Status::Ok();
    case '\\':
      out->push_back('\\');
      return Status::Ok();
    case 'x':
    case 'u':
    case 'U':
      return ParseNumericEscape(escape_pos, c, out);
    default:
      break;
  }
  if (c == quote) {
    out->push_back(c);
    return Status::Ok();
  }
  if (c >= '0' && c <= '7') {
    --pos_;  // the first octal digit is part of the value
    return ParseNumericEscape(escape_pos, '0', out);
  }
  // Go only accepts the escaped quote matching the string's own quotes, so
  // "\'" is an error, as it is in PromQL.
  const size_t len = Utf8SequenceLength(static_cast<unsigned char>(c));
  return ProblemAt(escape_pos, "unknown escape sequence \\" +
                                   std::string(text_.substr(pos_ - 1, len)));
}

// `kind` is 'x', 'u', 'U' or '0' (octal); pos_ is at the first digit.
Status SelectorParser::ParseNumericEscape(size_t escape_pos, char kind,
                                          std::string* out) {
  int digits = 2;
  int base = 16;
  uint32_t max = 0xff;
  const char* spelling = "\\x needs 2 hex digits";
  if (kind == '0') {
    digits = 3;
    base = 8;
    spelling = "\\NNN needs 3 octal digits";
  } else if (kind == 'u') {
    digits = 4;
    max = 0x10ffff;
    spelling = "\\u needs 4 hex digits";
  } else if (kind == 'U') {
    digits = 8;
    max = 0x10ffff;
    spelling = "\\U needs 8 hex digits";
  }

  uint32_t value = 0;
  for (int i = 0; i < digits; ++i) {
    const int d = AtEnd() ? -1 : DigitValue(text_[pos_], base);
    if (d < 0) {
      return ProblemAt(escape_pos, std::string("escape sequence ") + spelling);
    }
    value = value * static_cast<uint32_t>(base) + static_cast<uint32_t>(d);
    ++pos_;
  }
  if (value > max || (value >= 0xd800 && value < 0xe000 && max > 0xff)) {
    return ProblemAt(escape_pos,
                     "escape sequence is an invalid Unicode code point");
  }
  // Go: \x and octal escapes are single bytes, \u and \U code points.
  if (max == 0xff) {
    out->push_back(static_cast<char>(value));
  } else {
    AppendUtf8(out, value);
  }
  return Status::Ok();
}

}  // namespace

std::string_view MatcherTypeOperator(Matcher::Type type) {
  switch (type) {
    case Matcher::Type::kEqual:
      return "=";
    case Matcher::Type::kNotEqual:
      return "!=";
    case Matcher::Type::kRegexMatch:
      return "=~";
    case Matcher::Type::kRegexNoMatch:
      return "!~";
  }
  return "?";
}

Matcher::Matcher(Type type, std::string name, std::string value,
                 std::shared_ptr<const re2::RE2> regex)
    : type_(type),
      name_(std::move(name)),
      value_(std::move(value)),
      regex_(std::move(regex)) {}

Result<Matcher> Matcher::Create(Type type, std::string name,
                                std::string value) {
  if (!IsValidLabelName(name)) {
    return Status::InvalidArgument("invalid label name \"" +
                                   EscapeToOneLine(name) + "\"");
  }
  std::shared_ptr<const re2::RE2> regex;
  if (IsRegexType(type)) {
    // Compiled as written and matched with FullMatch, which anchors at both
    // ends exactly like Prometheus' ^(?:pattern)$. Compiling the bare pattern
    // (as Prometheus also parses it) refuses "a)|(b", which the wrapped form
    // would accept with a different meaning.
    RE2::Options options;
    options.set_log_errors(false);  // the error goes into our Status instead
    // Matchers come from remote-read requests too: a few bytes like
    // "\\pL{200}" would otherwise compile to megabytes of program. 1 MiB
    // is plenty for any selector a person writes; more is refused.
    options.set_max_mem(1 << 20);
    auto compiled = std::make_shared<const re2::RE2>(value, options);
    if (!compiled->ok()) {
      std::string msg = "invalid regular expression ";
      AppendQuoted(&msg, value);
      msg += ": ";
      msg += EscapeToOneLine(compiled->error());
      return Status::InvalidArgument(std::move(msg));
    }
    regex = std::move(compiled);
  }
  return Matcher(type, std::move(name), std::move(value), std::move(regex));
}

bool Matcher::Matches(std::string_view value) const {
  switch (type_) {
    case Type::kEqual:
      return value == value_;
    case Type::kNotEqual:
      return value != value_;
    case Type::kRegexMatch:
      return RE2::FullMatch(re2::StringPiece(value.data(), value.size()),
                            *regex_);
    case Type::kRegexNoMatch:
      return !RE2::FullMatch(re2::StringPiece(value.data(), value.size()),
                             *regex_);
  }
  return false;
}

std::string Matcher::LiteralPrefix() const {
  switch (type_) {
    case Type::kEqual:
      return value_;
    case Type::kRegexMatch: {
      // Matches are whole values (FullMatch), so they start where the
      // range assumes. 64 bytes: longer prefixes narrow nothing more here.
      std::string min, max;
      if (!regex_->PossibleMatchRange(&min, &max, 64)) return "";
      size_t n = 0;
      while (n < min.size() && n < max.size() && min[n] == max[n]) ++n;
      return min.substr(0, n);
    }
    case Type::kNotEqual:
    case Type::kRegexNoMatch:
      return "";
  }
  return "";
}

std::string Matcher::ToString() const {
  std::string out = name_;
  out += MatcherTypeOperator(type_);
  AppendQuoted(&out, value_);
  return out;
}

Result<Selector> Selector::Parse(std::string_view text) {
  return SelectorParser(text).Parse();
}

bool Selector::Matches(const LabelSetView& labels) const {
  for (const Matcher& m : matchers_) {
    if (!m.Matches(labels.Get(m.name()))) return false;
  }
  return true;
}

bool Selector::MatchesWithName(const LabelSetView& labels,
                               std::string_view name) const {
  for (const Matcher& m : matchers_) {
    const std::string_view value =
        m.name() == kMetricNameLabel ? name : labels.Get(m.name());
    if (!m.Matches(value)) return false;
  }
  return true;
}

std::string Selector::ToString() const {
  // The metric name goes in front of the braces only when it is the one
  // __name__ matcher and a plain equality; otherwise printing it there would
  // not parse back (name given twice, or not a valid identifier).
  const Matcher* name_matcher = nullptr;
  int name_matchers = 0;
  for (const Matcher& m : matchers_) {
    if (m.name() != kMetricNameLabel) continue;
    ++name_matchers;
    if (m.type() == Matcher::Type::kEqual && IsValidMetricName(m.value())) {
      name_matcher = &m;
    }
  }
  if (name_matchers != 1) name_matcher = nullptr;

  std::string inner;
  for (const Matcher& m : matchers_) {
    if (&m == name_matcher) continue;
    if (!inner.empty()) inner += ",";
    inner += m.ToString();
  }
  std::string out = name_matcher != nullptr ? name_matcher->value() : "";
  if (name_matcher == nullptr || !inner.empty()) {
    out += "{" + inner + "}";
  }
  return out;
}

}  // namespace promewma::model
