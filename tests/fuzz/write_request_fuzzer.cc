// libFuzzer target: the remote-write body path, snappy block decompression
// followed by the zero-copy WriteRequest decoder and label validation. The
// input is tried both as a snappy body and as a raw protobuf message.
//
// Invariants checked on every accepted input: label sets read back through
// LabelSetView are sorted, unique and carry __name__, and each hash matches
// its bytes.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "codec/snappy_block.h"
#include "codec/write_request.h"
#include "model/labels.h"

namespace {

void CheckDecoded(std::string_view body) {
  promewma::codec::DecodedWriteRequest decoded;
  if (!promewma::codec::DecodeWriteRequest(body, &decoded).ok()) return;
  for (size_t i = 0; i < decoded.series.size(); ++i) {
    if (!promewma::codec::ValidateSeriesLabels(decoded, i).ok()) continue;
    const auto& s = decoded.series[i];
    if (s.labels_hash != promewma::model::HashLabelSet(s.labels)) std::abort();
    if (s.first_sample + s.sample_count > decoded.samples.size()) std::abort();
    std::string_view previous;
    bool first = true, has_name = false;
    for (const auto& l : promewma::model::LabelSetView(s.labels)) {
      if (!first && !(previous < l.name)) std::abort();
      if (l.value.empty()) std::abort();
      has_name |= l.name == "__name__";
      previous = l.name;
      first = false;
    }
    if (!has_name) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckDecoded(input);
  std::string decompressed;
  if (promewma::codec::DecompressSnappyBlock(input, 1 << 20, &decompressed)
          .ok()) {
    CheckDecoded(decompressed);
  }
  return 0;
}
