// libFuzzer target: the remote-read request path and the chunked frame
// reader. Each input is tried three ways:
//   1. as a snappy body for DecodeReadRequest (what the HTTP handler gets),
//   2. snappy-compressed first, so the protobuf decoder sees the raw bytes,
//   3. as a stream of chunked frames for ChunkedFrameReader.
//
// Invariants checked on every accepted input (abort() on violation):
//   - a decoded request has start <= end and at least one matcher per
//     query, at most kMaxReadMatchers matchers, valid label names;
//   - frames lie inside the input, the offset only moves forward, and the
//     messages read survive a write/read round trip unchanged.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "codec/chunked_frame.h"
#include "codec/read_request.h"
#include "codec/snappy_block.h"
#include "model/labels.h"

namespace {

using promewma::codec::ChunkedFrameReader;
using promewma::codec::ReadRequestView;

// Small enough that a compression bomb in the input costs little.
constexpr size_t kMaxDecodedBytes = 1 << 20;
constexpr size_t kMaxFrameBytes = 1 << 20;

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckRequest(std::string_view snappy_body) {
  ReadRequestView request;
  if (!promewma::codec::DecodeReadRequest(snappy_body, kMaxDecodedBytes,
                                          &request)
           .ok()) {
    return;
  }
  size_t matchers = 0;
  for (const auto& q : request.queries) {
    Check(q.start_ms <= q.end_ms);
    Check(!q.matchers.empty());
    for (const auto& m : q.matchers) {
      Check(promewma::model::IsValidLabelName(m.name()));
      m.Matches("");  // a compiled regex must be usable
      m.Matches(m.value());
    }
    matchers += q.matchers.size();
  }
  Check(matchers <= promewma::codec::kMaxReadMatchers);
}

std::vector<std::string> ReadFrames(std::string_view data) {
  ChunkedFrameReader reader(data, kMaxFrameBytes);
  std::vector<std::string> messages;
  std::string_view message;
  size_t previous_offset = 0;
  while (true) {
    promewma::Result<bool> more = reader.Next(&message);
    if (!more.ok()) {
      Check(reader.Next(&message).status().message() ==
            more.status().message());  // errors are sticky
      break;
    }
    if (!*more) {
      Check(reader.offset() == data.size());
      break;
    }
    Check(message.data() >= data.data());
    Check(message.data() + message.size() <= data.data() + data.size());
    Check(message.size() <= kMaxFrameBytes);
    Check(reader.offset() > previous_offset);
    previous_offset = reader.offset();
    messages.emplace_back(message);
  }
  return messages;
}

void CheckFrames(std::string_view data) {
  const std::vector<std::string> messages = ReadFrames(data);
  std::string rewritten;
  for (const std::string& m : messages) {
    promewma::codec::AppendChunkedFrame(&rewritten, m);
  }
  ChunkedFrameReader reader(rewritten, kMaxFrameBytes);
  std::string_view message;
  for (const std::string& m : messages) {
    promewma::Result<bool> more = reader.Next(&message);
    Check(more.ok() && *more && message == m);
  }
  promewma::Result<bool> end = reader.Next(&message);
  Check(end.ok() && !*end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckRequest(input);
  CheckRequest(promewma::codec::CompressSnappyBlock(input));
  CheckFrames(input);
  return 0;
}
