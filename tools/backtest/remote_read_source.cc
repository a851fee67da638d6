#include "backtest/remote_read_source.h"

#include <httplib.h>

#include <utility>

#include "codec/snappy_block.h"
#include "model/labels.h"
#include "model/matcher.h"
#include "remote.pb.h"
#include "remote/url.h"

namespace promewma::backtest {
namespace {

// A remote-read response may be large; this bounds what one read decodes.
constexpr size_t kMaxDecodedBytes = size_t{1} << 30;

prometheus::LabelMatcher::Type ProtoType(model::Matcher::Type type) {
  switch (type) {
    case model::Matcher::Type::kEqual:
      return prometheus::LabelMatcher::EQ;
    case model::Matcher::Type::kNotEqual:
      return prometheus::LabelMatcher::NEQ;
    case model::Matcher::Type::kRegexMatch:
      return prometheus::LabelMatcher::RE;
    case model::Matcher::Type::kRegexNoMatch:
      return prometheus::LabelMatcher::NRE;
  }
  return prometheus::LabelMatcher::EQ;
}

}  // namespace

Result<std::vector<InputSeries>> ReadRemoteHistory(
    const std::string& url, std::string_view selector, int64_t start_ms,
    int64_t end_ms, std::chrono::seconds timeout) {
  Result<remote::ParsedUrl> parsed = remote::ParseUrl(url);
  if (!parsed.ok()) {
    return Status::InvalidArgument("--remote-read-url: " +
                                   parsed.status().message());
  }
  Result<model::Selector> matchers = model::Selector::Parse(selector);
  if (!matchers.ok()) {
    return Status::InvalidArgument("--match: " + matchers.status().message());
  }
  prometheus::ReadRequest request;
  prometheus::Query* query = request.add_queries();
  query->set_start_timestamp_ms(start_ms);
  query->set_end_timestamp_ms(end_ms);
  for (const model::Matcher& m : matchers->matchers()) {
    prometheus::LabelMatcher* pm = query->add_matchers();
    pm->set_type(ProtoType(m.type()));
    pm->set_name(m.name());
    pm->set_value(m.value());
  }
  request.add_accepted_response_types(prometheus::ReadRequest::SAMPLES);
  const std::string body =
      codec::CompressSnappyBlock(request.SerializeAsString());

  httplib::Client client(parsed->origin);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  httplib::Headers headers = {{"Content-Encoding", "snappy"},
                              {"X-Prometheus-Remote-Read-Version", "0.1.0"}};
  httplib::Result response =
      client.Post(parsed->target, headers, body, "application/x-protobuf");
  if (!response) {
    return Status::Unavailable(url + ": " +
                               httplib::to_string(response.error()));
  }
  if (response->status != 200) {
    std::string first_line = response->body.substr(0, response->body.find('\n'));
    return Status::Unavailable(url + ": HTTP " +
                               std::to_string(response->status) + ": " +
                               first_line.substr(0, 200));
  }
  std::string raw;
  Status s = codec::DecompressSnappyBlock(response->body, kMaxDecodedBytes, &raw);
  if (!s.ok()) return Status::Unavailable(url + ": response: " + s.message());
  prometheus::ReadResponse decoded;
  if (!decoded.ParseFromString(raw)) {
    return Status::Unavailable(url + ": response: not a ReadResponse");
  }
  std::vector<InputSeries> out;
  for (const prometheus::QueryResult& result : decoded.results()) {
    for (const prometheus::TimeSeries& ts : result.timeseries()) {
      InputSeries series;
      std::vector<model::Label> labels;
      for (const prometheus::Label& l : ts.labels()) {
        labels.push_back(model::Label{l.name(), l.value()});
      }
      if (Status e = model::EncodeLabelSet(&labels, &series.labels); !e.ok()) {
        return Status::Unavailable(url + ": response: " + e.message());
      }
      series.name = model::LabelSetView(series.labels).ToString();
      for (const prometheus::Sample& sample : ts.samples()) {
        if (!series.timestamps_ms.empty() &&
            sample.timestamp() <= series.timestamps_ms.back()) {
          continue;
        }
        series.timestamps_ms.push_back(sample.timestamp());
        series.values.push_back(sample.value());
      }
      out.push_back(std::move(series));
    }
  }
  return out;
}

}  // namespace promewma::backtest
