#include "http/read_metrics_probe.h"

#include <prometheus/registry.h>

#include "http/self_metrics.h"

namespace promewma::http {

struct ReadMetricsProbe::Impl {
  prometheus::Registry registry;
  ReadMetrics metrics{registry};
};

ReadMetricsProbe::ReadMetricsProbe() : impl_(std::make_unique<Impl>()) {}
ReadMetricsProbe::~ReadMetricsProbe() = default;

ReadMetrics* ReadMetricsProbe::metrics() { return &impl_->metrics; }

double ReadMetricsProbe::refused_concurrent() const {
  return impl_->metrics.refused_concurrent.Value();
}

double ReadMetricsProbe::refused_samples() const {
  return impl_->metrics.refused_samples.Value();
}

}  // namespace promewma::http
