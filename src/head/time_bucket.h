// Time buckets: the store's unit of retention. A head chunk never spans two
// buckets (the head seals it at a bucket's end), chunks are keyed by bucket
// first, so retention deletes whole buckets as one key range.
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_HEAD_TIME_BUCKET_H_
#define PROMEWMA_HEAD_TIME_BUCKET_H_

#include <cstdint>

namespace promewma::head {

// Two hours, like a Prometheus head block.
inline constexpr int64_t kDefaultChunkBucketMs = 2 * 3600 * 1000;

// The bucket holding `timestamp_ms`: floor(timestamp_ms / bucket_ms), for
// negative timestamps too (a backfill may reach before 1970).
// REQUIRES: bucket_ms > 0.
inline int64_t BucketOf(int64_t timestamp_ms, int64_t bucket_ms) {
  return timestamp_ms / bucket_ms - (timestamp_ms % bucket_ms < 0 ? 1 : 0);
}

// The first millisecond of the bucket holding `timestamp_ms`.
inline int64_t BucketStartOf(int64_t timestamp_ms, int64_t bucket_ms) {
  return BucketOf(timestamp_ms, bucket_ms) * bucket_ms;
}

}  // namespace promewma::head

#endif  // PROMEWMA_HEAD_TIME_BUCKET_H_
