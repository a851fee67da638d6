// FederateHandler: GET /federate?match[]=SELECTOR..., the latest value of
// every matching input and derived series, in the Prometheus text format
// (0.0.4) with each sample's own timestamp, as Prometheus' federation
// endpoint serves it. Scraped with `honor_labels: true` it reproduces the
// series with their own labels.
//
// The answer is built in two steps: Select finds the matching series and
// their latest samples under the head's shard locks, one shard at a time,
// and sorts them into metric families (about 40 bytes a series, not the
// text); FederateBody then writes the text a piece at a time, so a large
// answer streams instead of becoming one string.
//
// Series whose latest input sample is a stale marker are left out, as
// Prometheus leaves out stale series.
//
// Thread-safety: Select is thread-safe; a FederateBody is used by one
// thread.

#ifndef PROMEWMA_HTTP_FEDERATE_HANDLER_H_
#define PROMEWMA_HTTP_FEDERATE_HANDLER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "head/head.h"
#include "promewma/status.h"

namespace promewma::http {

inline constexpr char kFederateContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

// One selected series and its latest sample.
struct FederatedSample {
  model::LabelSetView input;  // the input series; owned by the body
  int8_t output;              // -1: the input series itself; else an Output
  int64_t timestamp_ms;
  double value;
};

class FederateBody {
 public:
  // `labels` holds the bytes the samples' label views point into: a body
  // may be streamed for a while, and the head may drop a series meanwhile.
  FederateBody(std::vector<FederatedSample> samples,
               std::deque<std::string> labels)
      : samples_(std::move(samples)), labels_(std::move(labels)) {}

  // Replaces *piece with the next part of the answer, whole lines of about
  // kPieceBytes; false once everything has been written.
  bool Next(std::string* piece);

  size_t series() const { return samples_.size(); }

  static constexpr size_t kPieceBytes = 64 << 10;

 private:
  const std::vector<FederatedSample> samples_;  // in family order
  const std::deque<std::string> labels_;        // their input label sets
  size_t next_ = 0;
};

class FederateHandler {
 public:
  // REQUIRES: head outlives the handler and every body it returns.
  explicit FederateHandler(const head::Head* head) : head_(head) {}

  // The answer to GET /federate with these match[] values. InvalidArgument
  // (400) when there is none, or one that is not a PromQL series selector.
  Result<std::unique_ptr<FederateBody>> Select(
      const std::vector<std::string>& match) const;

 private:
  const head::Head* const head_;
};

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_FEDERATE_HANDLER_H_
