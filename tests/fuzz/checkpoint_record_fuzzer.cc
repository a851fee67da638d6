// libFuzzer target: arbitrary bytes read as a checkpoint record.
//
// Invariants checked on every input:
//  - DecodeCheckpointRecord ends in OK or Corruption and never reads out
//    of bounds (ASan);
//  - a record that decodes encodes again to a record that decodes to the
//    same snapshot, whose encoding is the same bytes; a version 2 input is
//    that encoding already.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "store/checkpoint_record.h"

namespace {

using promewma::StatusCode;
using promewma::head::SeriesSnapshot;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  SeriesSnapshot snapshot;
  const promewma::Status s =
      promewma::store::DecodeCheckpointRecord(input, &snapshot);
  Check(s.ok() || s.code() == StatusCode::kCorruption);
  if (!s.ok()) return 0;

  std::string encoded;
  promewma::store::EncodeCheckpointRecord(snapshot, &encoded);
  if (size > 0 && data[0] == 2) Check(encoded == input);
  SeriesSnapshot again;
  Check(promewma::store::DecodeCheckpointRecord(encoded, &again).ok());
  std::string reencoded;
  promewma::store::EncodeCheckpointRecord(again, &reencoded);
  Check(reencoded == encoded);
  return 0;
}
