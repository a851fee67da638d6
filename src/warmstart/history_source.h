// HistorySource: where warm start reads a series' raw history from. The
// seam the warm-start tests replace with a fake; RemoteHistorySource reads
// it from a remote-read endpoint (remote/remote_read_client.h).
//
// Thread-safety: Read is called by one thread at a time (warm start makes
// one source per worker thread); Cancel may be called from any thread.

#ifndef PROMEWMA_WARMSTART_HISTORY_SOURCE_H_
#define PROMEWMA_WARMSTART_HISTORY_SOURCE_H_

#include <chrono>
#include <cstdint>
#include <string_view>

#include "promewma/status.h"
#include "remote/client_config.h"
#include "remote/remote_read_client.h"

namespace promewma::warmstart {

class HistorySource {
 public:
  virtual ~HistorySource() = default;
  // The samples of the series whose label set is exactly `labels`
  // (canonical encoding) in [start_ms, end_ms], in time order; an empty
  // series when the source has none. `timeout` bounds the read.
  virtual Result<remote::ReadSeries> Read(std::string_view labels,
                                          int64_t start_ms, int64_t end_ms,
                                          std::chrono::milliseconds timeout) = 0;
  // Aborts a Read in progress on another thread. Default: nothing to abort.
  virtual void Cancel() {}
};

// Reads with one remote-read query per series: an equality matcher for
// each of its labels. A source may hold series with more labels that
// match too; only the one with exactly these labels is the series.
class RemoteHistorySource : public HistorySource {
 public:
  // REQUIRES: remote::ValidateReadClientConfig(config).ok()
  explicit RemoteHistorySource(remote::ClientConfig config)
      : client_(std::move(config)) {}

  Result<remote::ReadSeries> Read(std::string_view labels, int64_t start_ms,
                                  int64_t end_ms,
                                  std::chrono::milliseconds timeout) override;
  void Cancel() override { client_.Cancel(); }

 private:
  remote::RemoteReadClient client_;
};

}  // namespace promewma::warmstart

#endif  // PROMEWMA_WARMSTART_HISTORY_SOURCE_H_
