// The real promewma binary: command line, config checking, serving, and a
// clean exit on SIGTERM.

#include <httplib.h>

#include <catch2/catch.hpp>
#include <optional>

#include "codec/snappy_block.h"
#include "ewma/series_estimator.h"
#include "promewma/version.h"
#include "testing/peers.h"
#include "testing/remote_write.h"

namespace promewma::app {
namespace {

using testing::RunCommand;
using testing::TempDir;

const std::string kBinary = testing::PromewmaBinary();

TEST_CASE("version and help flags") {
  TempDir dir;
  std::string out, err;
  REQUIRE(RunCommand({kBinary, "--version"}, dir.path(), &out, &err) == 0);
  REQUIRE(out == std::string("promewma ") + kVersion + "\n");
  REQUIRE(RunCommand({kBinary, "--help"}, dir.path(), &out, &err) == 0);
  REQUIRE(out.find("--check-config") != std::string::npos);
}

TEST_CASE("check-config accepts a good file and explains a bad one") {
  TempDir dir;
  std::string out, err;
  const std::string good = dir.WriteFile("good.yml", R"(
ewma:
  span: 20
rules:
  - match: '{__name__="cpu_utilization",job=~"node|vm"}'
    k: 4
)");
  REQUIRE(RunCommand({kBinary, "--check-config", good}, dir.path(), &out,
                     &err) == 0);
  REQUIRE(out == good + ": valid (1 rules)\n");

  const std::string bad = dir.WriteFile("bad.yml", "ewma:\n  spam: 3\n");
  REQUIRE(RunCommand({kBinary, "--check-config", bad}, dir.path(), &out,
                     &err) == 1);
  REQUIRE(err == bad + ": ewma.spam: unknown key\n");

  REQUIRE(RunCommand({kBinary, "--check-config", dir.path() + "/missing.yml"},
                     dir.path(), &out, &err) == 1);
  REQUIRE(err.find("missing.yml") != std::string::npos);
  REQUIRE(std::count(err.begin(), err.end(), '\n') == 1);
}

TEST_CASE("bad flags and a bad config file stop startup with one line") {
  TempDir dir;
  std::string out, err;
  REQUIRE(RunCommand({kBinary, "--log-level", "loud"}, dir.path(), &out,
                     &err) != 0);
  REQUIRE(err.find("--log-level") != std::string::npos);
  const std::string bad = dir.WriteFile("bad.yml", "listen: nowhere\n");
  REQUIRE(RunCommand({kBinary, "--config", bad}, dir.path(), &out, &err) == 1);
  REQUIRE(err == bad + ": listen: expected HOST:PORT, got \"nowhere\"\n");
}

TEST_CASE("a port in use is reported, not crashed on") {
  auto first = testing::StartPromewma();
  TempDir dir;
  std::string out, err;
  REQUIRE(RunCommand({kBinary, "--listen", first->address(), "--data-dir",
                      dir.path() + "/data"},
                     dir.path(), &out, &err) == 1);
  REQUIRE(err.find("cannot listen on " + first->address()) !=
          std::string::npos);
  REQUIRE(first->Stop() == 0);
}

TEST_CASE("serves remote write and /metrics, exits 0 on SIGTERM") {
  testing::PromewmaOptions options;
  options.config = R"(
ewma:
  span: 10
  min_samples: 3
  outputs: [ewma, upper_threshold, lower_threshold]
rules:
  - match: cpu_utilization
)";
  options.args = {"--log-level", "debug"};
  auto p = testing::StartPromewma(options);

  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 0; i < 6; ++i) samples.push_back({1000 * i, 50.0 + i});
  const std::string body =
      codec::CompressSnappyBlock(testing::SerializeWriteRequest(
          {{{{"__name__", "cpu_utilization"}, {"instance", "vm-1"}}, samples},
           {{{"__name__", "memory"}, {"instance", "vm-1"}}, samples}}));
  httplib::Client c("127.0.0.1", p->port());
  auto r = c.Post("/api/v1/write", {{"Content-Encoding", "snappy"}}, body,
                  "application/x-protobuf");
  REQUIRE(r);
  REQUIRE(r->status == 204);

