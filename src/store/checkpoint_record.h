// The checkpoint record of one series: its EWMA state, latest outputs and
// open raw head chunk, so that recovery replays only the log written after
// the checkpoint.
//
// Format (integers little-endian, doubles as their IEEE 754 bits):
//   u8   version (3; 1 and 2 are still read, store/record_fields.h)
//   u32  length of labels, then the canonical label bytes
//   state: the state fields of store/record_fields.h (mean ... season)
//   i64  latest_ms, u8 latest.present, u8 latest.stale, 5 x f64 latest.value
//   params: the params fields of store/record_fields.h
//   head_start: a state, as above
//   u32  length, then the raw head's XOR chunk bytes (length 0: no head)
//   u32  CRC-32C of everything before it
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_STORE_CHECKPOINT_RECORD_H_
#define PROMEWMA_STORE_CHECKPOINT_RECORD_H_

#include <string>
#include <string_view>

#include "head/head.h"
#include "promewma/status.h"

namespace promewma::store {

// Appends the record of `snapshot` to *out.
void EncodeCheckpointRecord(const head::SeriesSnapshot& snapshot,
                            std::string* out);

// Decodes one record; Corruption (one line) when it is damaged.
Status DecodeCheckpointRecord(std::string_view record,
                              head::SeriesSnapshot* out);

}  // namespace promewma::store

#endif  // PROMEWMA_STORE_CHECKPOINT_RECORD_H_
