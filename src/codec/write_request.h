// Zero-copy decoder for the remote-write 1.0 `prometheus.WriteRequest`.
//
// Why hand-written: the receiver's cost is dominated by decoding. Prometheus
// sends one sample per TimeSeries, so a 500-sample request carries 500 label
// sets; libprotobuf would allocate a std::string per label name and value.
// This decoder allocates nothing per sample once its buffers have grown: label
// sets are string_views into the decompressed body whenever the sender wrote
// them in canonical form (src/model/labels.h), which Prometheus always does.
// tests/codec/write_request_test.cc checks it against libprotobuf on random
// and mutated messages.
//
// What it checks: wire-format integrity. Label sets that are not in
// canonical form are re-encoded, and validated on the way (names, metric
// name, UTF-8 values, duplicates, __name__). Canonical label sets are *not*
// validated here: nearly every one belongs to a series the engine already
// knows (and validated when it first appeared), so the engine validates only
// the new ones, with ValidateSeriesLabels, before it applies anything.
// Samples are passed through as they are: NaN, stale markers and ordering
// are the engine's business.
//
// Thread-safety: DecodedWriteRequest is not thread-safe; use one per thread
// (the HTTP layer keeps one per worker and reuses it).

#ifndef PROMEWMA_CODEC_WRITE_REQUEST_H_
#define PROMEWMA_CODEC_WRITE_REQUEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/labels.h"
#include "promewma/status.h"

namespace promewma::codec {

struct DecodedSample {
  int64_t timestamp_ms;
  double value;
};

struct DecodedSeries {
  // Canonical label-set encoding; points into the decoded body or into the
  // request's own scratch buffer.
  std::string_view labels;
  uint64_t labels_hash;  // model::HashLabelSet(labels)
  // False when the label set still has to pass ValidateSeriesLabels.
  bool labels_validated;
  // Samples are DecodedWriteRequest::samples[first_sample, +sample_count),
  // in the order the sender wrote them.
  uint32_t first_sample;
  uint32_t sample_count;
};

class DecodedWriteRequest {
 public:
  // Forgets the previous request but keeps the buffers' capacity.
  void Clear();

  std::vector<DecodedSeries> series;
  std::vector<DecodedSample> samples;
  uint64_t metadata_count = 0;   // MetricMetadata entries (ignored)
  uint64_t histogram_count = 0;  // native histogram samples (not processed)
  uint64_t exemplar_count = 0;   // exemplars (ignored)

 private:
  friend Status DecodeWriteRequest(std::string_view, DecodedWriteRequest*);

  // Re-encoded label sets of senders that did not write canonical form.
  std::string scratch_;
  // Per-series offset into scratch_ (or kInBody): views into scratch_ are
  // made only after decoding, since scratch_ may reallocate while it grows.
  std::vector<uint32_t> scratch_offsets_;
  std::vector<model::Label> labels_;  // the series being decoded
};

// Decodes a serialized WriteRequest. `body` must outlive *out's views.
// On error *out is left cleared-or-partial and must not be applied.
Status DecodeWriteRequest(std::string_view body, DecodedWriteRequest* out);

// Validates the labels of request.series[index] (see above). The message
// names the TimeSeries index: "timeseries[3]: invalid label name ...".
Status ValidateSeriesLabels(const DecodedWriteRequest& request, size_t index);

}  // namespace promewma::codec

#endif  // PROMEWMA_CODEC_WRITE_REQUEST_H_
