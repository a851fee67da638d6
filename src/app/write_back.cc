#include "app/write_back.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <algorithm>
#include <limits>
#include <string>

#include "common/key_path.h"
#include "common/log.h"
#include "common/redacted_url.h"

namespace promewma::app {
namespace {

prometheus::MetricFamily Family(const std::string& name,
                                const std::string& help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

}  // namespace

Result<std::unique_ptr<WriteBack>> WriteBack::Start(
    const std::vector<writeback::TargetConfig>& targets) {
  std::unique_ptr<WriteBack> wb(new WriteBack());
  std::vector<std::shared_ptr<writeback::WriteBackQueue>> queues;
  for (size_t i = 0; i < targets.size(); ++i) {
    const writeback::TargetConfig& target = targets[i];
    Status s =
        writeback::ValidateTarget(target, IndexKeyPath("write_back", i));
    if (!s.ok()) return s;
    queues.push_back(std::make_shared<writeback::WriteBackQueue>(
        target.client.url, target.client, target.queue));
    wb->targets_.push_back(Target{target, queues.back()});
  }
  wb->fanout_ = writeback::Fanout::Sharing(std::move(queues));
  return wb;
}

std::vector<WriteBack::Target> WriteBack::Targets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_;
}

WriteBack::ReconfigureStats WriteBack::Reconfigure(
    const std::vector<writeback::TargetConfig>& targets, db::Database* db,
    std::chrono::milliseconds drain) {
  ReconfigureStats stats;
  std::lock_guard<std::mutex> one_at_a_time(lifecycle_mu_);
  if (stopped_) return stats;
  std::vector<Target> old = Targets();
  std::vector<Target> next;
  for (const writeback::TargetConfig& config : targets) {
    // The first running queue with the same URL and settings, if any; each
    // serves one target of the new list.
    auto same = std::find_if(old.begin(), old.end(), [&](const Target& t) {
      return t.queue != nullptr && writeback::SameTarget(t.config, config);
    });
    if (same != old.end()) {
      next.push_back(std::move(*same));
      same->queue = nullptr;
      ++stats.kept;
      continue;
    }
    next.push_back(Target{config, std::make_shared<writeback::WriteBackQueue>(
                                      config.client.url, config.client,
                                      config.queue)});
    log::Info("writeback", "write-back target added; it receives what is "
              "derived from now on",
              {{"target", RedactedUrl(config.client.url)}});
    ++stats.added;
  }
  std::vector<std::shared_ptr<writeback::WriteBackQueue>> in_force, retiring;
  for (const Target& t : next) in_force.push_back(t.queue);
  for (const Target& t : old) {
    if (t.queue != nullptr) retiring.push_back(t.queue);
  }
  stats.removed = retiring.size();
  db->ChangeDerivedTargets(!in_force.empty(), [&] {
    fanout_->SetQueues(in_force, retiring);
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    targets_ = std::move(next);  // the removed ones leave /metrics
  }
  // Nothing is pushed to the removed queues any more: drain and stop them.
  const auto deadline = std::chrono::steady_clock::now() + drain;
  for (const auto& q : retiring) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const uint64_t dropped_before =
        q->stats().dropped(writeback::DropReason::kShutdown);
    q->Stop(std::max(left, std::chrono::milliseconds(0)));
    const uint64_t dropped =
        q->stats().dropped(writeback::DropReason::kShutdown) - dropped_before;
    if (dropped != 0) {
      log::Warn("writeback", "write-back target removed; samples it had "
                "not sent are dropped",
                {{"target", q->name()}, {"samples", dropped}});
    } else {
      log::Info("writeback", "write-back target removed; its queue was sent",
                {{"target", q->name()}});
    }
    fanout_->Retired(q.get());
  }
  return stats;
}

void WriteBack::Stop(std::chrono::milliseconds drain) {
  std::lock_guard<std::mutex> one_at_a_time(lifecycle_mu_);
  stopped_ = true;
  const auto deadline = std::chrono::steady_clock::now() + drain;
  for (const Target& t : Targets()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    t.queue->Stop(std::max(left, std::chrono::milliseconds(0)));
  }
  fanout_->MarkStopped();
}

size_t WriteBack::target_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_.size();
}

