#include "csv2rw/batch_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "remote/batch_encoder.h"

namespace promewma::csv2rw {

namespace {

constexpr char kRwbenchFile[] = "connection-0.rwb";

std::string Errno() { return std::strerror(errno); }

bool IsBatchFile(std::string_view name) {
  return (name.substr(0, 6) == "batch-" && name.size() > 7 &&
          name.substr(name.size() - 7) == ".snappy") ||
         (name.substr(0, 11) == "connection-" && name.size() > 4 &&
          name.substr(name.size() - 4) == ".rwb");
}

// Writes all of `data` to the new file `path`.
Status WriteWholeFile(const std::string& path, std::string_view data) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::Unavailable("cannot create " + path + ": " + Errno());
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string message = "cannot write " + path + ": " + Errno();
      close(fd);
      return Status::Unavailable(message);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (close(fd) != 0) {
    return Status::Unavailable("cannot write " + path + ": " + Errno());
  }
  return Status::Ok();
}

}  // namespace

std::string FormatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms % 1000 != 0 || ms == 0) return std::to_string(ms) + "ms";
  int64_t s = ms / 1000;
  std::string out;
  if (s >= 3600) {
    out += std::to_string(s / 3600) + "h";
    s %= 3600;
  }
  if (s >= 60) {
    out += std::to_string(s / 60) + "m";
    s %= 60;
  }
  if (s > 0) out += std::to_string(s) + "s";
  return out;
}

// --- DirectorySink ---------------------------------------------------------

std::string DirectorySink::BatchFileName(uint64_t index) {
  char name[40];
  std::snprintf(name, sizeof(name), "batch-%08llu.snappy",
                static_cast<unsigned long long>(index));
  return name;
}

Result<std::unique_ptr<DirectorySink>> DirectorySink::Open(
    const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::InvalidArgument("--out " + dir +
                                   ": cannot create: " + ec.message());
  }
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return Status::InvalidArgument("--out " + dir + ": " + Errno());
  }
  bool has_batches = false;
  while (dirent* e = readdir(d)) has_batches |= IsBatchFile(e->d_name);
  closedir(d);
  if (has_batches) {
    return Status::InvalidArgument(
        "--out " + dir +
        ": already holds batch files from an earlier run; remove them or "
        "choose another directory");
  }
  std::unique_ptr<DirectorySink> sink(new DirectorySink(dir));
  const std::string rwbench = dir + "/" + kRwbenchFile;
  sink->rwbench_ = std::fopen(rwbench.c_str(), "wbe");
  if (sink->rwbench_ == nullptr) {
    return Status::InvalidArgument("cannot create " + rwbench + ": " + Errno());
  }
  // Bodies are written in one piece each; a large buffer saves syscalls.
  std::setvbuf(sink->rwbench_, nullptr, _IOFBF, 1 << 20);
  return sink;
}

DirectorySink::~DirectorySink() {
  (void)Close();
}

Status DirectorySink::Write(std::string_view body, size_t samples) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!thread_.joinable() && !closed_) {
    thread_ = std::thread([this] { WriteFiles(); });
  }
  room_.wait(lock, [&] { return queue_.size() < kMaxQueued || !error_.ok(); });
  if (!error_.ok()) return error_;
  queue_.emplace_back(body);
  ready_.notify_one();
  return Status::Ok();
}

void DirectorySink::WriteFiles() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    ready_.wait(lock, [&] { return !queue_.empty() || closed_; });
    if (queue_.empty()) return;  // closed and drained
    std::string body = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Status s = WriteOne(body);
    lock.lock();
    room_.notify_one();
    if (!s.ok()) {
      error_ = s;
      queue_.clear();
      return;
    }
  }
}

