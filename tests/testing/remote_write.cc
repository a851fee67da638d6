#include "testing/remote_write.h"

#include <google/protobuf/stubs/logging.h>
#include <httplib.h>

#include <catch2/catch.hpp>

#include "codec/snappy_block.h"
#include "remote.pb.h"

namespace promewma::testing {

std::string SerializeWriteRequest(const std::vector<TestSeries>& series,
                                  const TestRequestExtras& extras) {
  prometheus::WriteRequest req;
  for (const TestSeries& s : series) {
    auto* ts = req.add_timeseries();
    for (const auto& [name, value] : s.labels) {
      auto* l = ts->add_labels();
      l->set_name(name);
      l->set_value(value);
    }
    for (const auto& [t, v] : s.samples) {
      auto* sample = ts->add_samples();
      sample->set_timestamp(t);
      sample->set_value(v);
    }
    for (int i = 0; i < s.histograms; ++i) {
      ts->add_histograms()->set_count_int(static_cast<uint64_t>(i + 1));
    }
  }
  for (int i = 0; i < extras.metadata; ++i) {
    auto* m = req.add_metadata();
    m->set_metric_family_name("m" + std::to_string(i));
    m->set_help("help text");
  }
  std::string out;
  // Tests write invalid UTF-8 on purpose; libprotobuf would log each one.
  google::protobuf::LogHandler* previous =
      google::protobuf::SetLogHandler(nullptr);
  req.SerializePartialToString(&out);
  google::protobuf::SetLogHandler(previous);
  return out;
}

std::string SerializeReadRequest(
    const std::vector<std::pair<std::string, std::string>>& matchers,
    int64_t start_ms, int64_t end_ms) {
  prometheus::ReadRequest req;
  auto* q = req.add_queries();
  q->set_start_timestamp_ms(start_ms);
  q->set_end_timestamp_ms(end_ms);
  for (const auto& [name, value] : matchers) {
    auto* m = q->add_matchers();
    m->set_type(prometheus::LabelMatcher::EQ);
    m->set_name(name);
    m->set_value(value);
  }
  return req.SerializeAsString();
}

std::vector<std::pair<int64_t, double>> RemoteReadSeries(
    int port, const std::vector<std::pair<std::string, std::string>>& matchers,
    int64_t start_ms, int64_t end_ms) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(20, 0);
  auto r = client.Post("/api/v1/read",
                       {{"Content-Encoding", "snappy"},
                        {"X-Prometheus-Remote-Read-Version", "0.1.0"}},
                       codec::CompressSnappyBlock(
                           SerializeReadRequest(matchers, start_ms, end_ms)),
                       "application/x-protobuf");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  std::string raw;
  REQUIRE(codec::DecompressSnappyBlock(r->body, 1 << 30, &raw).ok());
  prometheus::ReadResponse resp;
  REQUIRE(resp.ParseFromString(raw));
  REQUIRE(resp.results_size() == 1);
  REQUIRE(resp.results(0).timeseries_size() == 1);
  std::vector<std::pair<int64_t, double>> out;
  for (const auto& s : resp.results(0).timeseries(0).samples()) {
    out.emplace_back(s.timestamp(), s.value());
  }
  return out;
}

}  // namespace promewma::testing
