#include "app/disk_metrics.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <string>

namespace promewma::app {
namespace {

prometheus::MetricFamily Family(std::string name, std::string help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

prometheus::MetricFamily Gauge(std::string name, std::string help,
                               double value) {
  prometheus::MetricFamily family =
      Family(std::move(name), std::move(help), prometheus::MetricType::Gauge);
  family.metric.emplace_back();
  family.metric.back().gauge.value = value;
  return family;
}

}  // namespace

std::vector<prometheus::MetricFamily> DiskSpaceCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  // A failed measurement shows the last one (0 before any).
  Result<uint64_t> free = guard_->FreeBytes();
  families.push_back(Gauge(
      "promewma_disk_free_bytes",
      "Bytes free for promewma on the data directory's filesystem.",
      static_cast<double>(free.ok() ? *free : guard_->last_free_bytes())));
  families.push_back(Gauge(
      "promewma_disk_min_free_bytes",
      "limits.min_free_disk_bytes: writes stop while less is free.",
      static_cast<double>(guard_->min_free_bytes())));
  prometheus::MetricFamily refusals = Family(
      "promewma_disk_full_refusals_total",
      "Writes to the data directory refused for want of free space, by "
      "operation.",
      prometheus::MetricType::Counter);
  for (int i = 0; i < static_cast<int>(db::DiskWrite::kCount); ++i) {
    const auto what = static_cast<db::DiskWrite>(i);
    prometheus::ClientMetric metric;
    metric.label.push_back(
        {"operation", std::string(db::DiskWriteName(what))});
    metric.counter.value = static_cast<double>(guard_->refusals(what));
    refusals.metric.push_back(std::move(metric));
  }
  families.push_back(std::move(refusals));
  return families;
}

}  // namespace promewma::app