Status DirectorySink::WriteOne(std::string_view body) {
  const std::string path = dir_ + "/" + BatchFileName(next_);
  if (Status s = WriteWholeFile(path, body); !s.ok()) return s;
  ++next_;
  const uint32_t n = static_cast<uint32_t>(body.size());
  const unsigned char len[4] = {
      static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
      static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
  if (std::fwrite(len, 1, 4, rwbench_) != 4 ||
      std::fwrite(body.data(), 1, body.size(), rwbench_) != body.size()) {
    return Status::Unavailable("cannot write " + dir_ + "/" + kRwbenchFile +
                               ": " + Errno());
  }
  return Status::Ok();
}

Status DirectorySink::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    ready_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  if (rwbench_ == nullptr) return error_;
  const bool ok = std::fclose(rwbench_) == 0;
  rwbench_ = nullptr;
  if (!error_.ok()) return error_;
  if (!ok) {
    return Status::Unavailable("cannot write " + dir_ + "/" + kRwbenchFile +
                               ": " + Errno());
  }
  return Status::Ok();
}

// --- RemoteWriteSink -------------------------------------------------------

RemoteWriteSink::RemoteWriteSink(remote::Sender* sender, std::string url,
                                 RetryPolicy policy, RetryClock clock)
    : sender_(sender),
      url_(std::move(url)),
      policy_(policy),
      clock_(std::move(clock)),
      backoff_(policy.backoff) {
  if (!clock_.sleep) {
    clock_.sleep = [](std::chrono::milliseconds d) {
      std::this_thread::sleep_for(d);
    };
  }
}

Status RemoteWriteSink::Write(std::string_view body, size_t samples) {
  backoff_.Reset();
  const auto give_up_at = clock_.now() + policy_.max_retry_duration;
  while (true) {
    const remote::SendResult result = sender_->Send(body);
    const std::string what =
        result.http_status == 0 ? result.reason
                                : "HTTP " + std::to_string(result.http_status) +
                                      ": " + result.reason;
    switch (result.outcome) {
      case remote::SendResult::kSent:
        ++requests_;
        return Status::Ok();
      case remote::SendResult::kDrop:
        return Status::InvalidArgument(url_ + " refused a batch of " +
                                       std::to_string(samples) +
                                       " samples: " + what);
      case remote::SendResult::kRetry:
        break;
    }
    const std::chrono::milliseconds delay =
        backoff_.NextDelay(result.retry_after);
    if (clock_.now() + delay > give_up_at) {
      return Status::Unavailable(url_ +
                                 ": gave up on a batch after retrying for " +
                                 FormatDuration(policy_.max_retry_duration) +
                                 " (--max-retry-duration): " + what);
    }
    clock_.sleep(delay);
    ++retries_;
  }
}

// --- WriteBatches ----------------------------------------------------------

Status WriteBatches(const SeriesBuilder& series, size_t batch_size,
                    BatchSink* sink, ProgressBar* progress,
                    uint64_t* samples_written) {
  const std::vector<Row>& rows = series.rows();
  std::vector<const Row*> order;
  std::vector<remote::OutgoingSample> samples;
  remote::BatchEncoder encoder;  // reuses its buffers batch after batch
  order.reserve(batch_size);
  samples.reserve(batch_size);
  for (size_t begin = 0; begin < rows.size(); begin += batch_size) {
    const size_t end = std::min(rows.size(), begin + batch_size);
    order.clear();
    bool one_series = true;
    for (size_t i = begin; i < end; ++i) {
      order.push_back(&rows[i]);
      one_series &= rows[i].series == rows[begin].series;
    }
    // Rows are in time order; group them by series, keeping time order
    // within each (a series has one row per timestamp after Finish).
    if (!one_series) {
      std::sort(order.begin(), order.end(), [](const Row* a, const Row* b) {
        return a->series != b->series ? a->series < b->series
                                      : a->timestamp_ms < b->timestamp_ms;
      });
    }
    samples.clear();
    for (const Row* row : order) {
      samples.push_back(remote::OutgoingSample{
          series.labels(row->series), row->timestamp_ms, row->value});
    }
    if (Status s = sink->Write(encoder.EncodeSnappy(samples), samples.size());
        !s.ok()) {
      return s;
    }
    *samples_written += samples.size();
    progress->Update(end, *samples_written);
  }
  return sink->Close();
}

}  // namespace promewma::csv2rw
