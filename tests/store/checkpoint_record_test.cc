// Checkpoint records: what is written reads back exactly, and records no
// writer produced are refused.

#include "store/checkpoint_record.h"

#include <catch2/catch.hpp>

#include "codec/crc32c.h"
#include "codec/xor_chunk.h"
#include "common/coding.h"
#include "store/record_fields.h"

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

// State and params fields as versions 1 and 2 wrote them: the state
// without the season fields, version 2's params without them either,
// version 1's without spread, spread_alpha and transform too.
void PutLegacyState(std::string* out, const ewma::EstimatorState& st) {
  PutFixed(out, st.mean);
  PutFixed(out, st.spread);
  PutFixed(out, st.weight_sq);
  PutFixed(out, st.count);
  PutFixed(out, st.last_sample_ms);
  PutFixed(out, st.last_timestamp_ms);
  PutFixed(out, st.last_value_bits);
}
void PutLegacyParams(std::string* out, const ewma::EstimatorParams& p,
                     int version) {
  PutFixed(out, p.alpha);
  PutFixed(out, p.half_life_ms);
  PutFixed(out, p.k);
  PutFixed(out, p.min_samples);
  PutFixed(out, p.reset_after_ms);
  PutFixed<uint8_t>(out, static_cast<uint8_t>(p.threshold_basis));
  PutFixed<uint8_t>(out, p.outputs);
  if (version == 2) {
    PutFixed<uint8_t>(out, static_cast<uint8_t>(p.spread));
    PutFixed(out, p.spread_alpha);
    PutFixed<uint8_t>(out, static_cast<uint8_t>(p.transform));
  }
}

// A record as versions 1 and 2 wrote it.
std::string LegacyRecord(const head::SeriesSnapshot& s, int version) {
  std::string out;
  PutFixed<uint8_t>(&out, static_cast<uint8_t>(version));
  PutFixed<uint32_t>(&out, static_cast<uint32_t>(s.labels.size()));
  out += s.labels;
  PutLegacyState(&out, s.state);
  PutFixed(&out, s.latest_ms);
  PutFixed<uint8_t>(&out, s.latest.present);
  PutFixed<uint8_t>(&out, s.latest.stale ? 1 : 0);
  for (double v : s.latest.value) PutFixed(&out, v);
  PutLegacyParams(&out, s.params, version);
  PutLegacyState(&out, s.head_start);
  PutFixed<uint32_t>(&out, static_cast<uint32_t>(s.head.size()));
  out += s.head;
  PutFixed<uint32_t>(&out, codec::Crc32c(out));
  return out;
}

// What versions 1 and 2 ran with: no season, and version 1 the plain EWMA
// band.
head::SeriesSnapshot LegacySnapshot(int version) {
  head::SeriesSnapshot s = SampleSnapshot();
  s.params.season_slots = 0;
  s.state.season = ewma::EmptySeasonProfile();
  s.state.season_start_ms = 0;
  s.head_start.season = ewma::EmptySeasonProfile();
  s.head_start.season_start_ms = 0;
  if (version == 1) {
    s.params.spread = ewma::SpreadKind::kEwmStd;
    s.params.spread_alpha = 0;
    s.params.transform = ewma::Transform::kNone;
  } else {
    s.params.spread = ewma::SpreadKind::kErrorRms;
    s.params.spread_alpha = 0.01;
    s.params.transform = ewma::Transform::kLog1p;
  }
  return s;
}

TEST_CASE("checkpoint records of versions 1 and 2 read as their writers ran, "
          "without a season") {
  for (int version : {1, 2}) {
    INFO("version " << version);
    const head::SeriesSnapshot in = LegacySnapshot(version);
    head::SeriesSnapshot out;
    // Overwritten: a season, and fields version 1 lacks.
    out.params.season_slots = 96;
    out.params.spread = ewma::SpreadKind::kErrorMeanAbs;
    out.state.season.Set(0, 0x3F80);
    out.head_start.season_start_ms = 5;
    REQUIRE(DecodeCheckpointRecord(LegacyRecord(in, version), &out).ok());
    REQUIRE(out.params == in.params);
    REQUIRE(out.params.season_slots == 0);
    REQUIRE(out.params.spread == in.params.spread);
    REQUIRE(out.params.transform == in.params.transform);
    REQUIRE(out.state.mean == in.state.mean);
    REQUIRE(out.state.last_value_bits == in.state.last_value_bits);
    REQUIRE(out.state.season == ewma::EmptySeasonProfile());
    REQUIRE(out.head_start.mean == in.head_start.mean);
    REQUIRE(out.head_start.season_start_ms == 0);
    REQUIRE(out.head == in.head);
    REQUIRE(out.latest.value[1] == in.latest.value[1]);
  }
}

