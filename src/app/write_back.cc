#include "app/write_back.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <fstream>
#include <sstream>
#include <string>

namespace promewma::app {
namespace {

// A secret file's content without its trailing newline, like Prometheus.
Status ReadSecret(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  while (!out->empty() && (out->back() == '\n' || out->back() == '\r')) {
    out->pop_back();
  }
  return Status::Ok();
}

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

Status ClientOptionsFor(const config::WriteBackTarget& target,
                        remote::ClientOptions* client,
                        writeback::QueueConfig* queue) {
  client->url = target.url;
  client->remote_timeout = std::chrono::milliseconds(target.remote_timeout_ms);
  client->headers = target.headers;
  client->basic_auth_username = target.basic_auth_username;
  client->basic_auth_password = target.basic_auth_password;
  if (!target.basic_auth_password_file.empty()) {
    Status s = ReadSecret(target.basic_auth_password_file,
                          &client->basic_auth_password);
    if (!s.ok()) return s;
  }
  std::string credentials = target.authorization_credentials;
  if (!target.authorization_credentials_file.empty()) {
    Status s = ReadSecret(target.authorization_credentials_file, &credentials);
    if (!s.ok()) return s;
  }
  if (!credentials.empty()) {
    if (target.authorization_type == "Bearer") {
      client->bearer_token = credentials;
    } else {
      client->headers.push_back(
          {"Authorization", target.authorization_type + " " + credentials});
    }
  }
  client->tls.ca_file = target.tls.ca_file;
  client->tls.cert_file = target.tls.cert_file;
  client->tls.key_file = target.tls.key_file;
  client->tls.server_name = target.tls.server_name;
  client->tls.insecure_skip_verify = target.tls.insecure_skip_verify;
  client->tls.min_version = target.tls.min_version == "TLS13"
                                ? remote::TlsOptions::Version::kTls13
                                : remote::TlsOptions::Version::kTls12;
  const config::WriteBackQueueConfig& q = target.queue;
  queue->capacity = q.capacity;
  queue->min_shards = q.min_shards;
  queue->max_shards = q.max_shards;
  queue->max_samples_per_send = q.max_samples_per_send;
  queue->batch_send_deadline =
      std::chrono::milliseconds(q.batch_send_deadline_ms);
  queue->min_backoff = std::chrono::milliseconds(q.min_backoff_ms);
  queue->max_backoff = std::chrono::milliseconds(q.max_backoff_ms);
  queue->retry_on_http_429 = q.retry_on_http_429;
  client->retry_on_http_429 = q.retry_on_http_429;
  queue->max_retry_duration =
      std::chrono::milliseconds(q.max_retry_duration_ms);
  Status s = remote::ValidateClientOptions(*client);
  if (s.ok()) s = writeback::ValidateQueueConfig(*queue);
  return s;
}

Result<std::unique_ptr<WriteBack>> WriteBack::Start(
    const std::vector<config::WriteBackTarget>& targets) {
  std::unique_ptr<WriteBack> wb(new WriteBack());
  std::vector<writeback::WriteBackQueue*> queues;
  for (const config::WriteBackTarget& target : targets) {
    remote::ClientOptions client;
    writeback::QueueConfig queue;
    Status s = ClientOptionsFor(target, &client, &queue);
    if (!s.ok()) {
      return Status::InvalidArgument("write_back " + target.url + ": " +
                                     s.message());
    }
    wb->queues_.push_back(std::make_unique<writeback::WriteBackQueue>(
        target.url, std::move(client), queue));
    queues.push_back(wb->queues_.back().get());
  }
  wb->fanout_ = std::make_unique<writeback::Fanout>(std::move(queues));
  return wb;
}

void WriteBack::Stop(std::chrono::milliseconds drain) {
  const auto deadline = std::chrono::steady_clock::now() + drain;
  for (auto& q : queues_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    q->Stop(std::max(left, std::chrono::milliseconds(0)));
  }
  fanout_->MarkStopped();
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
  for (const auto& q : queues_) {
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
