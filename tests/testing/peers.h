// The real programs the tests run against, started the one way: promewma
// (the binary this build made) and the Debian peers Prometheus 2.42,
// VictoriaMetrics 1.79, vmagent, Alertmanager 0.25 and node_exporter.
//
// Each peer runs in a temporary directory of its own (its config, data and
// captured output live there) and listens on 127.0.0.1 on a port the kernel
// chose: it is started with port 0 and the fixture reads the port it bound
// from /proc (its one listening TCP socket), so no port is picked, released
// and raced for. A restart binds the port the peer had, so the URLs other
// peers were given stay valid.
//
// A peer that is not installed fails the running test with a message that
// names the binary and the Debian package to install (tools/bootstrap.sh):
// a test of a real peer never passes without running.
//
//   auto promewma = testing::StartPromewma();
//   auto prometheus = testing::StartPrometheus(
//       "remote_read: [{url: " + promewma->url() + "/api/v1/read}]\n");
//   ... prometheus->url() ...
//   REQUIRE(promewma->MetricValue("promewma_series_active") == 1);
//   REQUIRE(promewma->Stop() == 0);  // SIGTERM; exit status
//
// Thread-safety: a Peer is used by one thread at a time; const methods
// (port(), url(), Scrape()) may be called from several.

#ifndef PROMEWMA_TESTS_TESTING_PEERS_H_
#define PROMEWMA_TESTS_TESTING_PEERS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "testing/subprocess.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace promewma::testing {

// Paths of the binaries this build made.
std::string PromewmaBinary();
std::string Csv2rwBinary();
std::string RwbenchBinary();

// ---------------------------------------------------------------------------
// The Prometheus text exposition format (version 0.0.4), as /metrics and
// /federate serve it.

using LabelSet = std::map<std::string, std::string>;

struct ExposedSample {
  std::string name;
  LabelSet labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

// Every sample line of `text` (comments and blank lines skipped). Label
// values are unescaped; NaN, +Inf and -Inf are read. Fails the running test
// on a line that is not in the format.
std::vector<ExposedSample> ParseExposition(const std::string& text);

// The sample named `name` whose labels are exactly `labels` (no more, no
// fewer); nullopt when there is none. Fails the running test when there is
// more than one.
std::optional<ExposedSample> FindSample(
    const std::vector<ExposedSample>& samples, const std::string& name,
    const LabelSet& labels = {});

// Every sample named `name`, whatever its labels.
// The path of promewma's (or Prometheus') federation endpoint for these
// selectors: /federate?match[]=...&match[]=..., percent-encoded.
std::string FederatePath(const std::vector<std::string>& match);

std::vector<ExposedSample> SamplesNamed(
    const std::vector<ExposedSample>& samples, const std::string& name);

// ---------------------------------------------------------------------------

// A running peer. Destroying it stops it (SIGTERM, a bounded wait, then
// SIGKILL) and removes its directory.
class Peer {
 public:
  // What a peer is and how it starts; the Start* functions below fill it.
  struct Spec {
    std::string name;        // "prometheus", for messages
    std::string binary;      // absolute path
    std::string package;     // Debian package that installs it ("" = ours)
    std::string ready_path;  // answers 200 once the peer serves
    std::chrono::milliseconds ready_timeout{30000};
    // argv after the binary, given the peer's directory and its listen
    // address ("127.0.0.1:PORT").
    std::function<std::vector<std::string>(const std::string& dir,
                                           const std::string& listen)>
        args;
    std::vector<std::string> extra_args;  // appended to args()
    // How the fixture's own requests (the ready check, Get) reach a peer
    // served with TLS and basic auth; all empty: plain HTTP.
    std::string ca_file;  // https, the server verified against this CA
    std::string client_cert, client_key;
    std::string user, password;
  };

  // Fails the running test when spec.binary is not installed, then
  // Start()s it. Files the peer needs before it starts (its config) are
  // written with write_files: name -> content, into dir().
  Peer(Spec spec, const std::map<std::string, std::string>& write_files = {});
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // Starts the peer (again) and returns once its ready path answers 200:
  // on a port the kernel chooses the first time, on the same port after.
  // Fails the running test, with the peer's output, when it exits or is
  // not ready within the spec's timeout.
  // REQUIRES: not running.
  void Start();
  // SIGTERM, then waits up to `timeout` for the exit; SIGKILL after that.
  // Returns the exit status (128 + signal when a signal ended it).
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGKILL (a crash); returns the exit status, 128 + SIGKILL.
  int Kill();
  bool running() const { return process_ != nullptr; }
  // The running process' id. REQUIRES: running().
  pid_t pid() const { return process_->pid(); }

