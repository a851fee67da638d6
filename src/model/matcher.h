// Label matchers and series selectors with Prometheus semantics.
//
// A Matcher tests one label value: `job="node"`, `job!="node"`,
// `job=~"node|vm"`, `job!~"node|vm"`. Regular expressions use RE2 (the
// engine Go's regexp, and so Prometheus, is modelled on) and are fully
// anchored: `job=~"no"` matches "no" but not "node", exactly like PromQL,
// which wraps every pattern as ^(?:pattern)$.
//
// A Selector is a conjunction of matchers, written as a PromQL vector
// selector: `cpu_utilization{job=~"node|vm",env!=""}`. A label the series
// does not have counts as having the value "", so `{env=""}` selects series
// without env and `{env!=""}` requires it.
//
// Thread-safety: Matcher and Selector are immutable values; copies share the
// compiled regex, and concurrent Matches() calls are safe.

#ifndef PROMEWMA_MODEL_MATCHER_H_
#define PROMEWMA_MODEL_MATCHER_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/labels.h"
#include "promewma/status.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace promewma::model {

class Matcher {
 public:
  enum class Type { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

  // Builds a matcher for label `name`. Fails with InvalidArgument on an
  // invalid label name or, for the regex types, a pattern RE2 refuses (the
  // message carries RE2's explanation).
  static Result<Matcher> Create(Type type, std::string name, std::string value);

  // Whether a label value satisfies the matcher. Pass "" for an absent label.
  bool Matches(std::string_view value) const;

  Type type() const { return type_; }
  const std::string& name() const { return name_; }
  // The literal value or the regex source, as given (unanchored).
  const std::string& value() const { return value_; }

  // A prefix of every value the matcher matches: the value for "=", for
  // "=~" the longest RE2 can prove (the common prefix of its possible match
  // range: "cpu_.*" gives "cpu_", "a|b" gives ""), "" for the negative
  // types. For narrowing a scan of keys sorted by the label's value.
  std::string LiteralPrefix() const;

  // PromQL notation with the value quoted like Go's %q: job=~"node|vm".
  std::string ToString() const;

 private:
  Matcher(Type type, std::string name, std::string value,
          std::shared_ptr<const re2::RE2> regex);

  Type type_;
  std::string name_;
  std::string value_;
  // Compiled pattern for kRegexMatch / kRegexNoMatch, null otherwise. Shared
  // so that copying a matcher (one per rule, per request) costs no recompile.
  std::shared_ptr<const re2::RE2> regex_;
};

// "=", "!=", "=~" or "!~".
std::string_view MatcherTypeOperator(Matcher::Type type);

class Selector {
 public:
  // No matchers: matches every series. Parse() never returns such a
  // selector; this exists so that structs holding one can be
  // default-constructed.
  Selector() = default;
  // Takes the matchers as they are, without the checks Parse() applies
  // (for callers that receive matchers already split, e.g. remote read).
  explicit Selector(std::vector<Matcher> matchers)
      : matchers_(std::move(matchers)) {}

  // Parses a PromQL vector selector without range or offset:
  //   cpu_utilization
  //   cpu_utilization{job="node", env!=""}
  //   {__name__=~"cpu_.*", job=~'node|vm',}
  // Values are double-quoted or single-quoted with Go escapes (\n \t \\ \"
  // or \' matching the quote, \xNN, \NNN, \uNNNN, \UNNNNNNNN) or
  // backtick-quoted raw strings. Like Prometheus, refuses a selector whose
  // matchers all match the empty string (it would select every series) and
  // one naming the metric both before the braces and as __name__.
  // Errors are InvalidArgument with one line of the form
  //   selector {job=node}: position 5: expected quoted string
  // where the position is the 0-based byte offset into `text`.
  static Result<Selector> Parse(std::string_view text);

  // True when every matcher matches; absent labels have the value "".
  bool Matches(const LabelSetView& labels) const;
  // Matches() for the series `labels` with its metric name replaced by
  // `name`: how a derived series (cpu:ewma{...}) is matched from the labels
  // of its input series (cpu{...}) without building its label set.
  bool MatchesWithName(const LabelSetView& labels,
                       std::string_view name) const;

  const std::vector<Matcher>& matchers() const { return matchers_; }

  // PromQL notation: name{a="b",c=~"d"}, or {a="b"} without a plain
  // __name__ equality matcher. Parse(ToString()) gives an equal selector.
  std::string ToString() const;

 private:
  std::vector<Matcher> matchers_;
};

}  // namespace promewma::model

#endif  // PROMEWMA_MODEL_MATCHER_H_
