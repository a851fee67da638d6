// ReadMetrics on a registry of their own, for tests whose translation unit
// includes the Prometheus protobuf messages: their `prometheus` namespace
// clashes with prometheus-cpp's, so the two meet only in
// read_metrics_probe.cc.

#ifndef PROMEWMA_TESTS_HTTP_READ_METRICS_PROBE_H_
#define PROMEWMA_TESTS_HTTP_READ_METRICS_PROBE_H_

#include <memory>

namespace promewma::http {

struct ReadMetrics;

class ReadMetricsProbe {
 public:
  ReadMetricsProbe();
  ~ReadMetricsProbe();

  ReadMetrics* metrics();
  double refused_concurrent() const;
  double refused_samples() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promewma::http

#endif  // PROMEWMA_TESTS_HTTP_READ_METRICS_PROBE_H_
