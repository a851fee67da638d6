#include "store/checkpoint_record.h"


#include "codec/crc32c.h"
#include "store/record_fields.h"

namespace promewma::store {
namespace {

constexpr uint8_t kVersion = kRecordFieldsVersion;

}  // namespace

void EncodeCheckpointRecord(const head::SeriesSnapshot& s, std::string* out) {
  const size_t start = out->size();
  PutFixed<uint8_t>(out, kVersion);
  PutBytesField(out, s.labels);
  PutStateFields(out, s.state, s.params.season_slots);
  PutFixed(out, s.latest_ms);
  PutFixed<uint8_t>(out, s.latest.present);
  PutFixed<uint8_t>(out, s.latest.stale ? 1 : 0);
  for (double v : s.latest.value) PutFixed(out, v);
  PutParamsFields(out, s.params);
  PutStateFields(out, s.head_start, s.params.season_slots);
  PutBytesField(out, s.head);
  PutFixed<uint32_t>(out, codec::Crc32c(std::string_view(*out).substr(start)));
}

Status DecodeCheckpointRecord(std::string_view record,
                              head::SeriesSnapshot* s) {
  if (record.size() < 5) {
    return Status::Corruption("checkpoint record too short (" +
                              std::to_string(record.size()) + " bytes)");
  }
  const uint32_t crc = DecodeFixed32(record.data() + record.size() - 4);
  std::string_view body = record.substr(0, record.size() - 4);
  if (codec::Crc32c(body) != crc) {
    return Status::Corruption("checkpoint record checksum mismatch");
  }
  FieldReader r(body);
  const uint8_t version = r.Get<uint8_t>();
  // Versions 1 and 2 (before the spread, transform and season fields) are
  // still read: a data directory outlives the build that wrote it.
  if (version < 1 || version > kVersion) {
    return Status::Corruption("checkpoint record of an unknown version " +
                              std::to_string(version));
  }
  s->labels.assign(r.GetBytes());
  r.GetState(&s->state, version);
  s->latest_ms = r.Get<int64_t>();
  s->latest.present = r.Get<uint8_t>();
  const uint8_t stale = r.Get<uint8_t>();
  s->latest.stale = stale == 1;
  for (double& v : s->latest.value) v = r.Get<double>();
  r.GetParams(&s->params, version);
  r.GetState(&s->head_start, version);
  s->head.assign(r.GetBytes());
  // A value no writer produces: a record that still passed its checksum
  // was not written by promewma.
  if (stale > 1) {
    return Status::Corruption("checkpoint record with an invalid flag");
  }
  if (!r.ok() || !r.done()) {
    return Status::Corruption("checkpoint record fields do not add up");
  }
  return Status::Ok();
}

}  // namespace promewma::store
