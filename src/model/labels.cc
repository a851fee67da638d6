#include "model/labels.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "common/protowire.h"

namespace promewma::model {
namespace {

// Character classes for names, as 256-entry tables: the hot path validates
// every label name of every new-to-this-request label set.
struct NameTables {
  bool label_first[256] = {};
  bool label_rest[256] = {};
  bool metric_first[256] = {};
  bool metric_rest[256] = {};
  NameTables() {
    for (int c = 0; c < 256; ++c) {
      bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
      bool digit = c >= '0' && c <= '9';
      label_first[c] = alpha;
      label_rest[c] = alpha || digit;
      metric_first[c] = alpha || c == ':';
      metric_rest[c] = alpha || digit || c == ':';
    }
  }
};
const NameTables kTables;

bool MatchesClass(std::string_view s, const bool* first, const bool* rest) {
  if (s.empty() || !first[static_cast<uint8_t>(s[0])]) return false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (!rest[static_cast<uint8_t>(s[i])]) return false;
  }
  return true;
}

void AppendEscaped(std::string* out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        *out += "\\\\";
        break;
      case '"':
        *out += "\\\"";
        break;
      case '\n':
        *out += "\\n";
        break;
      default:
        out->push_back(c);
    }
  }
}

}  // namespace

bool IsValidLabelName(std::string_view name) {
  return MatchesClass(name, kTables.label_first, kTables.label_rest);
}

bool IsValidMetricName(std::string_view name) {
  return MatchesClass(name, kTables.metric_first, kTables.metric_rest);
}

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    // ASCII fast path, eight bytes at a time.
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p == end) break;
    uint8_t c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < len) return false;
    for (int i = 1; i < len; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    p += len;
  }
  return true;
}

Status ValidateSortedLabels(const std::vector<Label>& labels) {
  bool has_name = false;
  for (size_t i = 0; i < labels.size(); ++i) {
    const Label& l = labels[i];
    if (!IsValidLabelName(l.name)) {
      return Status::InvalidArgument("invalid label name \"" +
                                     std::string(l.name) + "\"");
    }
    if (i > 0 && labels[i - 1].name == l.name) {
      return Status::InvalidArgument("duplicate label name \"" +
                                     std::string(l.name) + "\"");
    }
    if (!IsValidUtf8(l.value)) {
      return Status::InvalidArgument("label \"" + std::string(l.name) +
                                     "\" has a value that is not valid UTF-8");
    }
    if (l.name == kMetricNameLabel) {
      if (!IsValidMetricName(l.value)) {
        return Status::InvalidArgument("invalid metric name \"" +
                                       std::string(l.value) + "\"");
      }
      has_name = true;
    }
  }
  if (!has_name) return Status::InvalidArgument("series has no __name__ label");
  return Status::Ok();
}

namespace {

// Bytes of one Label message (name = 1, value = 2), without its own tag
// and length.
size_t LabelPairSize(size_t name_size, size_t value_size) {
  return 1 + protowire::VarintSize(name_size) + name_size + 1 +
         protowire::VarintSize(value_size) + value_size;
}

// One entry of the repeated Label field (TimeSeries.labels, field 1).
void AppendLabel(std::string* out, std::string_view name,
                 std::string_view value) {
  const size_t pair_len = LabelPairSize(name.size(), value.size());
  out->push_back(0x0a);
  protowire::AppendVarint(out, pair_len);
  out->push_back(0x0a);
  protowire::AppendVarint(out, name.size());
  out->append(name);
  out->push_back(0x12);
  protowire::AppendVarint(out, value.size());
  out->append(value);
}

}  // namespace

Status EncodeLabelSet(std::vector<Label>* labels, std::string* out) {
  std::sort(labels->begin(), labels->end(),
            [](const Label& a, const Label& b) { return a.name < b.name; });
  Status status = ValidateSortedLabels(*labels);
  if (!status.ok()) return status;

  for (const Label& l : *labels) {
    if (l.value.empty()) continue;
    AppendLabel(out, l.name, l.value);
  }
  return Status::Ok();
}