size_t WriteBack::QueueMemoryBytes() const {
  size_t bytes = 0;
  for (const Target& t : Targets()) bytes += t.queue->MemoryBytes();
  return bytes;
}

std::vector<prometheus::MetricFamily> WriteBack::Collect() const {
  using prometheus::MetricType;
  auto sent = Family("promewma_writeback_samples_sent_total",
                     "Derived samples the target acknowledged.",
                     MetricType::Counter);
  auto failed = Family("promewma_writeback_samples_failed_total",
                       "Derived samples in send attempts that failed.",
                       MetricType::Counter);
  auto retried = Family("promewma_writeback_samples_retried_total",
                        "Derived samples sent again after a failure.",
                        MetricType::Counter);
  auto dropped = Family(
      "promewma_writeback_samples_dropped_total",
      "Derived samples given up on: http_4xx (refused by the target), "
      "retry_timeout (max_retry_duration passed), shutdown (not sent in the "
      "drain time; the log re-derives them at the next start).",
      MetricType::Counter);
  auto pending = Family("promewma_writeback_samples_pending",
                        "Derived samples queued or in flight.",
                        MetricType::Gauge);
  auto shards = Family("promewma_writeback_shards",
                       "Parallel connections sending to the target.",
                       MetricType::Gauge);
  auto highest = Family(
      "promewma_writeback_highest_sent_timestamp_seconds",
      "Newest sample timestamp the target acknowledged.", MetricType::Gauge);
  auto duration = Family("promewma_writeback_send_duration_seconds",
                         "Duration of each send attempt.",
                         MetricType::Histogram);
  for (const Target& t : Targets()) {
    const writeback::WriteBackQueue* q = t.queue.get();
    const writeback::QueueStats& st = q->stats();
    const std::vector<prometheus::ClientMetric::Label> target = {
        {"url", q->name()}};
    auto add = [&](prometheus::MetricFamily* f, double v, bool counter,
                   std::vector<prometheus::ClientMetric::Label> labels) {
      prometheus::ClientMetric m;
      m.label = std::move(labels);
      (counter ? m.counter.value : m.gauge.value) = v;
      f->metric.push_back(std::move(m));
    };
    add(&sent, static_cast<double>(st.samples_sent.load()), true, target);
    add(&failed, static_cast<double>(st.samples_failed.load()), true, target);
    add(&retried, static_cast<double>(st.samples_retried.load()), true,
        target);
    for (int r = 0; r < static_cast<int>(writeback::DropReason::kCount); ++r) {
      const auto reason = static_cast<writeback::DropReason>(r);
      add(&dropped, static_cast<double>(st.dropped(reason)), true,
          {{"url", q->name()},
           {"reason", std::string(writeback::DropReasonName(reason))}});
    }
    add(&pending, static_cast<double>(st.samples_pending.load()), false,
        target);
    add(&shards, static_cast<double>(st.shards.load()), false, target);
    add(&highest,
        static_cast<double>(st.highest_sent_timestamp_ms.load()) / 1000.0,
        false, target);
    prometheus::ClientMetric h;
    h.label = target;
    h.histogram.sample_count = st.send_duration.count.load();
    h.histogram.sample_sum =
        static_cast<double>(st.send_duration.sum_ns.load()) / 1e9;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < writeback::kSendDurationBuckets.size(); ++b) {
      cumulative += st.send_duration.buckets[b].load();
      prometheus::ClientMetric::Bucket bucket;
      bucket.upper_bound = writeback::kSendDurationBuckets[b];
      bucket.cumulative_count = cumulative;
      h.histogram.bucket.push_back(bucket);
    }
    prometheus::ClientMetric::Bucket inf;
    inf.upper_bound = std::numeric_limits<double>::infinity();
    inf.cumulative_count = h.histogram.sample_count;
    h.histogram.bucket.push_back(inf);
    duration.metric.push_back(std::move(h));
  }
  return {sent, failed, retried, dropped, pending, shards, highest, duration};
}

}  // namespace promewma::app
