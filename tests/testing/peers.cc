#include "testing/peers.h"

#include <dirent.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace promewma::testing {
namespace {

using namespace std::chrono_literals;

// Fails the running test when `binary` cannot be run, naming it and what
// installs it.
void RequireInstalled(const Peer::Spec& spec) {
  if (access(spec.binary.c_str(), X_OK) == 0) return;
  if (spec.package.empty()) {
    FAIL(spec.name << " is not built (" << spec.binary
                   << "): build the project first (cmake --build build)");
  }
  FAIL(spec.name << " is not installed (" << spec.binary
                 << "): install the Debian package '" << spec.package
                 << "' (tools/bootstrap.sh installs every test peer)");
}

// Socket inodes of the open file descriptors of `pid`.
std::set<std::string> SocketInodes(pid_t pid) {
  std::set<std::string> inodes;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = opendir(fd_dir.c_str());
  if (dir == nullptr) return inodes;
  while (dirent* e = readdir(dir)) {
    char target[64];
    const std::string link = fd_dir + "/" + e->d_name;
    const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    const std::string t(target, n);
    // "socket:[12345]"
    if (t.rfind("socket:[", 0) == 0 && t.back() == ']')
      inodes.insert(t.substr(8, t.size() - 9));
  }
  closedir(dir);
  return inodes;
}

bool ParseDouble(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == ':';
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// One sample line; false when it is not in the format.
bool ParseSampleLine(const std::string& line, ExposedSample* out) {
  size_t i = 0;
  const size_t n = line.size();
  auto skip_blanks = [&] {
    while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
  };
  if (i >= n || !IsNameStart(line[i])) return false;
  while (i < n && IsNameChar(line[i])) ++i;
  out->name = line.substr(0, i);
  out->labels.clear();
  if (i < n && line[i] == '{') {
    ++i;
    while (true) {
      skip_blanks();
      if (i < n && line[i] == '}') {
        ++i;
        break;
      }
      const size_t start = i;
      if (i >= n || !IsNameStart(line[i]) || line[i] == ':') return false;
      while (i < n && IsNameChar(line[i]) && line[i] != ':') ++i;
      const std::string label = line.substr(start, i - start);
      skip_blanks();
      if (i >= n || line[i] != '=') return false;
      ++i;
      skip_blanks();
      if (i >= n || line[i] != '"') return false;
      ++i;
      std::string value;
      while (true) {
        if (i >= n) return false;
        const char c = line[i++];
        if (c == '"') break;
        if (c != '\\') {
          value += c;
          continue;
        }
        if (i >= n) return false;
        const char e = line[i++];
        if (e == 'n') {
          value += '\n';
        } else if (e == '\\' || e == '"') {
          value += e;
        } else {
          return false;
        }
      }
      if (!out->labels.emplace(label, value).second) return false;
      skip_blanks();
      if (i < n && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < n && line[i] == '}') {
        ++i;
        break;
      }
      return false;
    }
  }
  if (i >= n || (line[i] != ' ' && line[i] != '\t')) return false;
  skip_blanks();
  std::vector<std::string> fields;
  std::istringstream rest(line.substr(i));
  std::string field;
  while (rest >> field) fields.push_back(field);
  if (fields.empty() || fields.size() > 2) return false;
  if (!ParseDouble(fields[0], &out->value)) return false;
  out->timestamp_ms.reset();
  if (fields.size() == 2) {
    const std::string& t = fields[1];
    size_t digits = t[0] == '-' ? 1 : 0;
    if (digits == t.size()) return false;
    for (size_t k = digits; k < t.size(); ++k) {
      if (t[k] < '0' || t[k] > '9') return false;
    }
    out->timestamp_ms = std::stoll(t);
  }
  return true;
}

std::vector<std::string> PrometheusArgs(const std::string& dir,
                                        const std::string& listen) {
  return {"--config.file=" + dir + "/prometheus.yml",
          "--storage.tsdb.path=" + dir + "/data",
          "--web.listen-address=" + listen};
}

std::vector<std::string> VictoriaMetricsArgs(const std::string& dir,
                                             const std::string& listen) {
  // 100 years: VictoriaMetrics drops samples outside its retention, and
  // test data may lie anywhere in time.
  return {"-storageDataPath=" + dir + "/data", "-httpListenAddr=" + listen,
          "-retentionPeriod=100y"};
}

std::vector<std::string> AlertmanagerArgs(const std::string& dir,
                                          const std::string& listen) {
  // An empty cluster address turns gossip (and its second port) off.
  return {"--config.file=" + dir + "/alertmanager.yml",
          "--storage.path=" + dir + "/data", "--web.listen-address=" + listen,
          "--cluster.listen-address="};
}

std::vector<std::string> NodeExporterArgs(const std::string&,
                                          const std::string& listen) {
  return {"--web.listen-address=" + listen};
}

}  // namespace

std::string PromewmaBinary() {
  return std::string(PROMEWMA_BINARY_DIR) + "/bin/promewma";
}

std::string RwbenchBinary() {
  return std::string(PROMEWMA_BINARY_DIR) + "/bin/rwbench";
}

std::string Csv2rwBinary() {
  return std::string(PROMEWMA_BINARY_DIR) + "/bin/csv2rw";
}

std::string FederatePath(const std::vector<std::string>& match) {
  std::string path = "/federate";
  char sep = '?';
  for (const std::string& selector : match) {
    path += sep;
    path += "match%5B%5D=";
    for (unsigned char c : selector) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        path += static_cast<char>(c);
      } else {
        char hex[4];
        std::snprintf(hex, sizeof(hex), "%%%02X", c);
        path += hex;
      }
    }
    sep = '&';
  }
  return path;
}

