// SeriesGate: what stands in front of Database::Ingest and may hold back
// the samples of some series, to apply them later through
// Database::IngestHeld. Warm start (warmstart/warm_start.h) holds the live
// samples of a series new to the process while it reads that series'
// history, so that the history's state comes before them.
//
// Held samples are acknowledged with their request, so they are logged
// with it: the database logs the whole request, held samples included,
// and applies only the rest. Until the gate has applied them (which logs
// them again), the checkpoint keeps that log record (OldestUnappliedRecord),
// so a crash replays them, cold.
//
// Thread-safety: Hold and Logged are called by every ingesting thread at
// once; OldestUnappliedRecord by the checkpointing thread.

#ifndef PROMEWMA_DB_SERIES_GATE_H_
#define PROMEWMA_DB_SERIES_GATE_H_

#include <cstdint>

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
  //     them now); the database logs the whole request and applies *rest,
  //     the request without them, then calls Logged. *rest stays valid
  //     until the calling thread's next Hold.
  //   Not OK (Unavailable): the request is refused whole, nothing held.
  virtual Status Hold(const codec::DecodedWriteRequest& request,
                      const codec::DecodedWriteRequest** rest) = 0;

  // The samples the calling thread's last Hold held are in log record
  // `seq`. Called under the database's lock, before the request is
  // acknowledged; not called when the request failed after Hold.
  virtual void Logged(uint64_t seq) = 0;

  // The oldest log record holding samples that are held still (or being
  // applied); 0 when there is none. The checkpoint keeps the log from it.
  virtual uint64_t OldestUnappliedRecord() const = 0;
};

}  // namespace promewma::db

#endif  // PROMEWMA_DB_SERIES_GATE_H_
