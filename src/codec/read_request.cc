#include "codec/read_request.h"

#include <string>
#include <utility>

#include "codec/snappy_block.h"
#include "common/protowire.h"
#include "model/labels.h"

namespace promewma::codec {
namespace {

using protowire::kLengthDelimited;
using protowire::kVarint;
using protowire::MakeTag;

// ReadRequest
constexpr uint32_t kQueryTag = MakeTag(1, kLengthDelimited);
constexpr uint32_t kAcceptedTypeTag = MakeTag(2, kVarint);
constexpr uint32_t kAcceptedTypesPackedTag = MakeTag(2, kLengthDelimited);
// Query
constexpr uint32_t kStartTag = MakeTag(1, kVarint);
constexpr uint32_t kEndTag = MakeTag(2, kVarint);
constexpr uint32_t kMatcherTag = MakeTag(3, kLengthDelimited);
constexpr uint32_t kHintsTag = MakeTag(4, kLengthDelimited);
// LabelMatcher
constexpr uint32_t kMatcherTypeTag = MakeTag(1, kVarint);
constexpr uint32_t kMatcherNameTag = MakeTag(2, kLengthDelimited);
constexpr uint32_t kMatcherValueTag = MakeTag(3, kLengthDelimited);

using Reader = protowire::MessageReader;

Status Fail(const Reader& r, const char* what) {
  return Status::InvalidArgument("malformed read request protobuf at byte " +
                                 std::to_string(r.offset()) + ": " + what);
}

// A LabelMatcher as it is on the wire, before it is checked.
struct RawMatcher {
  int32_t type = 0;
  std::string_view name;
  std::string_view value;
};

// Parsed ReadRequest, still as raw values: the wire-format pass and the
// semantic checks are kept apart so that a malformed body is reported as
// such even when an earlier query is also wrong.
struct RawQuery {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  size_t first_matcher = 0;  // into RawRequest::matchers
  size_t matcher_count = 0;
};

// accepted_response_types is folded as it is read, so that a long packed
// list costs no memory: only the negotiated type and, for the error
// message, the first few unsupported values are kept.
constexpr size_t kUnsupportedTypesShown = 8;

struct RawRequest {
  std::vector<RawQuery> queries;
  std::vector<RawMatcher> matchers;
  bool any_accepted_type = false;
  int32_t negotiated_type = -1;            // first supported type listed, or -1
  std::vector<int32_t> unsupported_types;  // at most kUnsupportedTypesShown
  bool more_unsupported_types = false;