std::vector<ExposedSample> ParseExposition(const std::string& text) {
  std::vector<ExposedSample> samples;
  std::istringstream in(text);
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    ExposedSample sample;
    if (!ParseSampleLine(line.substr(first), &sample)) {
      FAIL("not in the text exposition format, line " << line_number << ": "
                                                      << line);
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

std::optional<ExposedSample> FindSample(
    const std::vector<ExposedSample>& samples, const std::string& name,
    const LabelSet& labels) {
  std::optional<ExposedSample> found;
  for (const ExposedSample& s : samples) {
    if (s.name != name || s.labels != labels) continue;
    if (found) FAIL("sample " << name << " appears twice with one label set");
    found = s;
  }
  return found;
}

std::vector<ExposedSample> SamplesNamed(
    const std::vector<ExposedSample>& samples, const std::string& name) {
  std::vector<ExposedSample> out;
  for (const ExposedSample& s : samples) {
    if (s.name == name) out.push_back(s);
  }
  return out;
}

std::vector<int> ListeningTcpPorts(pid_t pid) {
  const std::set<std::string> inodes = SocketInodes(pid);
  std::vector<int> ports;
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/net/" + table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout
      // inode ...
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, timer, retransmits, uid,
          timeout, inode;
      fields >> sl >> local >> remote >> state >> queues >> timer >>
          retransmits >> uid >> timeout >> inode;
      if (state != "0A" || inodes.count(inode) == 0) continue;  // LISTEN
      const size_t colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      ports.push_back(std::stoi(local.substr(colon + 1), nullptr, 16));
    }
  }
  return ports;
}

Peer::Peer(Spec spec, const std::map<std::string, std::string>& write_files)
    : spec_(std::move(spec)) {
  RequireInstalled(spec_);
  for (const auto& [name, content] : write_files) dir_.WriteFile(name, content);
  Start();
}

Peer::~Peer() {
  if (running()) Stop();
}

