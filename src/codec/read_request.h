// Decoding of a remote-read request: the snappy-compressed
// `prometheus.ReadRequest` POSTed to /api/v1/read.
//
//   ReadRequest { repeated Query queries = 1;
//                 repeated ResponseType accepted_response_types = 2; }
//   Query       { int64 start_timestamp_ms = 1; int64 end_timestamp_ms = 2;
//                 repeated LabelMatcher matchers = 3; ReadHints hints = 4; }
//   LabelMatcher{ Type type = 1 (EQ=0 NEQ=1 RE=2 NRE=3);
//                 string name = 2; string value = 3; }
//
// The protobuf is read by a small hand-written decoder with libprotobuf's
// proto3 rules (unknown fields and wire-type mismatches skipped, last value
// of a scalar wins, packed and unpacked repeated enums, strings must be
// UTF-8): the codec library does not link libprotobuf, and
// tests/codec/read_request_test.cc checks the decoder against it. Hints are
// checked for well-formedness and otherwise ignored: we answer with raw
// data, as Prometheus does.
//
// Response type negotiation follows Prometheus (NegotiateResponseType in
// storage/remote/codec.go): the first type in accepted_response_types that
// the server supports wins, in the client's order; an empty list means
// SAMPLES (what every client before streaming existed sends, Prometheus 2.42
// included); a list with only unknown types is an error.
//
// Thread-safety: DecodeReadRequest is a pure function; ReadRequestView is a
// value (its matchers are immutable and safe to share).

#ifndef PROMEWMA_CODEC_READ_REQUEST_H_
#define PROMEWMA_CODEC_READ_REQUEST_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "model/matcher.h"
#include "promewma/status.h"

namespace promewma::codec {

// Values are the ReadRequest.ResponseType enum numbers.
enum class ReadResponseType {
  kSamples = 0,            // snappy(ReadResponse), one QueryResult per query
  kStreamedXorChunks = 1,  // chunked frames of ChunkedReadResponse
};

// "SAMPLES" or "STREAMED_XOR_CHUNKS".
std::string_view ReadResponseTypeName(ReadResponseType type);

// At most this many label matchers in one request (all queries together),
// and so at most this many queries (each needs a matcher). A Prometheus
// client sends one query per request, with the selector's matchers plus its
// required_matchers: a handful. The limit is low because a regex matcher
// costs a compiled RE2 whose size the pattern length does not bound: an
// 8-byte pattern such as \pL{200} compiles to ~2 MB, so a 1,000-matcher
// request of 12 KB would cost 2 GB.
inline constexpr size_t kMaxReadMatchers = 64;

struct ReadQuery {
  int64_t start_ms;  // inclusive, milliseconds since the epoch
  int64_t end_ms;    // inclusive; start_ms <= end_ms
  // In request order; never empty. Regexes are fully anchored (see
  // model/matcher.h).
  std::vector<model::Matcher> matchers;
};

struct ReadRequestView {
  std::vector<ReadQuery> queries;  // in request order; may be empty
  ReadResponseType response_type = ReadResponseType::kSamples;
};

// Decompresses (snappy block format) and decodes a read request into *out,
// replacing its contents. The declared decompressed size is checked against
// `max_decoded_bytes` before anything is decompressed.
//
// Errors (one line each; *out is unspecified after an error):
//   TooLarge:        decoded size over max_decoded_bytes; more than
//                    kMaxReadMatchers matchers or queries.
//   InvalidArgument: corrupt or framed snappy; undecodable protobuf (the
//                    message names the byte offset); no supported response
//                    type; a query with start after end or without
//                    matchers; an unknown matcher type, an invalid label
//                    name or a regex RE2 refuses (naming the query and
//                    matcher index).
Status DecodeReadRequest(std::string_view snappy_body, size_t max_decoded_bytes,
                         ReadRequestView* out);

}  // namespace promewma::codec

#endif  // PROMEWMA_CODEC_READ_REQUEST_H_
