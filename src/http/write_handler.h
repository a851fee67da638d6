// RemoteWriteHandler: POST /api/v1/write (remote write 1.0) as a function
// from a request view to a response, over the database.
//
//   415  Content-Encoding other than snappy, or a Content-Type other than
//        application/x-protobuf (remote write 2.0 included)
//   413  body over limits.max_request_bytes, or a declared decoded size over
//        limits.max_decoded_bytes (checked before decompressing), or more
//        series than limits.max_series_per_request: nothing applied
//   400  bad snappy or protobuf, invalid labels, a new series over
//        limits.max_labels_per_series, max_label_name_length or
//        max_label_value_length: nothing applied;
//        out-of-order / conflicting samples: the rest applied, the message
//        names the first bad series
//   503  the request log could not take the request, promewma is replaying
//        its log, or the write-back backlog has no room for the request's
//        series: nothing applied, Retry-After set, the sender's retry is
//        exact
//   429  new series over limits.max_active_series: they are not created
//        and their samples are dropped; the samples of known series are
//        applied (a retry repeats them as identical duplicates). Retry-After
//   204  everything else, metadata-only requests included
//
// Thread-safety: Handle() may run on many threads at once; each thread
// decodes into its own buffers.

#ifndef PROMEWMA_HTTP_WRITE_HANDLER_H_
#define PROMEWMA_HTTP_WRITE_HANDLER_H_

#include <cstdint>

#include "head/head.h"
#include "http/http_types.h"
#include "http/self_metrics.h"
#include "db/database.h"

namespace promewma::http {

struct WriteLimits {
  uint64_t max_request_bytes = 16 << 20;
  uint64_t max_decoded_bytes = 64 << 20;
  uint64_t max_series_per_request = 100'000;
};

class RemoteWriteHandler {
 public:
  // REQUIRES: db and metrics outlive the handler.
  RemoteWriteHandler(db::Database* db, WriteMetrics* metrics,
                     WriteLimits limits);

  // Under the limits given at construction.
  HttpResponse Handle(const HttpRequest& request) const;
  // Under `limits`: the server passes the limits in force when the request
  // started, so that a reload changes them for the next request only.
  HttpResponse Handle(const HttpRequest& request,
                      const WriteLimits& limits) const;

 private:
  // Counts result.refusal, if any, in metrics_->requests_refused.
  void CountRefusal(const head::ApplyResult& result) const;

  db::Database* const db_;
  WriteMetrics* const metrics_;
  const WriteLimits limits_;
};

// Content-Encoding must be snappy (or absent); `what` names the body in the
// message, e.g. "remote read requests".
Status CheckSnappyEncoding(std::string_view content_encoding,
                           std::string_view what);

// Checks the headers of a remote-write 1.0 request (exposed for tests).
Status CheckRemoteWriteHeaders(std::string_view content_type,
                               std::string_view content_encoding);

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_WRITE_HANDLER_H_
