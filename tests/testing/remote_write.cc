#include "testing/remote_write.h"

#include <google/protobuf/stubs/logging.h>

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

}  // namespace promewma::testing
