#include "http/self_metrics.h"

namespace promewma::http {
namespace {

prometheus::Counter& SimpleCounter(prometheus::Registry& registry,
                                   const std::string& name,
                                   const std::string& help) {
  return prometheus::BuildCounter()
      .Name(name)
      .Help(help)
      .Register(registry)
      .Add({});
}

}  // namespace

WriteMetrics::WriteMetrics(prometheus::Registry& registry)
    : samples_received(SimpleCounter(
          registry, "promewma_write_samples_received_total",
          "Samples (float and native histogram) received by remote write.")),
      samples_applied(
          SimpleCounter(registry, "promewma_write_samples_applied_total",
                        "Finite samples folded into a series' EWMA state.")),
      stale_markers(SimpleCounter(
          registry, "promewma_write_stale_markers_total",
          "Prometheus stale markers received and passed on to the outputs.")),
      samples_dropped(),
      series_created(SimpleCounter(
          registry, "promewma_series_created_total",
          "Input series seen for the first time and selected for processing.")),
      compressed_bytes(
          SimpleCounter(registry, "promewma_write_compressed_bytes_total",
                        "Snappy-compressed remote-write body bytes received.")),
      decoded_bytes(
          SimpleCounter(registry, "promewma_write_decoded_bytes_total",
                        "Remote-write body bytes after snappy decompression.")),
      metadata_received(SimpleCounter(
          registry, "promewma_write_metadata_received_total",
          "Metric metadata entries received (accepted and ignored).")),
      requests_refused() {
  auto& refused =
      prometheus::BuildCounter()
          .Name("promewma_write_requests_refused_total")
          .Help("Remote-write requests refused for a limit, by limit "
                "(active_series: some of its new series refused, the rest "
                "applied).")
          .Register(registry);
  for (int i = 0; i < head::kRefusalCount; ++i) {
    requests_refused[i] = &refused.Add(
        {{"reason",
          std::string(head::RefusalName(static_cast<head::Refusal>(i)))}});
  }
  auto& dropped = prometheus::BuildCounter()
                      .Name("promewma_write_samples_dropped_total")
                      .Help("Received samples not applied, by reason.")
                      .Register(registry);
  for (int i = 0; i < head::kDropReasonCount; ++i) {
    samples_dropped[i] =
        &dropped.Add({{"reason", std::string(head::DropReasonName(
                                     static_cast<head::DropReason>(i)))}});
  }
}

void WriteMetrics::Record(const head::ApplyResult& result) {
  samples_received.Increment(static_cast<double>(result.received));
  samples_applied.Increment(static_cast<double>(result.applied));
  stale_markers.Increment(static_cast<double>(result.stale));
  series_created.Increment(static_cast<double>(result.new_series));
  for (int i = 0; i < head::kDropReasonCount; ++i) {
    if (result.dropped[i] != 0)
      samples_dropped[i]->Increment(static_cast<double>(result.dropped[i]));
  }
}

namespace {

prometheus::Family<prometheus::Counter>& ReadRefusedFamily(
    prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("promewma_read_requests_refused_total")
      .Help("Remote-read requests refused for a limit, by limit.")
      .Register(registry);
}

}  // namespace

ReadMetrics::ReadMetrics(prometheus::Registry& registry)
    : refused_concurrent(ReadRefusedFamily(registry).Add(
          {{"reason", "concurrent_reads"}})),
      refused_samples(ReadRefusedFamily(registry).Add(
          {{"reason", "samples_per_query"}})) {}

HttpMetrics::HttpMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("promewma_http_requests_total")
                    .Help("HTTP requests by handler and status code.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("promewma_http_request_duration_seconds")
                    .Help("HTTP request latency by handler.")
                    .Register(registry)) {}

void HttpMetrics::Observe(const std::string& handler, int status,
                          double seconds) {
  requests_.Add({{"handler", handler}, {"code", std::to_string(status)}})
      .Increment();
  // From 100us (a small write) to 10s (a slow scrape of many series).
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
  duration_.Add({{"handler", handler}}, kBuckets).Observe(seconds);
}

ConnectionMetrics::ConnectionMetrics(prometheus::Registry& registry)
    : open(prometheus::BuildGauge()
               .Name("promewma_http_connections_open")
               .Help("Open client connections, those over "
                     "limits.max_connections included.")
               .Register(registry)
               .Add({})),
      refused(prometheus::BuildCounter()
                  .Name("promewma_http_connections_refused_total")
                  .Help("Connections over limits.max_connections, answered "
                        "503 with Retry-After and closed.")
                  .Register(registry)
                  .Add({})),
      tls_handshake_failures(
          prometheus::BuildCounter()
              .Name("promewma_http_tls_handshake_failures_total")
              .Help("TLS handshakes that failed (plain HTTP to the TLS port, "
                    "a client certificate missing or refused, a timeout); "
                    "the connection is closed.")
              .Register(registry)
              .Add({})) {}

}  // namespace promewma::http
