// DiskSpaceCollector: the data directory's free space and the writes the
// disk space guard (db/disk_space_guard.h) refused, on /metrics:
//
//   promewma_disk_free_bytes                 free on data_dir's filesystem,
//                                            measured at the scrape
//   promewma_disk_min_free_bytes             limits.min_free_disk_bytes
//   promewma_disk_full_refusals_total{operation="write|checkpoint|maintenance"}
//
// An alert on promewma_disk_free_bytes < 2 * promewma_disk_min_free_bytes
// warns before writes stop.
//
// Thread-safety: Collect may run on any thread.

#ifndef PROMEWMA_APP_DISK_METRICS_H_
#define PROMEWMA_APP_DISK_METRICS_H_

#include <prometheus/collectable.h>

#include <vector>

#include "db/disk_space_guard.h"

namespace promewma::app {

class DiskSpaceCollector : public prometheus::Collectable {
 public:
  // `guard` outlives the collector.
  explicit DiskSpaceCollector(db::DiskSpaceGuard* guard) : guard_(guard) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  db::DiskSpaceGuard* const guard_;
};

}  // namespace promewma::app

#endif  // PROMEWMA_APP_DISK_METRICS_H_
