// promewma's metrics about itself, one struct per component, built once
// and registered on the process registry. Label sets are small and fixed:
// never a label per incoming series.
//
// Thread-safety: prometheus-cpp metrics are thread-safe.

#ifndef PROMEWMA_HTTP_SELF_METRICS_H_
#define PROMEWMA_HTTP_SELF_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <string>

#include "head/head.h"

namespace promewma::http {

// promewma_write_*: what the remote-write receiver did with samples.
struct WriteMetrics {
  explicit WriteMetrics(prometheus::Registry& registry);

  // Adds one applied request's counts.
  void Record(const head::ApplyResult& result);

  prometheus::Counter& samples_received;
  prometheus::Counter& samples_applied;
  prometheus::Counter& stale_markers;
  std::array<prometheus::Counter*, head::kDropReasonCount> samples_dropped;
  prometheus::Counter& series_created;
  prometheus::Counter& compressed_bytes;
  prometheus::Counter& decoded_bytes;
  prometheus::Counter& metadata_received;
  // promewma_write_requests_refused_total{reason}: requests refused, or
  // partly refused (active_series), for a limit.
  std::array<prometheus::Counter*, head::kRefusalCount> requests_refused;
};

// promewma_read_requests_refused_total{reason}: remote reads refused for
// a limit.
struct ReadMetrics {
  explicit ReadMetrics(prometheus::Registry& registry);

  prometheus::Counter& refused_concurrent;  // max_concurrent_reads: 503
  prometheus::Counter& refused_samples;     // max_samples_per_query: 400
};

// promewma_http_*: requests by handler and status code, and their latency.
class HttpMetrics {
 public:
  explicit HttpMetrics(prometheus::Registry& registry);

  void Observe(const std::string& handler, int status, double seconds);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
};

// promewma_http_connections_*: the server's connections (server.h).
struct ConnectionMetrics {
  explicit ConnectionMetrics(prometheus::Registry& registry);

  prometheus::Gauge& open;       // set when /metrics is served
  prometheus::Counter& refused;  // over max_connections: 503 and closed
  // TLS handshakes that failed: plain HTTP on the TLS port, a client
  // certificate missing or not verified, no common version, a timeout.
  prometheus::Counter& tls_handshake_failures;
};

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_SELF_METRICS_H_
