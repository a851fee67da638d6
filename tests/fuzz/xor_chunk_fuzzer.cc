// libFuzzer target: arbitrary bytes read as a Prometheus XOR chunk.
//
// Invariants checked on every input:
//  - the iterator never reads out of bounds (ASan) and ends in OK or
//    Corruption, with at most the header's count of samples;
//  - whatever decoded (all of it, or the samples before the corruption),
//    re-encoded with XorChunkAppender, decodes back bit for bit (NaN
//    payloads included), and encoding that again gives the same bytes;
//  - Resume succeeds exactly when decoding does, and appending to the
//    resumed chunk yields the old samples plus the new one.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec/xor_chunk.h"

namespace {

using promewma::StatusCode;
using promewma::codec::DecodeXorChunk;
using promewma::codec::XorChunkAppender;
using promewma::codec::XorChunkIterator;
using Samples = std::vector<std::pair<int64_t, double>>;

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

bool SameBits(const Samples& a, const Samples& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || Bits(a[i].second) != Bits(b[i].second)) {
      return false;
    }
  }
  return true;
}

std::string Encode(const Samples& samples) {
  XorChunkAppender app;
  for (const auto& [t, v] : samples) app.Append(t, v);
  return std::string(app.bytes());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  Samples decoded;
  XorChunkIterator it(input);
  while (it.Next()) decoded.emplace_back(it.timestamp(), it.value());
  const promewma::Status status = it.status();
  Check(status.ok() || status.code() == StatusCode::kCorruption);
  Check(decoded.size() <= it.num_samples());
  if (status.ok()) Check(decoded.size() == it.num_samples());

  // Re-encode what was read; it must come back exactly, and the encoding
  // of a given sample list is unique.
  const std::string reencoded = Encode(decoded);
  Samples again;
  Check(DecodeXorChunk(reencoded, &again).ok());
  Check(SameBits(again, decoded));
  Check(Encode(again) == reencoded);

  // Resuming the input continues it.
  auto resumed = XorChunkAppender::Resume(input);
  Check(resumed.ok() == status.ok());
  if (resumed.ok() && !resumed->full()) {
    const int64_t t =
        decoded.empty()
            ? 0
            : static_cast<int64_t>(static_cast<uint64_t>(decoded.back().first) +
                                   15000);
    resumed->Append(t, 0.5);
    decoded.emplace_back(t, 0.5);
    Samples after;
    Check(DecodeXorChunk(resumed->bytes(), &after).ok());
    Check(SameBits(after, decoded));
  }
  return 0;
}
