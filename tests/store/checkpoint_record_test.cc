// Checkpoint records: what is written reads back exactly, and records no
// writer produced are refused.

#include "store/checkpoint_record.h"

#include <catch2/catch.hpp>

#include "codec/crc32c.h"
#include "codec/xor_chunk.h"
#include "common/coding.h"

namespace promewma::store {
namespace {

head::SeriesSnapshot SampleSnapshot() {
  head::SeriesSnapshot s;
  s.labels = "\x0a\x0d\x0a\x08__name__\x12\x01x";
  s.state.mean = 2.5;
  s.state.spread = 0.1;
  s.state.weight_sq = 0.2;
  s.state.count = 12;
  s.state.last_sample_ms = 2000;
  s.state.last_timestamp_ms = 2000;
  s.latest_ms = 2000;
  s.latest.present = ewma::kDefaultOutputs;
  s.latest.value[0] = 2.5;
  s.latest.value[1] = 3.75;
  s.params.alpha = 0.3;
  s.params.k = 2;
  s.head_start.mean = 1.5;
  s.head_start.count = 11;
  codec::XorChunkAppender head;
  head.Append(1000, 1.25);
  head.Append(2000, 2.5);
  s.head.assign(head.bytes());
  return s;
}

TEST_CASE("a checkpoint record reads back as written") {
  const head::SeriesSnapshot in = SampleSnapshot();
  std::string record;
  EncodeCheckpointRecord(in, &record);
  head::SeriesSnapshot out;
  REQUIRE(DecodeCheckpointRecord(record, &out).ok());
  REQUIRE(out.labels == in.labels);
  REQUIRE(out.state.mean == in.state.mean);
  REQUIRE(out.state.count == in.state.count);
  REQUIRE(out.latest_ms == in.latest_ms);
  REQUIRE(out.latest.present == in.latest.present);
  for (int o = 0; o < ewma::kOutputCount; ++o) {
    REQUIRE(out.latest.value[o] == in.latest.value[o]);
  }
  REQUIRE(out.params == in.params);
  REQUIRE(out.head_start.mean == in.head_start.mean);
  REQUIRE(out.head_start.count == in.head_start.count);
  REQUIRE(out.head == in.head);

  // Without a head chunk too.
  head::SeriesSnapshot no_head = in;
  no_head.head.clear();
  record.clear();
  EncodeCheckpointRecord(no_head, &record);
  REQUIRE(DecodeCheckpointRecord(record, &out).ok());
  REQUIRE(out.head.empty());
}

TEST_CASE("a version 1 checkpoint record, before spread and transform, reads with their defaults") {
  head::SeriesSnapshot in = SampleSnapshot();
  std::string v2;
  EncodeCheckpointRecord(in, &v2);
  // Version 1 is version 2 without the u8 spread, f64 spread_alpha and u8
  // transform that end the params.
  const size_t params_end = 1 + 4 + in.labels.size() + 7 * 8  // state
                            + 8 + 1 + 1 + 5 * 8               // latest
                            + 8 + 8 + 8 + 4 + 8 + 1 + 1;      // params
  std::string v1 = v2.substr(0, v2.size() - 4);
  v1.erase(params_end, 1 + 8 + 1);
  v1[0] = 1;
  PutFixed<uint32_t>(&v1, codec::Crc32c(v1));
  head::SeriesSnapshot out;
  out.params.spread = ewma::SpreadKind::kErrorRms;  // overwritten
  out.params.transform = ewma::Transform::kLog1p;
  REQUIRE(DecodeCheckpointRecord(v1, &out).ok());
  REQUIRE(out.params == in.params);
  REQUIRE(out.head_start.mean == in.head_start.mean);
  REQUIRE(out.head == in.head);
}

TEST_CASE("a checkpoint record of an unknown version is refused") {
  std::string r;
  PutFixed<uint8_t>(&r, 9);
  PutFixed<uint32_t>(&r, codec::Crc32c(r));
  head::SeriesSnapshot snapshot;
  Status s = DecodeCheckpointRecord(r, &snapshot);
  REQUIRE(s.code() == StatusCode::kCorruption);
  REQUIRE(s.message() == "checkpoint record of an unknown version 9");
}

TEST_CASE("a checkpoint record with flags no writer sets is refused") {
  const head::SeriesSnapshot snapshot = SampleSnapshot();
  std::string record;
  EncodeCheckpointRecord(snapshot, &record);
  // The stale flag: after version, labels, state (56), latest_ms, present.
  const size_t stale = 1 + 4 + snapshot.labels.size() + 56 + 8 + 1;
  std::string bad = record.substr(0, record.size() - 4);
  bad[stale] = 2;
  PutFixed<uint32_t>(&bad, codec::Crc32c(bad));
  head::SeriesSnapshot back;
  Status s = DecodeCheckpointRecord(bad, &back);
  REQUIRE(s.code() == StatusCode::kCorruption);
  REQUIRE(s.message() == "checkpoint record with an invalid flag");
}

TEST_CASE("a checkpoint record whose fields do not add up is refused") {
  std::string record;
  EncodeCheckpointRecord(SampleSnapshot(), &record);
  const std::string body = record.substr(0, record.size() - 4);
  // One byte short, and one byte too many, each with a valid checksum.
  for (const std::string& changed : {body.substr(0, body.size() - 1),
                                     body + std::string(1, '\0')}) {
    std::string bad = changed;
    PutFixed<uint32_t>(&bad, codec::Crc32c(bad));
    head::SeriesSnapshot back;
    Status s = DecodeCheckpointRecord(bad, &back);
    REQUIRE(s.code() == StatusCode::kCorruption);
    REQUIRE(s.message() == "checkpoint record fields do not add up");
  }
  // A damaged byte without a matching checksum.
  std::string flipped = record;
  flipped[3] ^= 1;
  head::SeriesSnapshot back;
  REQUIRE(DecodeCheckpointRecord(flipped, &back).message() ==
          "checkpoint record checksum mismatch");
}

}  // namespace
}  // namespace promewma::store
