// RecordFields: the field encodings shared by promewma's own record
// formats (checkpoint records, chunk derivations): fixed-width integers
// little-endian, doubles as their IEEE 754 bits, byte strings behind a u32
// length, and the estimator's parameters and state as fixed field lists.
//
//   state:  f64 mean, f64 spread, f64 weight_sq, u64 count,
//           i64 last_sample_ms, i64 last_timestamp_ms, u64 last_value_bits,
//           i64 season_start_ms, u8 n, n x u16 season slots (bfloat16)
//   params: f64 alpha, i64 half_life_ms, f64 k, u32 min_samples,
//           i64 reset_after_ms, u8 threshold_basis, u8 outputs,
//           u8 spread, f64 spread_alpha, u8 transform,
//           u8 season_slots, f64 season_alpha, i64 season_min_history_ms
//
// A state writes as many season slots as its parameters use (n =
// season_slots, 0 without a season), so a record costs 2 bytes a slot only
// where a season is on.
//
// Versions: 3 is the above. 2 has no season fields (state and params end
// before them); 1 also lacks spread, spread_alpha and transform. Older
// versions read as the values their writers ran with (no season, ewm_std,
// no transform), whatever the defaults are now.
//
// Thread-safety: a FieldReader is used by one thread; the rest is pure.

#ifndef PROMEWMA_STORE_RECORD_FIELDS_H_
#define PROMEWMA_STORE_RECORD_FIELDS_H_

#include <string>
#include <string_view>

#include "common/coding.h"
#include "ewma/estimator_params.h"
#include "ewma/series_estimator.h"

namespace promewma::store {

void PutBytesField(std::string* out, std::string_view bytes);
// The version the Put functions write.
inline constexpr int kRecordFieldsVersion = 3;

// Writes `season_slots` season slots (the parameters' season_slots).
void PutStateFields(std::string* out, const ewma::EstimatorState& state,
                    int season_slots);
void PutParamsFields(std::string* out, const ewma::EstimatorParams& params);

// Reads fields front to back. Any overrun, or a value no writer produces,
// makes ok() false; what it returns then is zero.
class FieldReader {
 public:
  explicit FieldReader(std::string_view in) : in_(in) {}

  template <typename T>
  T Get() {
    T v{};
    if (in_.size() < sizeof(T)) {
      ok_ = false;
      return v;
    }
    v = DecodeFixed<T>(in_.data());
    in_.remove_prefix(sizeof(T));
    return v;
  }
  std::string_view GetBytes();
  // `version`: of the record (see above); older fields read as their
  // writers' values.
  void GetState(ewma::EstimatorState* state, int version);
  void GetParams(ewma::EstimatorParams* params, int version);
  // Steps over the fields GetState would read, decoding only the season
  // slot count (the slots themselves are what costs): for a reader that
  // needs what follows them. Refuses what GetState refuses.
  void SkipState(int version);

  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  std::string_view rest() const { return in_; }

 private:
  void Skip(size_t n);

  std::string_view in_;
  bool ok_ = true;
};

}  // namespace promewma::store

#endif  // PROMEWMA_STORE_RECORD_FIELDS_H_