  const std::string& name() const { return spec_.name; }
  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"
  std::string url() const;      // "http[s]://127.0.0.1:PORT"
  // The peer's own directory; its data lives in dir() + "/data".
  const std::string& dir() const { return dir_.path(); }
  std::string WriteFile(const std::string& name,
                        const std::string& content) const {
    return dir_.WriteFile(name, content);
  }

  // Output of the current (or last) run.
  std::string Stdout() const;
  std::string Stderr() const;
  // The last `bytes` of Stderr(), for failure messages.
  std::string StderrTail(size_t bytes = 4000) const;

  // GET path; fails the running test unless it answers 200. Returns the body.
  std::string Get(const std::string& path) const;
  // The samples of one GET /metrics.
  std::vector<ExposedSample> Scrape(const std::string& path = "/metrics") const;
  // A client for the peer's port, with the spec's TLS and basic auth.
  std::unique_ptr<httplib::Client> Client() const;
  // The value of the one sample `name`{labels} (labels matched exactly) on
  // /metrics; fails the running test when it is not there.
  double MetricValue(const std::string& name,
                     const LabelSet& labels = {}) const;

 private:
  Spec spec_;
  TempDir dir_;
  int port_ = 0;                         // 0 until the first start
  std::unique_ptr<Subprocess> process_;  // null while stopped
  std::unique_ptr<Subprocess> last_;     // the stopped run, for its output
};

// promewma from this build. Always given --listen and --data-dir
// (dir()/data, kept across restarts); --log-level and other flags go in
// `args`. `config`, when not empty, is written to dir()/promewma.yml and
// passed with --config.
// `web_config`, when not empty, is written to dir()/web.yml and passed
// with --web.config.file; `access` then says how the fixture's requests
// reach it (its ca_file, client certificate and basic auth fields).
struct PromewmaOptions {
  std::string config;
  std::vector<std::string> args;
  std::string web_config;
  Peer::Spec access;
};
std::unique_ptr<Peer> StartPromewma(const PromewmaOptions& options = {});

// Prometheus 2.42 with `config` as prometheus.yml, TSDB in dir()/data.
// `flags` such as --web.enable-remote-write-receiver are appended. `files`
// (name -> content) are written next to prometheus.yml first: rule files,
// which the config names relative to itself.
std::unique_ptr<Peer> StartPrometheus(
    const std::string& config, std::vector<std::string> flags = {},
    const std::map<std::string, std::string>& files = {});

// VictoriaMetrics 1.79 (single node), data in dir()/data, a retention that
// accepts any test data's timestamps.
std::unique_ptr<Peer> StartVictoriaMetrics(std::vector<std::string> flags = {});

// vmagent, remote-writing to `remote_write_url`.
std::unique_ptr<Peer> StartVmagent(const std::string& remote_write_url,
                                   std::vector<std::string> flags = {});

// Alertmanager 0.25 with `config` as alertmanager.yml, clustering off.
std::unique_ptr<Peer> StartAlertmanager(const std::string& config,
                                        std::vector<std::string> flags = {});

// node_exporter; `flags` chooses collectors, e.g. {"--collector.disable-
// defaults", "--collector.cpu"}.
std::unique_ptr<Peer> StartNodeExporter(std::vector<std::string> flags = {});

// The prometheus.yml of the integration tests that run the whole input
// path: node_exporter scraped as job "node" (and `extra_jobs`, as
// `name -> address`) every `interval`, rules evaluated as often, and
// remote_write to promewma with `queue_config` (the body of that mapping,
// e.g. "{batch_send_deadline: 1s}") and, when `keep` is not empty, a
// write_relabel_configs keep of that metric name, as
// deploy/prometheus/prometheus.yml does. `extra` is appended at the top
// level (rule_files, storage, alerting).
struct NodeToPromewmaConfig {
  std::string interval = "1s";
  std::string queue_config = "{}";
  std::string keep;
  std::map<std::string, std::string> extra_jobs;
  std::string extra;
};
std::string PrometheusConfig(const Peer& node_exporter, const Peer& promewma,
                             const NodeToPromewmaConfig& options);

// The TCP ports process `pid` listens on (from /proc), in no order.
std::vector<int> ListeningTcpPorts(pid_t pid);

}  // namespace promewma::testing

#endif  // PROMEWMA_TESTS_TESTING_PEERS_H_
