// SeriesGate: what stands in front of Database::Ingest and may hold back
// the samples of some series, to apply them later through
// Database::IngestHeld. Warm start (warmstart/warm_start.h) holds the live
// samples of a series new to the process while it reads that series'
// history, so that the history's state comes before them.
//
// Thread-safety: Hold is called by every ingesting thread at once.

#ifndef PROMEWMA_DB_SERIES_GATE_H_
#define PROMEWMA_DB_SERIES_GATE_H_

#include <string_view>

#include "codec/write_request.h"
#include "promewma/status.h"

namespace promewma::db {

class SeriesGate {
 public:
  virtual ~SeriesGate() = default;

  // Called for each request before anything of it is logged or applied,
  // outside the database's lock.
  //   OK, *rest null: nothing held; the request goes on as it came.
  //   OK, *rest set: the samples of some series are held (the gate owns
  //     them now); the database logs and applies *rest, the request
  //     without them, whose snappy body is *rest_body. Both stay valid
  //     until the calling thread's next Hold.
  //   Not OK (Unavailable): the request is refused whole, nothing held.
  virtual Status Hold(const codec::DecodedWriteRequest& request,
                      const codec::DecodedWriteRequest** rest,
                      std::string_view* rest_body) = 0;
};

}  // namespace promewma::db

#endif  // PROMEWMA_DB_SERIES_GATE_H_
