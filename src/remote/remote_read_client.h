// RemoteReadClient: reads raw series from a remote-read 0.1.0 endpoint
// (Prometheus' /api/v1/read, VictoriaMetrics', promewma's) as SAMPLES: one
// query, its matchers, a time range. The backtest's history source and
// warm start's (warmstart/history_source.h) both read through it.
//
// The connection is configured like a remote-write target
// (client_config.h): url, remote_timeout, headers, basic_auth,
// authorization, tls_config (without server_name). Secret files are read
// at each Read, so a rotated credential is picked up.
//
// Thread-safety: Read is not thread-safe (one keep-alive connection per
// client); Cancel may be called from any thread.

#ifndef PROMEWMA_REMOTE_REMOTE_READ_CLIENT_H_
#define PROMEWMA_REMOTE_REMOTE_READ_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/matcher.h"
#include "promewma/status.h"
#include "remote/client_config.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace promewma::remote {

// One series of a remote-read answer.
struct ReadSeries {
  std::string labels;  // canonical label-set encoding (model/labels.h)
  // In time order, strictly increasing: samples out of order or repeated
  // in the answer are dropped. Values as sent (NaN and stale markers too).
  std::vector<int64_t> timestamps_ms;
  std::vector<double> values;
};

class RemoteReadClient {
 public:
  // REQUIRES: ValidateReadClientConfig(config).ok()
  explicit RemoteReadClient(ClientConfig config);
  ~RemoteReadClient();
  RemoteReadClient(const RemoteReadClient&) = delete;
  RemoteReadClient& operator=(const RemoteReadClient&) = delete;

  // The series `matchers` select with their samples in [start_ms, end_ms].
  // `timeout` bounds connecting and each wait for bytes (and is at most
  // the config's remote_timeout). Errors are one line naming the URL:
  // Unavailable for a network failure, an HTTP status other than 200 (with
  // the first line of the body), an unreadable secret file or an answer
  // that does not decode.
  Result<std::vector<ReadSeries>> Read(
      const std::vector<model::Matcher>& matchers, int64_t start_ms,
      int64_t end_ms, std::chrono::milliseconds timeout);

  // Aborts a Read in progress on another thread (it then fails promptly).
  void Cancel();

 private:
  ClientConfig config_;
  std::string path_;  // request target: path and query of the URL
  std::unique_ptr<httplib::Client> client_;
};

// ValidateClientConfig, plus what a read client cannot do: a
// tls_config.server_name.
Status ValidateReadClientConfig(const ClientConfig& config,
                                std::string_view path = {});

}  // namespace promewma::remote

#endif  // PROMEWMA_REMOTE_REMOTE_READ_CLIENT_H_
