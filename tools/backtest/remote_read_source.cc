#include "backtest/remote_read_source.h"

#include <utility>

#include "model/labels.h"
#include "model/matcher.h"
#include "remote/client_config.h"
#include "remote/remote_read_client.h"

namespace promewma::backtest {

Result<std::vector<InputSeries>> ReadRemoteHistory(
    const std::string& url, std::string_view selector, int64_t start_ms,
    int64_t end_ms, std::chrono::seconds timeout) {
  remote::ClientConfig config;
  config.url = url;
  config.remote_timeout = timeout;
  if (Status s = remote::ValidateReadClientConfig(config); !s.ok()) {
    std::string_view problem = s.message();
    if (problem.rfind("url: ", 0) == 0) problem.remove_prefix(5);
    return Status::InvalidArgument("--remote-read-url: " +
                                   std::string(problem));
  }
  Result<model::Selector> matchers = model::Selector::Parse(selector);
  if (!matchers.ok()) {
    return Status::InvalidArgument("--match: " + matchers.status().message());
  }
  remote::RemoteReadClient client(config);
  Result<std::vector<remote::ReadSeries>> read =
      client.Read(matchers->matchers(), start_ms, end_ms, timeout);
  if (!read.ok()) return read.status();
  std::vector<InputSeries> out;
  for (remote::ReadSeries& series : *read) {
    InputSeries input;
    input.labels = std::move(series.labels);
    input.name = model::LabelSetView(input.labels).ToString();
    input.timestamps_ms = std::move(series.timestamps_ms);
    input.values = std::move(series.values);
    out.push_back(std::move(input));
  }
  return out;
}

}  // namespace promewma::backtest
