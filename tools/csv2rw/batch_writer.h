// Batches for csv2rw: the rows of a SeriesBuilder cut into remote-write
// requests, and where those requests go.
//
// WriteBatches takes the rows in send order (by time, then series) and cuts
// them into batches of at most --batch-size samples. Within a batch the
// samples are grouped by series (series in first-seen order, each series'
// samples in time order), so a series is one TimeSeries per request, as
// Prometheus' own remote write does it. Batches go to the sink one after
// the other, in order: a batch is not started before the previous one was
// taken, so each series' samples arrive in time order.
//
// Sinks:
//   RemoteWriteSink  --url: POSTs through remote::RemoteWriteClient
//                    (the write-back client), retrying 5xx, 429 and network
//                    errors with remote::Backoff (capped exponential,
//                    honouring Retry-After) for at most max_retry_duration;
//                    any other status fails the run with the server's
//                    one-line reason.
//   DirectorySink    --out DIR: each body in its own numbered file,
//                    batch-00000000.snappy, batch-00000001.snappy, ... (the
//                    exact bytes that would be POSTed), plus all of them in
//                    connection-0.rwb, rwbench's format (per body a
//                    little-endian u32 length and the bytes), so that
//                    `rwbench write --url URL --in DIR` replays them.
//   MemorySink       keeps the bodies (tests, benchmarks).
//
// Thread-safety: sinks are not thread-safe; one backfill uses one sink.

#ifndef PROMEWMA_TOOLS_CSV2RW_BATCH_WRITER_H_
#define PROMEWMA_TOOLS_CSV2RW_BATCH_WRITER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "csv2rw/progress.h"
#include "csv2rw/series_builder.h"
#include "promewma/status.h"
#include "remote/backoff.h"
#include "remote/remote_write_client.h"

namespace promewma::csv2rw {

class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Takes one snappy-compressed WriteRequest holding `samples` samples. A
  // non-OK status stops the run; its message is one line.
  virtual Status Write(std::string_view body, size_t samples) = 0;
  // Called once after the last Write.
  virtual Status Close() { return Status::Ok(); }
};

class MemorySink : public BatchSink {
 public:
  Status Write(std::string_view body, size_t samples) override {
    bodies.emplace_back(body);
    samples_written += samples;
    return Status::Ok();
  }
  std::vector<std::string> bodies;
  uint64_t samples_written = 0;
};

class DirectorySink : public BatchSink {
 public:
  // Creates `dir` when missing. Refuses a directory that already holds
  // batch files: replaying it would mix two runs.
  static Result<std::unique_ptr<DirectorySink>> Open(const std::string& dir);
  ~DirectorySink() override;

  Status Write(std::string_view body, size_t samples) override;
  Status Close() override;

  // REQUIRES: Close() has returned.
  uint64_t files() const { return next_; }
  // The name of batch file `index` ("batch-00000042.snappy").
  static std::string BatchFileName(uint64_t index);

 private:
  // Creating a file costs ~0.2 ms of kernel time on some filesystems, as
  // much as parsing and encoding a whole batch, so the files are written
  // by a thread of their own while the next batches are encoded. The queue
  // is bounded, so memory stays a few bodies deep.
  static constexpr size_t kMaxQueued = 64;

  explicit DirectorySink(std::string dir) : dir_(std::move(dir)) {}
  void WriteFiles();  // the writer thread
  Status WriteOne(std::string_view body);

  const std::string dir_;
  uint64_t next_ = 0;        // number of the next batch file (writer thread)
  FILE* rwbench_ = nullptr;  // connection-0.rwb (writer thread)
  std::thread thread_;       // started by the first Write

  std::mutex mu_;
  std::condition_variable ready_;  // a body was queued, or closed_
  std::condition_variable room_;   // a body was written, or error_
  std::deque<std::string> queue_;  // guarded by mu_
  bool closed_ = false;            // guarded by mu_
  Status error_;                   // the writer's first failure; mu_
};

struct RetryPolicy {
  remote::BackoffConfig backoff;
  // A batch still failing after this long fails the run. Prometheus'
  // write-back default (promewma's max_retry_duration) is 5m as well.
  std::chrono::milliseconds max_retry_duration{5 * 60 * 1000};
};

// What RemoteWriteSink waits with; tests replace both.
struct RetryClock {
  std::function<std::chrono::steady_clock::time_point()> now = [] {
    return std::chrono::steady_clock::now();
  };
  std::function<void(std::chrono::milliseconds)> sleep;  // empty: real sleep
};

class RemoteWriteSink : public BatchSink {
 public:
  // `url` is only used in messages. `sender` must outlive the sink.
  RemoteWriteSink(remote::Sender* sender, std::string url,
                  RetryPolicy policy, RetryClock clock = {});

  Status Write(std::string_view body, size_t samples) override;

  uint64_t requests() const { return requests_; }  // acknowledged
  uint64_t retries() const { return retries_; }    // attempts repeated

 private:
  remote::Sender* sender_;
  std::string url_;
  RetryPolicy policy_;
  RetryClock clock_;
  remote::Backoff backoff_;
  uint64_t requests_ = 0;
  uint64_t retries_ = 0;
};

// Encodes the rows of `series` (after Finish) into batches of at most
// `batch_size` samples and writes them to `sink` in order, stopping at the
// first failure. *samples_written counts the samples the sink took.
// `progress` is updated per batch; the caller starts it (work: samples).
// REQUIRES: batch_size > 0
Status WriteBatches(const SeriesBuilder& series, size_t batch_size,
                    BatchSink* sink, ProgressBar* progress,
                    uint64_t* samples_written);

// "500ms", "30s", "5m", "1h30m": durations in messages.
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_BATCH_WRITER_H_
