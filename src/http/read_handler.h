// RemoteReadHandler: POST /api/v1/read (Prometheus remote read) over the
// stored raw and derived series.
//
// Each query's matchers select stored series: every processed input series
// NAME{labels} stores NAME{labels} (its raw samples) and NAME:<output>{labels}
// for each configured output. Results come in query order, each series with
// its labels sorted and the series sorted by label set, samples in time
// order, the time range inclusive.
//
// Response types, negotiated from accepted_response_types as Prometheus does:
//   SAMPLES              snappy ReadResponse (what Prometheus 2.42 asks for)
//   STREAMED_XOR_CHUNKS  frames of ChunkedReadResponse, one series per
//                        frame (split when over 1 MiB); stored chunks that
//                        lie inside the range are sent as they are
//
//   400  undecodable request, bad matcher, a query over
//        limits.max_samples_per_query (checked before the response is built)
//   413  body or declared decoded size over the limits
//   415  wrong Content-Type / Content-Encoding
//   500  a stored chunk failed its checksum (the message names it)
//
// Thread-safety: Handle() may run on many threads at once. A SAMPLES read
// of many series starts one helper thread besides the caller's, so a
// request uses at most two threads (the machines it is sized for have two
// cores, and concurrent requests share them anyway).

#ifndef PROMEWMA_HTTP_READ_HANDLER_H_
#define PROMEWMA_HTTP_READ_HANDLER_H_

#include <cstdint>

#include "http/http_types.h"
#include "db/database.h"

namespace promewma::http {

struct ReadLimits {
  uint64_t max_request_bytes = 16 << 20;
  uint64_t max_decoded_bytes = 64 << 20;
  uint64_t max_samples_per_query = 50'000'000;
};

class RemoteReadHandler {
 public:
  // REQUIRES: db outlives the handler.
  RemoteReadHandler(db::Database* db, ReadLimits limits);

  HttpResponse Handle(const HttpRequest& request) const;

 private:
  db::Database* const db_;
  const ReadLimits limits_;
};

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_READ_HANDLER_H_
