// LatestValuesCollector: exposes the latest derived value of every processed
// series on /metrics, e.g.
//
//   cpu_utilization:ewma{host="a"} 41.2 1730000000000
//
// with the input sample's timestamp, so a Prometheus scraping promewma
// stores each value at the time it belongs to. One gauge family per derived
// metric name; series whose latest outputs are stale markers are left out.
//
// Thread-safety: Collect() is thread-safe (the engine locks shard by shard).

#ifndef PROMEWMA_HTTP_LATEST_VALUES_COLLECTOR_H_
#define PROMEWMA_HTTP_LATEST_VALUES_COLLECTOR_H_

#include <prometheus/collectable.h>

#include <vector>

#include "ewma/engine.h"

namespace promewma::http {

class LatestValuesCollector : public prometheus::Collectable {
 public:
  // REQUIRES: engine outlives the collector.
  explicit LatestValuesCollector(const ewma::Engine* engine)
      : engine_(engine) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ewma::Engine* const engine_;
};

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_LATEST_VALUES_COLLECTOR_H_
