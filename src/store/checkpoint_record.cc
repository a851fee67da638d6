#include "store/checkpoint_record.h"

#include <cstring>

#include "codec/crc32c.h"

namespace promewma::store {
namespace {

constexpr uint8_t kVersion = 2;
// Before params and head_start; derived heads were stored.
constexpr uint8_t kVersionWithDerivedHeads = 1;

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // little-endian on every target we build
  out->append(buf, sizeof(T));
}

void PutBytes(std::string* out, std::string_view bytes) {
  Put<uint32_t>(out, static_cast<uint32_t>(bytes.size()));
  out->append(bytes);
}

// Reads fields front to back; any overrun makes ok() false.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  T Get() {
    T v{};
    if (in_.size() < sizeof(T)) {
      ok_ = false;
      return v;
    }
    std::memcpy(&v, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return v;
  }
  std::string_view GetBytes() {
    const uint32_t n = Get<uint32_t>();
    if (!ok_ || in_.size() < n) {
      ok_ = false;
      return {};
    }
    std::string_view v = in_.substr(0, n);
    in_.remove_prefix(n);
    return v;
  }
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
  bool ok_ = true;
};

void PutState(std::string* out, const ewma::EstimatorState& state) {
  Put(out, state.mean);
  Put(out, state.spread);
  Put(out, state.weight_sq);
  Put(out, state.count);
  Put(out, state.last_sample_ms);
  Put(out, state.last_timestamp_ms);
  Put(out, state.last_value_bits);
}

void GetState(Reader* r, ewma::EstimatorState* state) {
  state->mean = r->Get<double>();
  state->spread = r->Get<double>();
  state->weight_sq = r->Get<double>();
  state->count = r->Get<uint64_t>();
  state->last_sample_ms = r->Get<int64_t>();
  state->last_timestamp_ms = r->Get<int64_t>();
  state->last_value_bits = r->Get<uint64_t>();
}

}  // namespace

void EncodeCheckpointRecord(const ewma::SeriesSnapshot& s, std::string* out) {
  const size_t start = out->size();
  Put<uint8_t>(out, kVersion);
  PutBytes(out, s.labels);
  PutState(out, s.state);
  Put(out, s.latest_ms);
  Put<uint8_t>(out, s.latest.present);
  Put<uint8_t>(out, s.latest.stale ? 1 : 0);
  for (double v : s.latest.value) Put(out, v);
  Put(out, s.params.alpha);
  Put(out, s.params.half_life_ms);
  Put(out, s.params.k);
  Put(out, s.params.min_samples);
  Put(out, s.params.reset_after_ms);
  Put<uint8_t>(out, static_cast<uint8_t>(s.params.threshold_basis));
  Put<uint8_t>(out, s.params.outputs);
  PutState(out, s.head_start);
  uint8_t mask = 0;
  for (int k = 0; k < ewma::kStoredKinds; ++k) {
    if (!s.heads[k].empty()) mask |= static_cast<uint8_t>(1u << k);
  }
  Put<uint8_t>(out, mask);
  for (int k = 0; k < ewma::kStoredKinds; ++k) {
    if (!s.heads[k].empty()) PutBytes(out, s.heads[k]);
  }
  Put<uint32_t>(out, codec::Crc32c(std::string_view(*out).substr(start)));
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
  Reader r(body);
  const uint8_t version = r.Get<uint8_t>();
  if (version != kVersion && version != kVersionWithDerivedHeads) {
    return Status::Corruption("checkpoint record of an unknown version " +
                              std::to_string(version));
  }
  s->labels.assign(r.GetBytes());
  GetState(&r, &s->state);
  s->latest_ms = r.Get<int64_t>();
  s->latest.present = r.Get<uint8_t>();
  s->latest.stale = r.Get<uint8_t>() != 0;
  for (double& v : s->latest.value) v = r.Get<double>();
  s->params = ewma::EstimatorParams();
  s->head_start = ewma::EstimatorState();
  if (version == kVersion) {
    s->params.alpha = r.Get<double>();
    s->params.half_life_ms = r.Get<int64_t>();
    s->params.k = r.Get<double>();
    s->params.min_samples = r.Get<uint32_t>();
    s->params.reset_after_ms = r.Get<int64_t>();
    const uint8_t basis = r.Get<uint8_t>();
    if (basis > static_cast<uint8_t>(ewma::ThresholdBasis::kPosterior)) {
      return Status::Corruption("checkpoint record with an unknown basis");
    }
    s->params.threshold_basis = static_cast<ewma::ThresholdBasis>(basis);
    s->params.outputs = r.Get<uint8_t>();
    GetState(&r, &s->head_start);
  }
  const uint8_t mask = r.Get<uint8_t>();
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
