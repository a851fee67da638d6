// ValidateQueueConfig and ValidateTarget: every rule, and messages that
// name the key path the caller gives. (The client's own rules are in
// tests/remote/client_config_test.cc.)

#include "writeback/target_config.h"

#include <catch2/catch.hpp>
#include <functional>
#include <string>

namespace promewma::writeback {
namespace {

using std::chrono::milliseconds;
using QueueEdit = std::function<void(QueueConfig*)>;

TEST_CASE("the default queue_config is valid") {
  CHECK(ValidateQueueConfig(QueueConfig{}).ok());
}

TEST_CASE("ValidateQueueConfig names the bad key and what it held") {
  auto [edit, want] = GENERATE(table<QueueEdit, std::string>({
      {[](QueueConfig* c) { c->capacity = 0; },
       "q.capacity: must be >= 1, got 0"},
      {[](QueueConfig* c) { c->min_shards = 0; },
       "q.min_shards: must be >= 1, got 0"},
      {[](QueueConfig* c) { c->max_shards = -1; },
       "q.max_shards: must be >= 1, got -1"},
      {[](QueueConfig* c) { c->max_shards = 1001; },
       "q.max_shards: must be at most 1000, got 1001"},
      {[](QueueConfig* c) { c->max_samples_per_send = 0; },
       "q.max_samples_per_send: must be >= 1, got 0"},
      {[](QueueConfig* c) {
         c->min_shards = 3;
         c->max_shards = 2;
       },
       "q.min_shards: must be <= max_shards (2), got 3"},
      {[](QueueConfig* c) {
         c->capacity = 10;
         c->max_samples_per_send = 20;
       },
       "q.max_samples_per_send: must be <= capacity (10), got 20"},
      {[](QueueConfig* c) { c->batch_send_deadline = milliseconds(0); },
       "q.batch_send_deadline: must be > 0"},
      {[](QueueConfig* c) { c->min_backoff = milliseconds(0); },
       "q.min_backoff: must be > 0"},
      {[](QueueConfig* c) { c->max_backoff = milliseconds(-5); },
       "q.max_backoff: must be > 0"},
      {[](QueueConfig* c) { c->max_retry_duration = milliseconds(0); },
       "q.max_retry_duration: must be > 0"},
      {[](QueueConfig* c) { c->max_backoff = milliseconds(1); },
       "q.min_backoff: must be <= max_backoff"},
  }));
  QueueConfig c;
  edit(&c);
  const Status s = ValidateQueueConfig(c, "q");
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message() == want);
}

TEST_CASE("ValidateTarget checks the client, then the queue, under one path") {
  TargetConfig t;
  t.client.url = "http://127.0.0.1:8428/api/v1/write";
  CHECK(ValidateTarget(t, "write_back[0]").ok());

  t.queue.capacity = 0;
  CHECK(ValidateTarget(t, "write_back[0]").message() ==
        "write_back[0].queue_config.capacity: must be >= 1, got 0");
  CHECK(ValidateTarget(t).message() ==
        "queue_config.capacity: must be >= 1, got 0");

  // The client is checked first.
  t.client.url = "http://127.0.0.1:99999/api/v1/write";
  CHECK(ValidateTarget(t, "write_back[2]").message() ==
        "write_back[2].url: port 99999 out of range");
  t.client.url = "http://127.0.0.1:9/api/v1/write";
  t.queue = QueueConfig{};
  t.client.headers = {{"Content-Encoding", "gzip"}};
  CHECK(ValidateTarget(t, "write_back[0]").message() ==
        "write_back[0].headers.Content-Encoding: is reserved: promewma sets "
        "it");
}

}  // namespace
}  // namespace promewma::writeback
