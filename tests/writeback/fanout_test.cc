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

TEST_CASE("a fanout's targets change: an added one counts from its first "
          "record and a removed one holds up no wait") {
  std::atomic<bool> a_up{true}, b_up{false}, c_up{false};
  std::atomic<int> a_bodies{0}, b_bodies{0}, c_bodies{0};
  auto queue = [](const char* name, std::atomic<bool>* up,
                  std::atomic<int>* bodies) {
    return std::make_shared<WriteBackQueue>(
        name, ClientConfig{}, SmallQueue(),
        [up, bodies] { return std::make_unique<SwitchSender>(up, bodies); });
  };
  auto a = queue("a", &a_up, &a_bodies);
  auto b = queue("b", &b_up, &b_bodies);
  auto c = queue("c", &c_up, &c_bodies);
  std::unique_ptr<Fanout> fanout = Fanout::Sharing({a, b});
  const std::string input = Labels({{"__name__", "cpu"}});
  ewma::EmittedDerived d{model::HashLabelSet(input), input, 1000, {}};
  d.values.present = ewma::OutputBit(ewma::Output::kEwma);
  fanout->Push(1, {d});
  REQUIRE_FALSE(fanout->WaitAcknowledged(1, std::chrono::steady_clock::now() +
                                                20ms));  // b is down

  // b leaves (still stopping), c comes: record 1 is none of c's business,
  // but b may hold label views until it has stopped.
  fanout->SetQueues({a, c}, {b});
  REQUIRE(fanout->HoldsLabelViews());
  REQUIRE_FALSE(fanout->WaitAcknowledged(1, std::chrono::steady_clock::now() +
                                                20ms));
  b->Stop(0ms);
  fanout->Retired(b.get());
  REQUIRE(fanout->WaitAcknowledged(1, std::chrono::steady_clock::now() + 5s));
  // Record 2 goes to a and c only; c, down, holds it up until it is up.
  fanout->Push(2, {d});
  REQUIRE_FALSE(fanout->WaitAcknowledged(2, std::chrono::steady_clock::now() +
                                                20ms));
  c_up = true;
  REQUIRE(fanout->WaitAcknowledged(2, std::chrono::steady_clock::now() + 5s));
  REQUIRE(a->stats().samples_sent == 2);
  REQUIRE(c->stats().samples_sent == 1);
  REQUIRE(b->stats().samples_sent == 0);

  // No target at all: nothing holds label views, every wait passes.
  fanout->SetQueues({}, {a, c});
  a->Stop(1s);
  c->Stop(1s);
  fanout->Retired(a.get());
  REQUIRE(fanout->HoldsLabelViews());
  fanout->Retired(c.get());
  REQUIRE_FALSE(fanout->HoldsLabelViews());
  fanout->Push(3, {d});
  REQUIRE(fanout->WaitAcknowledged(3, std::chrono::steady_clock::now()));
  REQUIRE(fanout->refused() == 0);
}

}  // namespace
}  // namespace promewma::writeback
