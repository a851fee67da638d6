// Batch encoder: turns a batch of derived samples into the body of one
// remote-write 1.0 request, by hand over protowire (no libprotobuf on this
// path: the labels are already wire bytes, so building the message is
// appending).
//
// Wire format written (prometheus/prompb/remote.proto, types.proto):
//
//   WriteRequest := (0x0a varint(len) TimeSeries)*       timeseries = 1
//   TimeSeries   := labels (0x0a ... entries, see below)  labels     = 1
//                   (0x12 varint(len) Sample)+            samples    = 2
//   Sample       := 0x09 fixed64(value bits)              value      = 1
//                   0x10 varint(timestamp as uint64)      timestamp  = 2
//
// `labels` of an OutgoingSample is the canonical label-set encoding of
// src/model/labels.h, which is byte for byte the repeated Label field 1 of a
// TimeSeries; it is copied as is. Both Sample fields are always written,
// zeros included (legal, and a reader cannot tell the difference).
// Consecutive samples with identical label bytes share one TimeSeries; the
// caller groups a batch by series first if it wants fewer, larger series.
// The body is then snappy block compressed, as remote write 1.0 requires.
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_WRITEBACK_BATCH_ENCODER_H_
#define PROMEWMA_WRITEBACK_BATCH_ENCODER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace promewma::remote {

struct OutgoingSample {
  std::string_view labels;  // canonical encoding; not owned
  int64_t timestamp_ms;
  double value;  // any bits, stale-marker NaN included, are sent unchanged
  // Non-empty: the series is `labels` with this appended to __name__.
  std::string_view name_suffix = {};
};

// The uncompressed WriteRequest bytes for `samples`, in their order, into
// *out (replacing its contents, reusing its capacity).
void EncodeWriteRequest(const std::vector<OutgoingSample>& samples,
                        std::string* out);

// EncodeWriteRequest, snappy block compressed: a ready remote-write body,
// in buffers the encoder keeps: a sender thread encodes
// batch after batch of about the same size, and fresh buffers would cost
// an allocation and a zero-fill of a few hundred KiB each time.
//
// Thread-safety: none; one per sender thread.
class BatchEncoder {
 public:
  // The snappy-compressed body; valid until the next call.
  std::string_view EncodeSnappy(const std::vector<OutgoingSample>& samples);

 private:
  std::string raw_;
  std::unique_ptr<char[]> compressed_;
  size_t compressed_capacity_ = 0;
};

}  // namespace promewma::remote

#endif  // PROMEWMA_WRITEBACK_BATCH_ENCODER_H_