void Peer::Start() {
  REQUIRE_FALSE(running());
  std::vector<std::string> argv = {spec_.binary};
  for (std::string& a : spec_.args(dir(), "127.0.0.1:" + std::to_string(port_)))
    argv.push_back(std::move(a));
  argv.insert(argv.end(), spec_.extra_args.begin(), spec_.extra_args.end());
  process_ = std::make_unique<Subprocess>(argv, dir());

  const auto deadline = std::chrono::steady_clock::now() + spec_.ready_timeout;
  auto fail = [&](const std::string& why) {
    const std::string log = StderrTail();
    process_->Signal(SIGKILL);
    process_->Wait(10s);
    last_ = std::move(process_);
    FAIL(spec_.name << " " << why << "\nstderr tail:\n" << log);
  };
  // The port it bound: its one listening TCP socket.
  while (true) {
    if (process_->Wait(0ms) >= 0) fail("exited during start-up");
    // Until it execs, the child shares the test's own sockets (a sink
    // the test serves): those are not the peer's.
    std::vector<int> ports = ListeningTcpPorts(process_->pid());
    for (int own : ListeningTcpPorts(::getpid())) {
      ports.erase(std::remove(ports.begin(), ports.end(), own), ports.end());
    }
    if (ports.size() > 1) {
      fail("listens on " + std::to_string(ports.size()) +
           " TCP ports; the fixture expects one");
    }
    if (ports.size() == 1) {
      if (port_ != 0 && ports[0] != port_) {
        fail("listens on port " + std::to_string(ports[0]) + ", not " +
             std::to_string(port_));
      }
      port_ = ports[0];
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      fail("did not listen within " +
           std::to_string(spec_.ready_timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(10ms);
  }
  std::unique_ptr<httplib::Client> client = Client();
  client->set_connection_timeout(1, 0);
  client->set_read_timeout(5, 0);
  while (true) {
    if (process_->Wait(0ms) >= 0) fail("exited during start-up");
    auto r = client->Get(spec_.ready_path);
    if (r && r->status == 200) return;
    if (std::chrono::steady_clock::now() > deadline) {
      fail("was not ready (GET " + spec_.ready_path + " -> 200) within " +
           std::to_string(spec_.ready_timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(20ms);
  }
}

int Peer::Stop(std::chrono::milliseconds timeout) {
  if (!running()) return last_ != nullptr ? last_->Wait(0ms) : -1;
  process_->Signal(SIGTERM);
  int status = process_->Wait(timeout);
  if (status < 0) {
    process_->Signal(SIGKILL);
    status = process_->Wait(30s);
  }
  last_ = std::move(process_);
  return status;
}

int Peer::Kill() {
  if (!running()) return last_ != nullptr ? last_->Wait(0ms) : -1;
  process_->Signal(SIGKILL);
  const int status = process_->Wait(30s);
  last_ = std::move(process_);
  return status;
}

std::string Peer::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

std::string Peer::url() const {
  return (spec_.ca_file.empty() ? "http://" : "https://") + address();
}

std::unique_ptr<httplib::Client> Peer::Client() const {
  auto client = spec_.client_cert.empty()
                    ? std::make_unique<httplib::Client>(url())
                    : std::make_unique<httplib::Client>(
                          url(), spec_.client_cert, spec_.client_key);
  if (!spec_.ca_file.empty()) {
    client->set_ca_cert_path(spec_.ca_file);
    client->enable_server_certificate_verification(true);
  }
  if (!spec_.user.empty()) client->set_basic_auth(spec_.user, spec_.password);
  return client;
}

std::string Peer::Stdout() const {
  const Subprocess* p = process_ != nullptr ? process_.get() : last_.get();
  return p != nullptr ? p->Stdout() : "";
}

std::string Peer::Stderr() const {
  const Subprocess* p = process_ != nullptr ? process_.get() : last_.get();
  return p != nullptr ? p->Stderr() : "";
}

std::string Peer::StderrTail(size_t bytes) const {
  const std::string all = Stderr();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

std::string Peer::Get(const std::string& path) const {
  std::unique_ptr<httplib::Client> client = Client();
  client->set_read_timeout(20, 0);
  auto r = client->Get(path);
  INFO(spec_.name << " GET " << path);
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  return r->body;
}

std::vector<ExposedSample> Peer::Scrape(const std::string& path) const {
  return ParseExposition(Get(path));
}

double Peer::MetricValue(const std::string& name,
                         const LabelSet& labels) const {
  const std::optional<ExposedSample> s = FindSample(Scrape(), name, labels);
  if (!s) {
    std::string want = name + "{";
    for (const auto& [k, v] : labels) want += k + "=\"" + v + "\",";
    FAIL(spec_.name << " /metrics has no sample " << want << "}");
  }
  return s->value;
}

std::unique_ptr<Peer> StartPromewma(const PromewmaOptions& options) {
  Peer::Spec spec;
  spec.name = "promewma";
  spec.binary = PromewmaBinary();
  spec.ready_path = "/-/ready";  // after recovery
  spec.ready_timeout = 60s;
  const bool with_config = !options.config.empty();
  const bool with_web = !options.web_config.empty();
  spec.args = [with_config, with_web](const std::string& dir,
                                      const std::string& listen) {
    std::vector<std::string> args = {"--listen", listen, "--data-dir",
                                     dir + "/data"};
    if (with_config) {
      args.push_back("--config");
      args.push_back(dir + "/promewma.yml");
    }
    if (with_web) {
      args.push_back("--web.config.file");
      args.push_back(dir + "/web.yml");
    }
    return args;
  };
  spec.extra_args = options.args;
  spec.ca_file = options.access.ca_file;
  spec.client_cert = options.access.client_cert;
  spec.client_key = options.access.client_key;
  spec.user = options.access.user;
  spec.password = options.access.password;
  std::map<std::string, std::string> files;
  if (with_config) files["promewma.yml"] = options.config;
  if (with_web) files["web.yml"] = options.web_config;
  return std::make_unique<Peer>(std::move(spec), files);
}

std::unique_ptr<Peer> StartPrometheus(
    const std::string& config, std::vector<std::string> flags,
    const std::map<std::string, std::string>& files) {
  Peer::Spec spec;
  spec.name = "prometheus";
  spec.binary = "/usr/bin/prometheus";
  spec.package = "prometheus";
  spec.ready_path = "/-/ready";
  spec.ready_timeout = 60s;
  spec.args = PrometheusArgs;
  spec.extra_args = std::move(flags);
  std::map<std::string, std::string> all = files;
  all["prometheus.yml"] = config;
  return std::make_unique<Peer>(std::move(spec), all);
}

std::unique_ptr<Peer> StartVictoriaMetrics(std::vector<std::string> flags) {
  Peer::Spec spec;
  spec.name = "victoria-metrics";
  spec.binary = "/usr/bin/victoria-metrics";
  spec.package = "victoria-metrics";
  spec.ready_path = "/health";
  spec.args = VictoriaMetricsArgs;
  spec.extra_args = std::move(flags);
  return std::make_unique<Peer>(std::move(spec));
}

std::unique_ptr<Peer> StartVmagent(const std::string& remote_write_url,
                                   std::vector<std::string> flags) {
  Peer::Spec spec;
  spec.name = "vmagent";
  spec.binary = "/usr/bin/vmagent";
  spec.package = "victoria-metrics";  // ships vmagent
  spec.ready_path = "/health";
  spec.args = [remote_write_url](const std::string& dir,
                                 const std::string& listen) {
    return std::vector<std::string>{
        "-httpListenAddr=" + listen, "-remoteWrite.url=" + remote_write_url,
        "-remoteWrite.tmpDataPath=" + dir + "/data"};
  };
  spec.extra_args = std::move(flags);
  return std::make_unique<Peer>(std::move(spec));
}

std::unique_ptr<Peer> StartAlertmanager(const std::string& config,
                                        std::vector<std::string> flags) {
  Peer::Spec spec;
  spec.name = "alertmanager";
  spec.binary = "/usr/bin/prometheus-alertmanager";
  spec.package = "prometheus-alertmanager";
  spec.ready_path = "/-/ready";
  spec.args = AlertmanagerArgs;
  spec.extra_args = std::move(flags);
  return std::make_unique<Peer>(
      std::move(spec),
      std::map<std::string, std::string>{{"alertmanager.yml", config}});
}

std::string PrometheusConfig(const Peer& node_exporter, const Peer& promewma,
                             const NodeToPromewmaConfig& options) {
  std::string config = "global:\n  scrape_interval: " + options.interval +
                       "\n  evaluation_interval: " + options.interval +
                       "\nscrape_configs:\n  - job_name: node\n"
                       "    static_configs:\n      - targets: [\"" +
                       node_exporter.address() + "\"]\n";
  for (const auto& [name, address] : options.extra_jobs) {
    config += "  - job_name: " + name +
              "\n    static_configs:\n      - targets: [\"" + address +
              "\"]\n";
  }
  config += "remote_write:\n  - url: " + promewma.url() +
            "/api/v1/write\n    queue_config: " + options.queue_config + "\n";
  if (!options.keep.empty()) {
    config +=
        "    write_relabel_configs:\n      - source_labels: [__name__]\n"
        "        regex: " +
        options.keep + "\n        action: keep\n";
  }
  return config + options.extra;
}

std::unique_ptr<Peer> StartNodeExporter(std::vector<std::string> flags) {
  Peer::Spec spec;
  spec.name = "node_exporter";
  spec.binary = "/usr/bin/prometheus-node-exporter";
  spec.package = "prometheus-node-exporter";
  spec.ready_path = "/metrics";  // 1.5 has no health endpoint
  spec.args = NodeExporterArgs;
  spec.extra_args = std::move(flags);
  return std::make_unique<Peer>(std::move(spec));
}

}  // namespace promewma::testing
