// The real promewma binary: command line, config checking, serving, and a
// clean exit on SIGTERM.

#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "codec/snappy_block.h"
#include "promewma/version.h"
#include "testing/remote_write.h"
#include "testing/subprocess.h"

namespace promewma::app {
namespace {

using namespace std::chrono_literals;
using testing::RunCommand;
using testing::Subprocess;
using testing::TempDir;

const std::string kBinary = std::string(PROMEWMA_BINARY_DIR) + "/bin/promewma";

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
  TempDir dir;
  const int port = testing::FreeLoopbackPort();
  Subprocess first({kBinary, "--listen", "127.0.0.1:" + std::to_string(port),
                    "--data-dir", dir.path() + "/data1"},
                   dir.path());
  REQUIRE(testing::WaitForHttpOk(port, "/-/ready", 10s));
  std::string out, err;
  REQUIRE(RunCommand({kBinary, "--listen", "127.0.0.1:" + std::to_string(port),
                      "--data-dir", dir.path() + "/data2"},
                     dir.path(), &out, &err) == 1);
  REQUIRE(err.find("cannot listen on 127.0.0.1:" + std::to_string(port)) !=
          std::string::npos);
  first.Signal(SIGTERM);
  REQUIRE(first.Wait(10s) == 0);
}

TEST_CASE("serves remote write and /metrics, exits 0 on SIGTERM") {
  TempDir dir;
  const int port = testing::FreeLoopbackPort();
  const std::string config = dir.WriteFile("promewma.yml", R"(
ewma:
  span: 10
  min_samples: 3
  outputs: [ewma, upper_threshold, lower_threshold]
rules:
  - match: cpu_utilization
)");
  Subprocess p({kBinary, "--config", config, "--listen",
                "127.0.0.1:" + std::to_string(port), "--log-level", "debug",
                "--data-dir", dir.path() + "/data"},
               dir.path());
  REQUIRE(testing::WaitForHttpOk(port, "/-/ready", 10s));

  std::vector<std::pair<int64_t, double>> samples;
  for (int i = 0; i < 6; ++i) samples.push_back({1000 * i, 50.0 + i});
  const std::string body =
      codec::CompressSnappyBlock(testing::SerializeWriteRequest(
          {{{{"__name__", "cpu_utilization"}, {"instance", "vm-1"}}, samples},
           {{{"__name__", "memory"}, {"instance", "vm-1"}}, samples}}));
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/api/v1/write", {{"Content-Encoding", "snappy"}}, body,
                  "application/x-protobuf");
  REQUIRE(r);
  REQUIRE(r->status == 204);
  auto m = c.Get("/metrics");
  REQUIRE(m);
  INFO(m->body);
  REQUIRE(m->body.find("cpu_utilization:ewma{instance=\"vm-1\"} ") !=
          std::string::npos);
  REQUIRE(m->body.find("cpu_utilization:lower_threshold{instance=\"vm-1\"} ") !=
          std::string::npos);
  REQUIRE(m->body.find("memory:ewma") == std::string::npos);  // no rule matches
  REQUIRE(m->body.find(
              "promewma_write_samples_dropped_total{reason=\"unmatched\"} 6") !=
          std::string::npos);
  REQUIRE(m->body.find("promewma_build_info{version=\"") != std::string::npos);
  // One request logged: its body and a 21-byte record header.
  REQUIRE(m->body.find("\npromewma_request_log_segments 1\n") !=
          std::string::npos);
  REQUIRE(m->body.find("\npromewma_request_log_bytes " +
                       std::to_string(21 + body.size()) + "\n") !=
          std::string::npos);

  p.Signal(SIGTERM);
  REQUIRE(p.Wait(10s) == 0);
  const std::string log = p.Stderr();
  REQUIRE(log.find("listening on 127.0.0.1:" + std::to_string(port)) !=
          std::string::npos);
  REQUIRE(log.find("shutting down") != std::string::npos);
  REQUIRE(log.find("checkpoint: 1 series") != std::string::npos);

  // The shutdown checkpoint leaves nothing to replay, and nothing is lost.
  Subprocess again(
      {kBinary, "--config", config, "--listen",
       "127.0.0.1:" + std::to_string(port), "--data-dir", dir.path() + "/data"},
      dir.path());
  REQUIRE(testing::WaitForHttpOk(port, "/-/ready", 10s));
  auto m2 = c.Get("/metrics");
  REQUIRE(m2);
  const std::string ewma_line = "cpu_utilization:ewma{instance=\"vm-1\"} ";
  const size_t a = m->body.find(ewma_line), b = m2->body.find(ewma_line);
  REQUIRE(b != std::string::npos);
  REQUIRE(m2->body.substr(b, m2->body.find('\n', b) - b) ==
          m->body.substr(a, m->body.find('\n', a) - a));
  // The shutdown checkpoint covered the whole log: no segment is left.
  REQUIRE(m2->body.find("\npromewma_request_log_segments 0\n") !=
          std::string::npos);
  REQUIRE(m2->body.find("\npromewma_request_log_bytes 0\n") !=
          std::string::npos);
  again.Signal(SIGTERM);
  REQUIRE(again.Wait(10s) == 0);
  REQUIRE(again.Stderr().find(
              "recovered 1 series from the checkpoint and 0 requests") !=
          std::string::npos);
}

}  // namespace
}  // namespace promewma::app
