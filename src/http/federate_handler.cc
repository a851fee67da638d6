#include "http/federate_handler.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/thread_role.h"
#include "model/matcher.h"

namespace promewma::http {
namespace {

std::string_view SuffixOf(int8_t output) {
  return output < 0 ? std::string_view()
                    : ewma::OutputSuffix(static_cast<ewma::Output>(output));
}

// Families together (metric name, then which output), and within a family
// Prometheus' label-set order.
bool FamilyOrder(const FederatedSample& a, const FederatedSample& b) {
  const std::string_view na = a.input.MetricName(), nb = b.input.MetricName();
  if (na != nb) return na < nb;
  if (a.output != b.output) return a.output < b.output;
  return model::LabelSetLess(a.input, b.input);
}

bool SameFamily(const FederatedSample& a, const FederatedSample& b) {
  return a.output == b.output && a.input.MetricName() == b.input.MetricName();
}

void AppendName(const FederatedSample& s, std::string* out) {
  out->append(s.input.MetricName());
  out->append(SuffixOf(s.output));
}

// The text format's label value escapes: backslash, double quote, newline.
void AppendEscaped(std::string_view value, std::string* out) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
}

// The shortest text that parses back to the same double (Go's ParseFloat,
// which Prometheus uses, reads it exactly), and the format's spellings of
// the special values.
void AppendValue(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, end);
  }
}

void AppendLine(const FederatedSample& s, std::string* out) {
  AppendName(s, out);
  bool first = true;
  for (const model::Label& l : s.input) {
    if (l.name == model::kMetricNameLabel) continue;
    out->push_back(first ? '{' : ',');
    first = false;
    out->append(l.name);
    out->append("=\"");
    AppendEscaped(l.value, out);
    out->push_back('"');
  }
  if (!first) out->push_back('}');
  out->push_back(' ');
  AppendValue(s.value, out);
  out->push_back(' ');
  out->append(std::to_string(s.timestamp_ms));
  out->push_back('\n');
}

}  // namespace

bool FederateBody::Next(std::string* piece) {
  piece->clear();
  while (next_ < samples_.size() && piece->size() < kPieceBytes) {
    // A line takes well under a microsecond: the clock is read every 64.
    if (next_ % 64 == 0) YieldIfDue();
    const FederatedSample& s = samples_[next_];
    if (next_ == 0 || !SameFamily(samples_[next_ - 1], s)) {
      piece->append("# TYPE ");
      AppendName(s, piece);
      piece->append(" untyped\n");
    }
    AppendLine(s, piece);
    ++next_;
  }
  return !piece->empty();
}

Result<std::unique_ptr<FederateBody>> FederateHandler::Select(
    const std::vector<std::string>& match) const {
  if (match.empty()) {
    return Status::InvalidArgument(
        "no match[] parameter: give at least one series selector, e.g. "
        "match[]={__name__=~\"cpu.*\"}");
  }
  std::vector<model::Selector> selectors;
  for (const std::string& text : match) {
    Result<model::Selector> selector = model::Selector::Parse(text);
    if (!selector.ok()) return selector.status();
    selectors.push_back(std::move(selector).value());
  }
  std::vector<FederatedSample> samples;
  std::deque<std::string> labels;  // copies; stable addresses
  std::string name;
  head_->VisitLatest([&](const head::LatestDerived& latest) {
    const std::string_view metric = latest.labels.MetricName();
    const std::string* copy = nullptr;
    // The input series (o == -1), then each output it emitted.
    for (int o = -1; o < ewma::kOutputCount; ++o) {
      if (o >= 0 && !latest.values.has(static_cast<ewma::Output>(o))) continue;
      name.assign(metric);
      name.append(SuffixOf(static_cast<int8_t>(o)));
      // A series matched by several selectors is sent once.
      const bool selected = std::any_of(
          selectors.begin(), selectors.end(), [&](const model::Selector& s) {
            return s.MatchesWithName(latest.labels, name);
          });
      if (!selected) continue;
      if (copy == nullptr) copy = &labels.emplace_back(latest.labels.encoded());
      samples.push_back(FederatedSample{
          model::LabelSetView(*copy), static_cast<int8_t>(o),
          latest.timestamp_ms,
          o < 0 ? latest.input_value
                : latest.values.get(static_cast<ewma::Output>(o))});
    }
  });
  std::sort(samples.begin(), samples.end(), FamilyOrder);
  return std::make_unique<FederateBody>(std::move(samples), std::move(labels));
}

}  // namespace promewma::http