TEST_CASE("a checkpoint record keeps the season profile its parameters use") {
  head::SeriesSnapshot in = SampleSnapshot();
  in.params.season_slots = 24;
  in.params.season_alpha = 0.25;
  in.params.season_min_history_ms = 7200000;
  in.state.season_start_ms = -3;
  in.head_start.season_start_ms = -3;
  for (int i = 0; i < 24; i += 3) {
    in.state.season.Set(i, ewma::ToSeasonSlot(i * 0.5));
    in.head_start.season.Set(i, ewma::ToSeasonSlot(i * 0.25));
  }
  std::string record;
  EncodeCheckpointRecord(in, &record);
  std::string without;
  head::SeriesSnapshot plain = SampleSnapshot();
  plain.params.season_slots = 0;
  EncodeCheckpointRecord(plain, &without);
  // Two profiles of 24 two-byte slots, and nothing more.
  REQUIRE(record.size() == without.size() + 2 * 24 * 2);
  head::SeriesSnapshot out;
  REQUIRE(DecodeCheckpointRecord(record, &out).ok());
  REQUIRE(out.params == in.params);
  REQUIRE(out.params.season_alpha == 0.25);
  REQUIRE(out.params.season_min_history_ms == 7200000);
  REQUIRE(out.state.season == in.state.season);
  REQUIRE(out.state.season_start_ms == -3);
  REQUIRE(out.head_start.season == in.head_start.season);
  REQUIRE(out.head_start.season_start_ms == -3);
}

TEST_CASE("a checkpoint record with more season slots than a state holds is "
          "refused") {
  head::SeriesSnapshot in = SampleSnapshot();
  in.params.season_slots = 0;
  std::string record;
  EncodeCheckpointRecord(in, &record);
  // The state's slot count: after version, labels, the 7 fixed state
  // fields and season_start_ms.
  const size_t count = 1 + 4 + in.labels.size() + 56 + 8;
  std::string bad = record.substr(0, record.size() - 4);
  REQUIRE(bad[count] == 0);
  bad[count] = static_cast<char>(ewma::kMaxSeasonSlots + 1);
  PutFixed<uint32_t>(&bad, codec::Crc32c(bad));
  head::SeriesSnapshot back;
  REQUIRE(DecodeCheckpointRecord(bad, &back).code() ==
          StatusCode::kCorruption);
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
  // The stale flag: after version, labels, state (56 + 8 + 1 + 2 bytes a
  // season slot), latest_ms, present.
  const size_t stale = 1 + 4 + snapshot.labels.size() + 56 + 8 + 1 +
                       2 * snapshot.params.season_slots + 8 + 1;
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

// Params then state fields as `version` wrote them, then "tail".
std::string FieldsAsWritten(const head::SeriesSnapshot& s, int version) {
  std::string out;
  if (version == 3) {
    PutParamsFields(&out, s.params);
    PutStateFields(&out, s.state, s.params.season_slots);
  } else {
    PutLegacyParams(&out, s.params, version);
    PutLegacyState(&out, s.state);
  }
  return out + "tail";
}

TEST_CASE("FieldReader's SkipState steps over exactly the fields GetState "
          "decodes, in every version, and refuses what GetState refuses") {
  head::SeriesSnapshot with_season = SampleSnapshot();
  with_season.params.season_slots = 96;
  for (int i = 0; i < 96; ++i) with_season.state.season.Set(i, 0x3F80 + i);
  struct Case {
    int version;
    head::SeriesSnapshot snapshot;
  };
  const Case cases[] = {{1, LegacySnapshot(1)},
                        {2, LegacySnapshot(2)},
                        {3, SampleSnapshot()},
                        {3, with_season}};
  for (const Case& c : cases) {
    INFO("version " << c.version << ", season slots "
                    << c.snapshot.params.season_slots);
    const std::string bytes = FieldsAsWritten(c.snapshot, c.version);
    FieldReader read(bytes);
    ewma::EstimatorParams params;
    ewma::EstimatorState state;
    read.GetParams(&params, c.version);
    read.GetState(&state, c.version);
    REQUIRE(read.ok());
    REQUIRE(read.rest() == "tail");
    REQUIRE(params.season_slots == c.snapshot.params.season_slots);
    FieldReader skip(bytes);
    skip.GetParams(&params, c.version);
    skip.SkipState(c.version);
    REQUIRE(skip.ok());
    REQUIRE(skip.rest() == "tail");

    // Cut short: both fail.
    const std::string cut = bytes.substr(0, bytes.size() - 5);
    FieldReader read_cut(cut), skip_cut(cut);
    read_cut.GetParams(&params, c.version);
    read_cut.GetState(&state, c.version);
    skip_cut.GetParams(&params, c.version);
    skip_cut.SkipState(c.version);
    CHECK(!read_cut.ok());
    CHECK(!skip_cut.ok());
  }
  // More season slots than any writer writes: both fail.
  std::string bytes = FieldsAsWritten(with_season, 3);
  const size_t slot_count_at = bytes.size() - 4 - 2 * 96 - 1;
  REQUIRE(static_cast<uint8_t>(bytes[slot_count_at]) == 96);
  bytes[slot_count_at] = static_cast<char>(ewma::kMaxSeasonSlots + 1);
  bytes += std::string(2 * 8, '\0');  // so that only the count is wrong
  FieldReader read(bytes), skip(bytes);
  ewma::EstimatorParams params;
  ewma::EstimatorState state;
  read.GetParams(&params, 3);
  read.GetState(&state, 3);
  skip.GetParams(&params, 3);
  skip.SkipState(3);
  CHECK(!read.ok());
  CHECK(!skip.ok());
}

}  // namespace
}  // namespace promewma::store