  void AddAcceptedType(int32_t type) {
    any_accepted_type = true;
    if (negotiated_type >= 0) return;
    if (type == static_cast<int32_t>(ReadResponseType::kSamples) ||
        type == static_cast<int32_t>(ReadResponseType::kStreamedXorChunks)) {
      negotiated_type = type;
    } else if (unsupported_types.size() < kUnsupportedTypesShown) {
      unsupported_types.push_back(type);
    } else {
      more_unsupported_types = true;
    }
  }
};

// Every valid query needs a matcher, so a request with more queries than
// kMaxReadMatchers cannot be valid either; both are checked while parsing,
// before a hostile body of tiny entries can grow the vectors above.
Status TooManyMatchers() {
  return Status::TooLarge("read request has over " +
                          std::to_string(kMaxReadMatchers) + " label matchers");
}

Status TooManyQueries() {
  return Status::TooLarge("read request has over " +
                          std::to_string(kMaxReadMatchers) + " queries");
}

Status ParseMatcher(Reader r, RawMatcher* m) {
  while (!r.done()) {
    uint32_t tag;
    if (!r.ReadTag(&tag)) return Fail(r, "bad field tag in matcher");
    uint64_t v;
    if (tag == kMatcherTypeTag) {
      if (!r.ReadVarint(&v)) return Fail(r, "truncated matcher type");
      // Enums are int32 on the wire; libprotobuf keeps the low 32 bits.
      m->type = static_cast<int32_t>(v);
    } else if (tag == kMatcherNameTag) {
      if (!r.ReadBytes(&m->name)) return Fail(r, "truncated matcher name");
    } else if (tag == kMatcherValueTag) {
      if (!r.ReadBytes(&m->value)) return Fail(r, "truncated matcher value");
    } else if (!r.SkipField(tag)) {
      return Fail(r, "bad field in matcher");
    }
  }
  // proto3 strings must be UTF-8; libprotobuf refuses the message otherwise.
  // (Checked once, after the last-wins assignments.)
  if (!model::IsValidUtf8(m->name)) {
    return Fail(r, "matcher name is not valid UTF-8");
  }
  if (!model::IsValidUtf8(m->value)) {
    return Fail(r, "matcher value is not valid UTF-8");
  }
  return Status::Ok();
}

Status ParseQuery(Reader r, RawRequest* req, RawQuery* q) {
  q->first_matcher = req->matchers.size();
  while (!r.done()) {
    uint32_t tag;
    if (!r.ReadTag(&tag)) return Fail(r, "bad field tag in query");
    uint64_t v;
    std::string_view bytes;
    if (tag == kStartTag) {
      if (!r.ReadVarint(&v)) return Fail(r, "truncated start timestamp");
      q->start_ms = static_cast<int64_t>(v);
    } else if (tag == kEndTag) {
      if (!r.ReadVarint(&v)) return Fail(r, "truncated end timestamp");
      q->end_ms = static_cast<int64_t>(v);
    } else if (tag == kMatcherTag) {
      if (!r.ReadBytes(&bytes)) return Fail(r, "truncated matcher");
      RawMatcher m;
      Status s = ParseMatcher(r.Sub(bytes), &m);
      if (!s.ok()) return s;
      req->matchers.push_back(m);
      if (req->matchers.size() > kMaxReadMatchers) return TooManyMatchers();
    } else if (tag == kHintsTag) {
      // Ignored, but it must be a well-formed message like the rest.
      if (!r.ReadBytes(&bytes)) return Fail(r, "truncated hints");
      Reader hints = r.Sub(bytes);
      while (!hints.done()) {
        uint32_t hint_tag;
        if (!hints.ReadTag(&hint_tag) || !hints.SkipField(hint_tag)) {
          return Fail(hints, "bad field in hints");
        }
      }
    } else if (!r.SkipField(tag)) {
      return Fail(r, "bad field in query");
    }
  }
  q->matcher_count = req->matchers.size() - q->first_matcher;
  return Status::Ok();
}

Status ParseRequest(std::string_view body, RawRequest* req) {
  Reader r(body.data(), body.data(), body.data() + body.size());
  while (!r.done()) {
    uint32_t tag;
    if (!r.ReadTag(&tag)) return Fail(r, "bad field tag");
    uint64_t v;
    std::string_view bytes;
    if (tag == kQueryTag) {
      if (!r.ReadBytes(&bytes)) return Fail(r, "truncated query");
      RawQuery q;
      Status s = ParseQuery(r.Sub(bytes), req, &q);
      if (!s.ok()) return s;
      req->queries.push_back(q);
      if (req->queries.size() > kMaxReadMatchers) return TooManyQueries();
    } else if (tag == kAcceptedTypeTag) {
      if (!r.ReadVarint(&v)) return Fail(r, "truncated response type");
      req->AddAcceptedType(static_cast<int32_t>(v));
    } else if (tag == kAcceptedTypesPackedTag) {
      // proto3 writes repeated enums packed; parsers accept both forms.
      if (!r.ReadBytes(&bytes)) return Fail(r, "truncated response types");
      Reader packed = r.Sub(bytes);
      while (!packed.done()) {
        if (!packed.ReadVarint(&v)) {
          return Fail(packed, "truncated packed response type");
        }
        req->AddAcceptedType(static_cast<int32_t>(v));
      }
    } else if (!r.SkipField(tag)) {
      return Fail(r, "bad unknown field");
    }
  }
  return Status::Ok();
}

Result<ReadResponseType> Negotiate(const RawRequest& req) {
  if (!req.any_accepted_type) return ReadResponseType::kSamples;
  if (req.negotiated_type >= 0) {
    return static_cast<ReadResponseType>(req.negotiated_type);
  }
  std::string msg = "none of the accepted response types [";
  for (size_t i = 0; i < req.unsupported_types.size(); ++i) {
    if (i > 0) msg += ", ";
    msg += std::to_string(req.unsupported_types[i]);
  }
  if (req.more_unsupported_types) msg += ", ...";
  msg += "] is supported (supported: SAMPLES, STREAMED_XOR_CHUNKS)";
  return Status::InvalidArgument(std::move(msg));
}

Result<model::Matcher::Type> MatcherType(int32_t wire) {
  switch (wire) {
    case 0:
      return model::Matcher::Type::kEqual;
    case 1:
      return model::Matcher::Type::kNotEqual;
    case 2:
      return model::Matcher::Type::kRegexMatch;
    case 3:
      return model::Matcher::Type::kRegexNoMatch;
  }
  return Status::InvalidArgument("unknown matcher type " +
                                 std::to_string(wire));
}

Status CheckQuery(const RawRequest& req, size_t index, ReadQuery* out) {
  const RawQuery& q = req.queries[index];
  const std::string where = "query " + std::to_string(index);
  if (q.start_ms > q.end_ms) {
    return Status::InvalidArgument(
        where + ": start " + std::to_string(q.start_ms) + " ms is after end " +
        std::to_string(q.end_ms) + " ms");
  }
  if (q.matcher_count == 0) {
    return Status::InvalidArgument(where + ": no label matchers");
  }
  out->start_ms = q.start_ms;
  out->end_ms = q.end_ms;
  out->matchers.clear();
  out->matchers.reserve(q.matcher_count);
  for (size_t i = 0; i < q.matcher_count; ++i) {
    const RawMatcher& raw = req.matchers[q.first_matcher + i];
    std::string which = where + ", matcher " + std::to_string(i);
    if (model::IsValidLabelName(raw.name)) {
      which += " on label \"" + std::string(raw.name) + "\"";
    }
    Result<model::Matcher::Type> type = MatcherType(raw.type);
    if (!type.ok()) {
      return Status::InvalidArgument(which + ": " + type.status().message());
    }
    Result<model::Matcher> m = model::Matcher::Create(
        *type, std::string(raw.name), std::string(raw.value));
    if (!m.ok()) {
      return Status::InvalidArgument(which + ": " + m.status().message());
    }
    out->matchers.push_back(std::move(m).value());
  }
  return Status::Ok();
}

}  // namespace

std::string_view ReadResponseTypeName(ReadResponseType type) {
  switch (type) {
    case ReadResponseType::kSamples:
      return "SAMPLES";
    case ReadResponseType::kStreamedXorChunks:
      return "STREAMED_XOR_CHUNKS";
  }
  return "UNKNOWN";
}

Status DecodeReadRequest(std::string_view snappy_body, size_t max_decoded_bytes,
                         ReadRequestView* out) {
  out->queries.clear();
  out->response_type = ReadResponseType::kSamples;

  std::string body;
  Status s = DecompressSnappyBlock(snappy_body, max_decoded_bytes, &body);
  if (!s.ok()) return s;

  RawRequest raw;
  s = ParseRequest(body, &raw);
  if (!s.ok()) return s;

  Result<ReadResponseType> type = Negotiate(raw);
  if (!type.ok()) return type.status();
  out->response_type = *type;

  out->queries.resize(raw.queries.size());
  for (size_t i = 0; i < raw.queries.size(); ++i) {
    s = CheckQuery(raw, i, &out->queries[i]);
    if (!s.ok()) {
      out->queries.clear();
      return s;
    }
  }
  return Status::Ok();
}

}  // namespace promewma::codec
