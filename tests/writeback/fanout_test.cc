#include "writeback/fanout.h"

#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "model/labels.h"

namespace promewma::writeback {
namespace {

using remote::ClientConfig;
using remote::Sender;
using remote::SendResult;

using namespace std::chrono_literals;

std::string Labels(std::vector<model::Label> labels) {
  std::string out;
  REQUIRE(model::EncodeLabelSet(&labels, &out).ok());
  return out;
}

// Accepts or refuses every send, and remembers how many bodies it got.
class SwitchSender : public Sender {
 public:
  explicit SwitchSender(std::atomic<bool>* accept, std::atomic<int>* bodies)
      : accept_(accept), bodies_(bodies) {}
  SendResult Send(std::string_view) override {
    if (!accept_->load()) {
      return SendResult{SendResult::kRetry, 503, "down", std::nullopt};
    }
    ++*bodies_;
    return SendResult{SendResult::kSent, 204, "", std::nullopt};
  }

 private:
  std::atomic<bool>* accept_;
  std::atomic<int>* bodies_;
};

QueueConfig SmallQueue() {
  QueueConfig c;
  c.capacity = 100;
  c.max_shards = 2;
  c.max_samples_per_send = 10;
  c.batch_send_deadline = 5ms;
  c.min_backoff = 1ms;
  c.max_backoff = 5ms;
  return c;
}

TEST_CASE("each output becomes a sample of its derived series") {
  const std::string input = Labels({{"__name__", "cpu"}, {"host", "a"}});
  ewma::EmittedDerived d{model::HashLabelSet(input), input, 1000, {}};
  d.values.present = ewma::OutputBit(ewma::Output::kEwma) |
                     ewma::OutputBit(ewma::Output::kStddev);
  d.values.value[static_cast<int>(ewma::Output::kEwma)] = 41.5;
  d.values.value[static_cast<int>(ewma::Output::kStddev)] = 2.25;
  std::vector<QueuedSample> out;
  ExpandDerived({d}, &out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].name_suffix == ":ewma");
  CHECK(out[0].value == 41.5);
  CHECK(out[1].name_suffix == ":stddev");
  CHECK(out[1].value == 2.25);
  for (const QueuedSample& s : out) {
    // A view of the engine's copy of the input labels, not a copy.
    CHECK(s.labels.data() == input.data());
    // Sharded by the input series, so its outputs stay together in order.
    CHECK(s.series_hash == d.labels_hash);
    CHECK(s.timestamp_ms == 1000);
  }
}

TEST_CASE("the fanout feeds every target and waits for the slowest") {
  std::atomic<bool> a_up{true}, b_up{false};
  std::atomic<int> a_bodies{0}, b_bodies{0};
  WriteBackQueue a("a", ClientConfig{}, SmallQueue(), [&] {
    return std::make_unique<SwitchSender>(&a_up, &a_bodies);
  });
  WriteBackQueue b("b", ClientConfig{}, SmallQueue(), [&] {
    return std::make_unique<SwitchSender>(&b_up, &b_bodies);
  });
  Fanout fanout({&a, &b});
  const std::string input = Labels({{"__name__", "cpu"}});
  ewma::EmittedDerived d{model::HashLabelSet(input), input, 1000, {}};
  d.values.present = ewma::kDefaultOutputs;
  REQUIRE(fanout.HasRoomFor({d.labels_hash}));
  fanout.Push(7, {d, d});
  // Target b is down: record 7 is not delivered everywhere.
  REQUIRE_FALSE(fanout.WaitAcknowledged(7, std::chrono::steady_clock::now() +
                                               50ms));
  REQUIRE(a.AcknowledgedThrough() == 7);
  b_up = true;
  REQUIRE(fanout.WaitAcknowledged(7, std::chrono::steady_clock::now() + 5s));
  // Records after the last push do not exist yet; before the first, they
  // were delivered before this process started.
  REQUIRE(fanout.WaitAcknowledged(9, std::chrono::steady_clock::now()));
  REQUIRE(a.stats().samples_sent == 4);
  REQUIRE(b.stats().samples_sent == 4);

  // Every target must have room: b, down, keeps its backlog at capacity
  // while a drains.
  b_up = false;
  std::vector<ewma::EmittedDerived> many(50, d);  // 100 samples, capacity
  fanout.Push(8, many);
  REQUIRE_FALSE(fanout.HasRoomFor({d.labels_hash}));
  REQUIRE_FALSE(fanout.WaitForRoom({d.labels_hash},
                                   std::chrono::steady_clock::now() + 20ms));
  fanout.MarkStopped();
  REQUIRE(fanout.stopped());
  // Stopped: the waits give up at once, however far the deadline.
  REQUIRE_FALSE(fanout.WaitAcknowledged(8, std::chrono::steady_clock::now() +
                                               std::chrono::hours(1)));
  REQUIRE(fanout.refused() == 0);
  a.Stop(0ms);
  b.Stop(0ms);
}

}  // namespace
}  // namespace promewma::writeback
