// Test helpers: remote-write requests built with libprotobuf (the reference
// encoder), so tests never depend on the code under test to make input; and
// remote-read queries parsed with it.
//
// The header deliberately exposes no protobuf types: the generated code's
// namespace `prometheus` (from the proto package) collides with
// prometheus-cpp's, so a test that reads self-metrics must not see both.

#ifndef PROMEWMA_TESTS_TESTING_REMOTE_WRITE_H_
#define PROMEWMA_TESTS_TESTING_REMOTE_WRITE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace promewma::testing {

struct TestSeries {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<int64_t, double>> samples;  // (timestamp_ms, value)
  int histograms = 0;  // native histogram samples to add
};

struct TestRequestExtras {
  int metadata = 0;  // MetricMetadata entries to add
};

// A serialized prometheus.WriteRequest (not compressed). Labels are written
// in the given order, invalid UTF-8 included.
std::string SerializeWriteRequest(const std::vector<TestSeries>& series,
                                  const TestRequestExtras& extras = {});

// A serialized prometheus.ReadRequest (not compressed) of one query with
// these equality matchers over [start_ms, end_ms], asking for SAMPLES.
std::string SerializeReadRequest(
    const std::vector<std::pair<std::string, std::string>>& matchers,
    int64_t start_ms, int64_t end_ms);

// The samples of the one series that matches every (name, value) equality
// matcher in [start_ms, end_ms], read over remote read (SAMPLES) from the
// server on 127.0.0.1:port. Fails the running test on any error, and when
// not exactly one series matches.
std::vector<std::pair<int64_t, double>> RemoteReadSeries(
    int port, const std::vector<std::pair<std::string, std::string>>& matchers,
    int64_t start_ms, int64_t end_ms);

}  // namespace promewma::testing

#endif  // PROMEWMA_TESTS_TESTING_REMOTE_WRITE_H_