  // The derived values are the estimator's for the config above.
  ewma::EstimatorParams params;
  params.min_samples = 3;
  params.outputs = ewma::OutputBit(ewma::Output::kEwma) |
                   ewma::OutputBit(ewma::Output::kUpperThreshold) |
                   ewma::OutputBit(ewma::Output::kLowerThreshold);
  ewma::EstimatorState state;
  ewma::DerivedValues want;
  for (const auto& [t, v] : samples)
    ewma::UpdateEstimator(params, &state, t, v, &want);
  REQUIRE(want.has(ewma::Output::kLowerThreshold));

  const std::vector<testing::ExposedSample> derived =
      p->Scrape(testing::FederatePath({"{__name__=~\"(cpu_utilization|memory):.*\"}"}));
  const std::vector<testing::ExposedSample> m = p->Scrape();
  const testing::LabelSet vm1 = {{"instance", "vm-1"}};
  for (const auto& [name, output] :
       {std::pair{"cpu_utilization:ewma", ewma::Output::kEwma},
        {"cpu_utilization:upper_threshold", ewma::Output::kUpperThreshold},
        {"cpu_utilization:lower_threshold", ewma::Output::kLowerThreshold}}) {
    INFO(name);
    const std::optional<testing::ExposedSample> got =
        testing::FindSample(derived, name, vm1);
    REQUIRE(got);
    // /federate prints the shortest text that parses back exactly.
    REQUIRE(got->value == want.get(output));
    REQUIRE(got->timestamp_ms == samples.back().first);
  }
  // No rule matches memory: it derives nothing and is counted.
  REQUIRE(testing::SamplesNamed(derived, "memory:ewma").empty());
  // /metrics is promewma's own health: no series of its input.
  REQUIRE(testing::SamplesNamed(m, "cpu_utilization:ewma").empty());
  REQUIRE(p->MetricValue("promewma_write_samples_dropped_total",
                         {{"reason", "unmatched"}}) == 6);
  REQUIRE(testing::SamplesNamed(m, "promewma_build_info").size() == 1);
  REQUIRE(testing::SamplesNamed(m, "promewma_build_info")[0].labels.at(
              "version") == kVersion);
  // One request logged: its body and a 21-byte record header.
  REQUIRE(p->MetricValue("promewma_request_log_segments") == 1);
  REQUIRE(p->MetricValue("promewma_request_log_bytes") == 21 + body.size());
  const double ewma_before =
      testing::FindSample(derived, "cpu_utilization:ewma", vm1)->value;

  REQUIRE(p->Stop() == 0);
  const std::string log = p->Stderr();
  // The start-up line names the port the kernel chose for --listen ...:0.
  REQUIRE(log.find("listening on " + p->address() + ", ") != std::string::npos);
  REQUIRE(log.find("shutting down") != std::string::npos);
  REQUIRE(log.find("checkpoint: 1 series") != std::string::npos);

  // The shutdown checkpoint leaves nothing to replay, and nothing is lost.
  p->Start();
  const std::optional<testing::ExposedSample> after = testing::FindSample(
      p->Scrape(testing::FederatePath({"cpu_utilization:ewma"})),
      "cpu_utilization:ewma", vm1);
  REQUIRE(after);
  REQUIRE(after->value == ewma_before);
  // The shutdown checkpoint covered the whole log: no segment is left.
  REQUIRE(p->MetricValue("promewma_request_log_segments") == 0);
  REQUIRE(p->MetricValue("promewma_request_log_bytes") == 0);
  REQUIRE(p->Stop() == 0);
  REQUIRE(p->Stderr().find(
              "recovered 1 series from the checkpoint and 0 requests") !=
          std::string::npos);
}

}  // namespace
}  // namespace promewma::app
