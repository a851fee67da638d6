// LatestValuesCollector: exposes the latest derived value of every processed
// series on /metrics, e.g.
//
//   cpu_utilization:ewma{host="a"} 41.2 1730000000000
//
// with the input sample's timestamp, so a Prometheus scraping promewma
// stores each value at the time it belongs to. One gauge family per derived
// metric name; series whose latest outputs are stale markers are left out.
//
// Thread-safety: Collect() is thread-safe (the head locks shard by shard).

#ifndef PROMEWMA_HTTP_LATEST_VALUES_COLLECTOR_H_
#define PROMEWMA_HTTP_LATEST_VALUES_COLLECTOR_H_

#include <prometheus/collectable.h>

#include <vector>

#include "head/head.h"

namespace promewma::http {

class LatestValuesCollector : public prometheus::Collectable {
 public:
  // REQUIRES: head outlives the collector.
  explicit LatestValuesCollector(const head::Head* head)
      : head_(head) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const head::Head* const head_;
};

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_LATEST_VALUES_COLLECTOR_H_
