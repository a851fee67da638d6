#include "store/checkpoint_record.h"

#include <cstring>

#include "codec/crc32c.h"
#include "store/record_fields.h"

namespace promewma::store {
namespace {

constexpr uint8_t kVersion = 2;
// Before params and head_start; derived heads were stored.
constexpr uint8_t kVersionWithDerivedHeads = 1;

}  // namespace

void EncodeCheckpointRecord(const ewma::SeriesSnapshot& s, std::string* out) {
  const size_t start = out->size();
  PutField<uint8_t>(out, kVersion);
  PutBytesField(out, s.labels);
  PutStateFields(out, s.state);
  PutField(out, s.latest_ms);
  PutField<uint8_t>(out, s.latest.present);
  PutField<uint8_t>(out, s.latest.stale ? 1 : 0);
  for (double v : s.latest.value) PutField(out, v);
  PutParamsFields(out, s.params);
  PutStateFields(out, s.head_start);
  uint8_t mask = 0;
  for (int k = 0; k < ewma::kStoredKinds; ++k) {
    if (!s.heads[k].empty()) mask |= static_cast<uint8_t>(1u << k);
  }
  PutField<uint8_t>(out, mask);
  for (int k = 0; k < ewma::kStoredKinds; ++k) {
    if (!s.heads[k].empty()) PutBytesField(out, s.heads[k]);
  }
  PutField<uint32_t>(out, codec::Crc32c(std::string_view(*out).substr(start)));
}

Status DecodeCheckpointRecord(std::string_view record,
                              ewma::SeriesSnapshot* s) {
  if (record.size() < 5) {
    return Status::Corruption("checkpoint record too short (" +
                              std::to_string(record.size()) + " bytes)");
  }
  uint32_t crc;
  std::memcpy(&crc, record.data() + record.size() - 4, 4);
  std::string_view body = record.substr(0, record.size() - 4);
  if (codec::Crc32c(body) != crc) {
    return Status::Corruption("checkpoint record checksum mismatch");
  }
  FieldReader r(body);
  const uint8_t version = r.Get<uint8_t>();
  if (version != kVersion && version != kVersionWithDerivedHeads) {
    return Status::Corruption("checkpoint record of an unknown version " +
                              std::to_string(version));
  }
  s->labels.assign(r.GetBytes());
  r.GetState(&s->state);
  s->latest_ms = r.Get<int64_t>();
  s->latest.present = r.Get<uint8_t>();
  const uint8_t stale = r.Get<uint8_t>();
  s->latest.stale = stale == 1;
  for (double& v : s->latest.value) v = r.Get<double>();
  s->params = ewma::EstimatorParams();
  s->head_start = ewma::EstimatorState();
  if (version == kVersion) {
    r.GetParams(&s->params);
    r.GetState(&s->head_start);
  }
  const uint8_t mask = r.Get<uint8_t>();
  // Values no writer produces: a record that still passed its checksum
  // was not written by promewma.
  if (stale > 1 || (mask >> ewma::kStoredKinds) != 0) {
    return Status::Corruption("checkpoint record with an invalid flag");
  }
  for (int k = 0; k < ewma::kStoredKinds; ++k) {
    if (mask & (1u << k)) {
      s->heads[k].assign(r.GetBytes());
    } else {
      s->heads[k].clear();
    }
  }
  if (!r.ok() || !r.done()) {
    return Status::Corruption("checkpoint record fields do not add up");
  }
  return Status::Ok();
}

}  // namespace promewma::store
