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
//   503  limits.max_concurrent_reads reads in progress already; Retry-After
//   500  a stored chunk failed its checksum (the message names it)
//
// Thread-safety: Handle() may run on many threads at once. A read runs on
// its caller's thread alone: one on a helper thread as well was 5-10%
// faster with the machine to itself, and held writes up meanwhile (the
// soak's write p99.9 11-15 ms against 9).

#ifndef PROMEWMA_HTTP_READ_HANDLER_H_
#define PROMEWMA_HTTP_READ_HANDLER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "http/http_types.h"
#include "common/heap_trimmer.h"
#include "db/database.h"

namespace promewma::http {

struct ReadMetrics;  // self_metrics.h (kept out: prometheus-cpp's namespace
                     // clashes with the protobuf messages' in tests)

struct ReadLimits {
  uint64_t max_request_bytes = 16 << 20;
  uint64_t max_decoded_bytes = 64 << 20;
  uint64_t max_samples_per_query = 50'000'000;
  // Reads answered at once; one more gets 503 + Retry-After at once (the
  // event loop that read it is not held). Prometheus'
  // --storage.remote.read-concurrent-limit, with its default; 0: no limit.
  int max_concurrent_reads = 10;
};

// Counts the reads in progress against limits.max_concurrent_reads.
class ReadGate {
 public:
  explicit ReadGate(int limit) : limit_(limit) {}
  // A slot, held until the ticket is destroyed; empty when all are taken.
  class Ticket {
   public:
    Ticket() = default;
    explicit Ticket(ReadGate* gate) : gate_(gate) {}
    Ticket(Ticket&& other) noexcept : gate_(other.gate_) {
      other.gate_ = nullptr;
    }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (gate_ != nullptr) gate_->in_flight_.fetch_sub(1);
    }
    explicit operator bool() const { return gate_ != nullptr; }

   private:
    ReadGate* gate_ = nullptr;
  };
  Ticket TryEnter() { return TryEnter(limit_); }
  // Against `limit` rather than the constructor's: a reload lowers or
  // raises the cap for the reads that start from then on, while those in
  // progress keep their slot.
  Ticket TryEnter(int limit) {
    if (limit > 0 && in_flight_.fetch_add(1) >= limit) {
      in_flight_.fetch_sub(1);
      return Ticket();
    }
    if (limit <= 0) in_flight_.fetch_add(1);
    return Ticket(this);
  }
  int in_flight() const { return in_flight_.load(); }

 private:
  const int limit_;
  std::atomic<int> in_flight_{0};
};

// The bytes of stored chunks that streamed SAMPLES reads keep between
// sizing their series and encoding them, one budget for all reads in
// flight: a read keeps a series' chunks while the budget has room and
// reads the others again.
class ChunkBudget {
 public:
  explicit ChunkBudget(size_t bytes) : left_(bytes) {}
  // Takes `bytes`, or nothing (false) when fewer are left.
  bool TryTake(size_t bytes) {
    size_t left = left_.load();
    do {
      if (left < bytes) return false;
    } while (!left_.compare_exchange_weak(left, left - bytes));
    return true;
  }
  void Give(size_t bytes) { left_.fetch_add(bytes); }
  size_t left() const { return left_.load(); }

 private:
  std::atomic<size_t> left_;
};

// Chunk bytes kept by all streamed reads at once: the chunks of 1,000
// series x 1 h at 10 s of CPU-like values take 2.9 MB.
constexpr size_t kKeptChunkBudgetBytes = 8 << 20;

class RemoteReadHandler {
 public:
  // REQUIRES: db (and metrics and trimmer, when given) outlive the
  // handler. `trimmer` is told each response's size.
  RemoteReadHandler(db::Database* db, ReadLimits limits,
                    ReadMetrics* metrics = nullptr,
                    HeapTrimmer* trimmer = nullptr);

  // Under the limits given at construction.
  HttpResponse Handle(const HttpRequest& request) const;
  // Under `limits`, those in force when the request started (the server's
  // after a reload); the concurrency cap counts every read of this handler.
  HttpResponse Handle(const HttpRequest& request,
                      const ReadLimits& limits) const;

  // The two steps of Handle apart, for a caller that takes the slot on one
  // thread and reads on another (the server: its event loop admits, a
  // query thread reads), so that a read waiting for a thread holds its
  // slot and the cap stays exact. Admit returns an empty ticket and sets
  // *refused (the 503) when the cap is reached.
  ReadGate::Ticket Admit(const ReadLimits& limits,
                         HttpResponse* refused) const;
  // REQUIRES: `ticket` from Admit; it is held until the answer is sent.
  HttpResponse Handle(const HttpRequest& request, const ReadLimits& limits,
                      ReadGate::Ticket ticket) const;

  // The reads in progress (tests hold a slot to fill it).
  ReadGate& gate() const { return gate_; }
  // What streamed reads may keep of their chunks (tests watch it).
  ChunkBudget& kept_chunks() const { return kept_chunks_; }

 private:
  db::Database* const db_;
  const ReadLimits limits_;
  ReadMetrics* const metrics_;  // may be null
  HeapTrimmer* const trimmer_;   // may be null
  mutable ReadGate gate_;
  mutable ChunkBudget kept_chunks_{kKeptChunkBudgetBytes};
};

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_READ_HANDLER_H_
