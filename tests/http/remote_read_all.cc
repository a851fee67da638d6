#include "http/remote_read_all.h"

#include <catch2/catch.hpp>

#include "codec/snappy_block.h"
#include "remote.pb.h"

namespace promewma::http {

std::map<std::string, std::vector<std::pair<int64_t, double>>> RemoteReadAll(
    const RemoteReadHandler& reader, const std::string& name,
    const std::string& label) {
  prometheus::ReadRequest req;
  auto* q = req.add_queries();
  q->set_start_timestamp_ms(0);
  q->set_end_timestamp_ms(INT64_MAX);
  auto* m = q->add_matchers();
  m->set_type(prometheus::LabelMatcher::EQ);
  m->set_name("__name__");
  m->set_value(name);
  const HttpResponse r = reader.Handle(
      HttpRequest{"application/x-protobuf", "snappy",
                  codec::CompressSnappyBlock(req.SerializeAsString())});
  INFO(r.body);
  REQUIRE(r.status == 200);
  std::string raw;
  REQUIRE(codec::DecompressSnappyBlock(r.body, 1 << 30, &raw).ok());
  prometheus::ReadResponse resp;
  REQUIRE(resp.ParseFromString(raw));
  std::map<std::string, std::vector<std::pair<int64_t, double>>> out;
  for (const auto& ts : resp.results(0).timeseries()) {
    std::string value;
    for (const auto& l : ts.labels())
      if (l.name() == label) value = l.value();
    for (const auto& s : ts.samples())
      out[value].push_back({s.timestamp(), s.value()});
  }
  return out;
}

}  // namespace promewma::http
