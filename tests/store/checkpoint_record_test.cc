// Checkpoint records: those of older versions still restore, and ones no
// writer produced are refused.

#include "store/checkpoint_record.h"

#include <catch2/catch.hpp>
#include <cstring>

#include "codec/crc32c.h"
#include "codec/xor_chunk.h"
#include "model/labels.h"

namespace promewma::store {
namespace {

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out->append(buf, sizeof(T));
}

std::string Chunk(const std::vector<std::pair<int64_t, double>>& samples) {
  codec::XorChunkAppender a;
  for (const auto& [t, v] : samples) a.Append(t, v);
  return std::string(a.bytes());
}

// A version 1 record, field by field as that version wrote it: no params,
// no head_start, and the derived heads stored beside the raw one.
std::string VersionOneRecord(const std::string& labels,
                             const std::string& raw_head,
                             const std::string& ewma_head) {
  std::string r;
  Put<uint8_t>(&r, 1);
  Put<uint32_t>(&r, static_cast<uint32_t>(labels.size()));
  r += labels;
  Put<double>(&r, 2.5);        // mean
  Put<double>(&r, 0.1);        // spread
  Put<double>(&r, 0.2);        // weight_sq
  Put<uint64_t>(&r, 2);        // count
  Put<int64_t>(&r, 2000);      // last_sample_ms
  Put<int64_t>(&r, 2000);      // last_timestamp_ms
  Put<uint64_t>(&r, 0);        // last_value_bits
  Put<int64_t>(&r, 2000);      // latest_ms
  Put<uint8_t>(&r, 1);         // latest.present: ewma
  Put<uint8_t>(&r, 0);         // latest.stale
  for (int i = 0; i < 5; ++i) Put<double>(&r, i == 0 ? 2.5 : 0);
  Put<uint8_t>(&r, 0b11);      // raw and ewma heads
  Put<uint32_t>(&r, static_cast<uint32_t>(raw_head.size()));
  r += raw_head;
  Put<uint32_t>(&r, static_cast<uint32_t>(ewma_head.size()));
  r += ewma_head;
  Put<uint32_t>(&r, codec::Crc32c(r));
  return r;
}

TEST_CASE("a version 1 checkpoint record restores, sealing its heads") {
  std::vector<model::Label> l = {{"__name__", "cpu"}};
  std::string labels;
  REQUIRE(model::EncodeLabelSet(&l, &labels).ok());
  const std::string raw = Chunk({{1000, 2}, {2000, 3}});
  const std::string ewma = Chunk({{1000, 2}, {2000, 2.5}});
  ewma::SeriesSnapshot snapshot;
  REQUIRE(DecodeCheckpointRecord(VersionOneRecord(labels, raw, ewma),
                                 &snapshot)
              .ok());
  REQUIRE(snapshot.state.mean == 2.5);
  REQUIRE(snapshot.heads[ewma::kRawKind] == raw);
  REQUIRE(snapshot.heads[ewma::StoredKindOf(ewma::Output::kEwma)] == ewma);

  // The heads were computed by the old version: they are stored as they
  // are, and the series goes on with an empty head and its state.
  ewma::Engine engine{ewma::EngineOptions{}};
  std::vector<ewma::SealedChunk> sealed;
  REQUIRE(engine.Restore(snapshot, &sealed).ok());
  REQUIRE(sealed.size() == 2);
  REQUIRE(sealed[0].kind == ewma::kRawKind);
  REQUIRE(sealed[0].bytes == raw);
  REQUIRE(sealed[0].min_time_ms == 1000);
  REQUIRE(sealed[0].max_time_ms == 2000);
  REQUIRE(sealed[1].bytes == ewma);
  REQUIRE(engine.active_series() == 1);
  ewma::HeadChunk head;
  REQUIRE(engine.CopyHeadChunk(model::HashLabelSet(labels), labels,
                               ewma::kRawKind, &head));
  REQUIRE(head.bytes.empty());
}

TEST_CASE("a checkpoint record of an unknown version is refused") {
  std::string r;
  Put<uint8_t>(&r, 9);
  Put<uint32_t>(&r, codec::Crc32c(r));
  ewma::SeriesSnapshot snapshot;
  Status s = DecodeCheckpointRecord(r, &snapshot);
  REQUIRE(s.code() == StatusCode::kCorruption);
  REQUIRE(s.message().find("version 9") != std::string::npos);
}

TEST_CASE("a checkpoint record with flags no writer sets is refused") {
  ewma::SeriesSnapshot snapshot;
  snapshot.labels = "\x0a\x0d\x0a\x08__name__\x12\x01x";
  std::string record;
  EncodeCheckpointRecord(snapshot, &record);
  ewma::SeriesSnapshot back;
  REQUIRE(DecodeCheckpointRecord(record, &back).ok());
  // The stale flag: after version, labels, state (56), latest_ms, present.
  const size_t stale = 1 + 4 + snapshot.labels.size() + 56 + 8 + 1;
  // The head mask: the byte before the CRC when no head is stored.
  const size_t mask = record.size() - 5;
  for (const auto& [at, value] :
       {std::pair<size_t, char>{stale, 2}, std::pair<size_t, char>{mask, 0x40}}) {
    std::string bad = record.substr(0, record.size() - 4);
    bad[at] = value;
    Put<uint32_t>(&bad, codec::Crc32c(bad));
    Status s = DecodeCheckpointRecord(bad, &back);
    REQUIRE(s.code() == StatusCode::kCorruption);
    REQUIRE(s.message() == "checkpoint record with an invalid flag");
  }
}

}  // namespace
}  // namespace promewma::store
