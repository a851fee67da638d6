#include "http/latest_values_collector.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <map>
#include <string>

namespace promewma::http {

std::vector<prometheus::MetricFamily> LatestValuesCollector::Collect() const {
  // Sorted by family name so the exposition is stable between scrapes.
  std::map<std::string, prometheus::MetricFamily> families;
  head_->VisitLatest([&](const head::LatestDerived& latest) {
    std::vector<prometheus::ClientMetric::Label> labels;
    for (const model::Label& l : latest.labels) {
      if (l.name == model::kMetricNameLabel) continue;
      labels.push_back({std::string(l.name), std::string(l.value)});
    }
    const std::string_view metric = latest.labels.MetricName();
    for (int i = 0; i < ewma::kOutputCount; ++i) {
      const auto output = static_cast<ewma::Output>(i);
      if (!latest.values.has(output)) continue;
      std::string name(metric);
      name += ewma::OutputSuffix(output);
      auto [it, inserted] = families.try_emplace(name);
      prometheus::MetricFamily& family = it->second;
      if (inserted) {
        family.name = name;
        family.help = "promewma " + std::string(ewma::OutputName(output)) +
                      " of " + std::string(metric) +
                      " (latest value, at the input sample's timestamp).";
        family.type = prometheus::MetricType::Gauge;
      }
      prometheus::ClientMetric m;
      m.label = labels;
      m.gauge.value = latest.values.get(output);
      m.timestamp_ms = latest.timestamp_ms;
      family.metric.push_back(std::move(m));
    }
  });
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families.size());
  for (auto& [name, family] : families) out.push_back(std::move(family));
  return out;
}

}  // namespace promewma::http