void EncodeWithMetricName(LabelSetView labels, std::string_view name,
                          std::string* out) {
  // The names do not change, so neither does their order.
  const std::string_view encoded = labels.encoded();
  const MetricNameEntry entry = FindMetricNameEntry(encoded);
  out->append(encoded.data(), entry.offset);
  AppendLabel(out, kMetricNameLabel, name);
  const size_t rest = entry.offset + entry.size;
  out->append(encoded.data() + rest, encoded.size() - rest);
}

MetricNameEntry FindMetricNameEntry(std::string_view encoded) {
  // Canonical form is trusted here, as in LabelSetView.
  const char* const begin = encoded.data();
  const char* const end = begin + encoded.size();
  const char* pos = begin;
  while (pos < end) {
    const char* p = pos + 1;  // entry tag
    uint64_t len = 0;
    protowire::ReadVarint(&p, end, &len);
    const char* next = p + len;
    p += 1;  // name tag
    protowire::ReadVarint(&p, end, &len);
    if (std::string_view(p, len) == kMetricNameLabel) {
      p += len + 1;  // value tag
      protowire::ReadVarint(&p, end, &len);
      return MetricNameEntry{static_cast<size_t>(pos - begin),
                             static_cast<size_t>(next - pos),
                             std::string_view(p, len)};
    }
    pos = next;
  }
  return MetricNameEntry{encoded.size(), 0, {}};
}

size_t SizeWithNameSuffix(std::string_view encoded,
                          const MetricNameEntry& entry,
                          std::string_view suffix) {
  const size_t pair = LabelPairSize(kMetricNameLabel.size(),
                                    entry.value.size() + suffix.size());
  return encoded.size() - entry.size + 1 + protowire::VarintSize(pair) + pair;
}

char* WriteWithNameSuffix(std::string_view encoded,
                          const MetricNameEntry& entry,
                          std::string_view suffix, char* out) {
  std::memcpy(out, encoded.data(), entry.offset);
  out += entry.offset;
  const size_t value_size = entry.value.size() + suffix.size();
  *out++ = 0x0a;
  out = protowire::WriteVarint(out, LabelPairSize(kMetricNameLabel.size(), value_size));
  *out++ = 0x0a;
  out = protowire::WriteVarint(out, kMetricNameLabel.size());
  std::memcpy(out, kMetricNameLabel.data(), kMetricNameLabel.size());
  out += kMetricNameLabel.size();
  *out++ = 0x12;
  out = protowire::WriteVarint(out, value_size);
  std::memcpy(out, entry.value.data(), entry.value.size());
  out += entry.value.size();
  std::memcpy(out, suffix.data(), suffix.size());
  out += suffix.size();
  const size_t rest = entry.offset + entry.size;
  std::memcpy(out, encoded.data() + rest, encoded.size() - rest);
  return out + encoded.size() - rest;
}

uint64_t HashLabelSet(std::string_view encoded) {
  return XXH3_64bits(encoded.data(), encoded.size());
}

void LabelSetView::Iterator::Load() {
  if (pos_ >= end_) {
    pos_ = end_;
    return;
  }
  // Canonical form is trusted here (see REQUIRES on LabelSetView).
  const char* p = pos_ + 1;  // entry tag
  uint64_t len = 0;
  protowire::ReadVarint(&p, end_, &len);
  next_ = p + len;
  p += 1;  // name tag
  protowire::ReadVarint(&p, end_, &len);
  current_.name = std::string_view(p, len);
  p += len + 1;  // value tag
  protowire::ReadVarint(&p, end_, &len);
  current_.value = std::string_view(p, len);
}

std::string_view LabelSetView::Get(std::string_view name) const {
  for (const Label& l : *this) {
    if (l.name == name) return l.value;
  }
  return {};
}

std::string LabelSetView::ToString() const {
  std::string out(MetricName());
  out.push_back('{');
  bool first = true;
  for (const Label& l : *this) {
    if (l.name == kMetricNameLabel) continue;
    if (!first) out += ", ";
    first = false;
    out.append(l.name);
    out += "=\"";
    AppendEscaped(&out, l.value);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

bool LabelSetLess(const LabelSetView& a, const LabelSetView& b) {
  auto ia = a.begin(), ib = b.begin();
  for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
    if (ia->name != ib->name) return ia->name < ib->name;
    if (ia->value != ib->value) return ia->value < ib->value;
  }
  return ia == a.end() && ib != b.end();
}

}  // namespace promewma::model
