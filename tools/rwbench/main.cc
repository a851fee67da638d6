// rwbench: remote-write load and remote-read timing against any receiver
// (promewma, Prometheus with --web.enable-remote-write-receiver,
// VictoriaMetrics). tools/bench.sh drives it side by side.
//
//   rwbench generate --out DIR --series 10000 --samples 100 --batch-size 500
//                    --connections 2 --start-ms T
//   rwbench write --url http://127.0.0.1:9201/api/v1/write --in DIR
//   rwbench write --url ... --series 1000 --samples 360 --start-ms T
//                 [--spread-ms 8000] [--latency-log FILE]
//   rwbench read  --url http://127.0.0.1:9201/api/v1/read --start-ms T
//                 --end-ms T2 --metric cpu --repeat 20 [--streamed]
//
// The load is shaped like Prometheus' own remote write: one sample per
// TimeSeries, node_exporter-like labels, --batch-size samples per request,
// timestamps advancing round by round. Series are split over --connections
// keep-alive connections (TCP_NODELAY), each owning a disjoint set, so no
// sample is sent twice and each series' samples arrive in order. Bodies are
// built before the clock starts (generate writes them to files, one per
// connection, so several receivers get the very same bytes); write prints
// samples/s and request latency percentiles (of the requests answered
// 2xx), and every failed request: a connection error (refused, reset,
// closed without an answer, timed out) or a non-2xx answer. A failed
// request is sent again as Prometheus would: 429 and 5xx after Retry-After
// (or 50 ms), a connection error after 50 ms on a new connection, up to
// kMaxAttempts times; another 4xx is final. write exits 1 when a body was
// not delivered in the end, 0 otherwise (failures are still reported).
// --spread-ms paces each connection's requests evenly over that time, as a
// sender that ships samples as they are scraped does, instead of as fast
// as the receiver answers (a burst measures the receiver under its own
// load); --latency-log appends a line per answered request, when it was
// sent (Unix ms, to the microsecond) and its latency (ms), for percentiles
// over more than one run and for lining slow requests up with what the
// receiver logged or a scheduler trace (tools/lib/sched_split.py).
//
// read repeats one query and prints the median latency, the samples
// returned and the response size.

#include <httplib.h>
#include <sys/resource.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "codec/chunked_frame.h"
#include "codec/snappy_block.h"
#include "remote.pb.h"

namespace {

struct Url {
  std::string host_port;  // scheme://host:port
  std::string path;
};

Url SplitUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t slash =
      url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Percentile(std::vector<double>* sorted, double q) {
  if (sorted->empty()) return 0;
  const size_t i = static_cast<size_t>(q * (sorted->size() - 1) + 0.5);
  return (*sorted)[i];
}

// A CPU utilization percentage for series s at round t: a per-series base
// load plus noise, with every mantissa bit in use as in a real rate(), so
// that chunks compress like real CPU data (round values would flatter
// every store's memory and disk figures).
double CpuValue(int s, int t) {
  uint64_t x = (static_cast<uint64_t>(s) << 32) ^ static_cast<uint64_t>(t);
  // splitmix64 finaliser: a cheap, well-mixed hash.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  const double noise = static_cast<double>(x >> 11) / 9007199254740992.0;
  return 10 + (s * 7 % 50) + 20 * noise;
}

struct LoadShape {
  int series = 1000;
  int samples = 360;  // per series
  int64_t step_ms = 10000;
  int64_t start_ms = 0;
  int batch_size = 0;  // samples per request; 0: a whole round per request
  int connections = 1;
  std::string metric = "cpu";
};

// Request bodies (snappy) by connection. Connection k owns the series s
// with s % connections == k.
std::vector<std::vector<std::string>> GenerateBodies(const LoadShape& shape) {
  std::vector<std::vector<std::string>> bodies(shape.connections);
  for (int k = 0; k < shape.connections; ++k) {
    std::vector<int> owned;
    for (int s = k; s < shape.series; s += shape.connections) {
      owned.push_back(s);
    }
    const size_t batch = shape.batch_size > 0
                             ? static_cast<size_t>(shape.batch_size)
                             : std::max<size_t>(owned.size(), 1);
    for (int t = 0; t < shape.samples; ++t) {
      for (size_t first = 0; first < owned.size(); first += batch) {
        prometheus::WriteRequest req;
        const size_t last = std::min(owned.size(), first + batch);
        for (size_t i = first; i < last; ++i) {
          const int s = owned[i];
          auto* ts = req.add_timeseries();
          auto add = [&](const char* name, const std::string& value) {
            auto* l = ts->add_labels();
            l->set_name(name);
            l->set_value(value);
          };
          add("__name__", shape.metric);
          add("cpu", std::to_string(s % 8));
          add("instance",
              "host-" + std::to_string(s / 8) + ".example.net:9100");
          add("job", "node");
          add("mode", "user");
          auto* sample = ts->add_samples();
          sample->set_timestamp(shape.start_ms + t * shape.step_ms);
          sample->set_value(CpuValue(s, t));
        }
        bodies[k].push_back(
            promewma::codec::CompressSnappyBlock(req.SerializeAsString()));
      }
    }
  }
  return bodies;
}

// One file per connection: each body as a little-endian u32 length and
// the bytes.
std::string ConnectionFile(const std::string& dir, int k) {
  return dir + "/connection-" + std::to_string(k) + ".rwb";
}

bool SaveBodies(const std::string& dir,
                const std::vector<std::vector<std::string>>& bodies) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  for (size_t k = 0; k < bodies.size(); ++k) {
    std::ofstream out(ConnectionFile(dir, static_cast<int>(k)),
                      std::ios::binary | std::ios::trunc);
    for (const std::string& b : bodies[k]) {
      const uint32_t n = static_cast<uint32_t>(b.size());
      const char len[4] = {static_cast<char>(n), static_cast<char>(n >> 8),
                           static_cast<char>(n >> 16),
                           static_cast<char>(n >> 24)};
      out.write(len, 4);
      out.write(b.data(), static_cast<std::streamsize>(b.size()));
    }
    if (!out) {
      std::fprintf(stderr, "rwbench: cannot write %s\n",
                   ConnectionFile(dir, static_cast<int>(k)).c_str());
      return false;
    }
  }
  return true;
}

bool LoadBodies(const std::string& dir,
                std::vector<std::vector<std::string>>* bodies) {
  for (int k = 0;; ++k) {
    std::ifstream in(ConnectionFile(dir, k), std::ios::binary);
    if (!in) break;
    std::vector<std::string>& conn = bodies->emplace_back();
    unsigned char len[4];
    while (in.read(reinterpret_cast<char*>(len), 4)) {
      const uint32_t n = len[0] | (len[1] << 8) | (len[2] << 16) |
                         (static_cast<uint32_t>(len[3]) << 24);
      std::string& b = conn.emplace_back(n, '\0');
      if (!in.read(&b[0], n)) {
        std::fprintf(stderr, "rwbench: %s is truncated\n",
                     ConnectionFile(dir, k).c_str());
        return false;
      }
    }
  }
  if (bodies->empty()) {
    std::fprintf(stderr, "rwbench: no %s in %s (run rwbench generate)\n",
                 "connection-0.rwb", dir.c_str());
    return false;
  }
  return true;
}

// Samples in a body, counted from the decoded request.
size_t SamplesIn(const std::string& body) {
  std::string raw;
  if (!promewma::codec::DecompressSnappyBlock(body, 1u << 30, &raw).ok()) {
    return 0;
  }
  prometheus::WriteRequest req;
  if (!req.ParseFromString(raw)) return 0;
  size_t n = 0;
  for (const auto& ts : req.timeseries()) n += ts.samples_size();
  return n;
}

// User + system CPU of this process so far.
double ProcessCpuSeconds() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// Attempts per body before rwbench gives up on it (Prometheus retries
// until max_retry_duration; a benchmark must end).
constexpr int kMaxAttempts = 10;

struct ConnectionResult {
  std::vector<double> latency_ms;  // of the attempts answered 2xx
  std::vector<int64_t> sent_unix_us;  // when each of those was sent
  size_t connection_errors = 0;    // attempts with no HTTP answer
  size_t non_2xx = 0;              // attempts answered with another status
  size_t undelivered = 0;          // bodies given up on
  std::string first_error;         // what the first failed attempt got
};

struct Pacing {
  std::chrono::steady_clock::time_point start;
  std::chrono::milliseconds spread{0};  // 0: back to back
  size_t connections = 1;
};

void SendAll(const Url& u, const std::vector<std::string>& bodies,
             const Pacing& pacing, size_t connection,
             ConnectionResult* result) {
  httplib::Client client(u.host_port);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  client.set_connection_timeout(60, 0);
  client.set_read_timeout(60, 0);
  const httplib::Headers headers = {
      {"Content-Encoding", "snappy"},
      {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
  result->latency_ms.reserve(bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    const std::string& body = bodies[i];
    if (pacing.spread.count() > 0) {
      // Request i is due at its share of the spread, the connections
      // staggered (independent senders do not send in lockstep); one
      // already late (the previous answer took longer) goes at once.
      const int64_t slots = static_cast<int64_t>(bodies.size() *
                                                 pacing.connections);
      const int64_t slot = static_cast<int64_t>(i * pacing.connections +
                                                connection);
      std::this_thread::sleep_until(pacing.start +
                                    pacing.spread * slot / slots);
    }
    for (int attempt = 1;; ++attempt) {
      const auto start = std::chrono::steady_clock::now();
      const int64_t sent_unix_us =
          std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
      auto r = client.Post(u.path, headers, body, "application/x-protobuf");
      const double ms = std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - start)
                            .count();
      if (r && r->status / 100 == 2) {
        result->latency_ms.push_back(ms);
        result->sent_unix_us.push_back(sent_unix_us);
        break;
      }
      if (result->first_error.empty()) {
        result->first_error = r ? std::to_string(r->status) + " " + r->body
                                : httplib::to_string(r.error());
        while (!result->first_error.empty() &&
               result->first_error.back() == '\n')
          result->first_error.pop_back();
      }
      ++(r ? result->non_2xx : result->connection_errors);
      const bool retryable = !r || r->status == 429 || r->status / 100 == 5;
      if (!retryable || attempt == kMaxAttempts) {
        ++result->undelivered;
        break;
      }
      const int wait_s =
          r ? std::max(0, std::atoi(r->get_header_value("Retry-After").c_str()))
            : 0;
      std::this_thread::sleep_for(wait_s > 0 ? std::chrono::seconds(wait_s)
                                             : std::chrono::milliseconds(50));
    }
  }
}

int Write(const std::string& url,
          const std::vector<std::vector<std::string>>& bodies,
          std::chrono::milliseconds spread, const std::string& latency_log) {
  const Url u = SplitUrl(url);
  size_t total_samples = 0, total_requests = 0;
  for (const auto& conn : bodies) {
    for (const std::string& b : conn) total_samples += SamplesIn(b);
    total_requests += conn.size();
  }
  std::vector<ConnectionResult> results(bodies.size());
  std::vector<std::thread> threads;
  const double cpu_start = ProcessCpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  const Pacing pacing{start, spread, bodies.size()};
  for (size_t k = 0; k < bodies.size(); ++k) {
    threads.emplace_back(SendAll, u, std::cref(bodies[k]), std::cref(pacing),
                         k, &results[k]);
  }
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const double cpu_seconds = ProcessCpuSeconds() - cpu_start;
  std::vector<double> latencies;
  size_t connection_errors = 0, non_2xx = 0, undelivered = 0;
  std::string first_error;
  for (const ConnectionResult& r : results) {
    latencies.insert(latencies.end(), r.latency_ms.begin(),
                     r.latency_ms.end());
    connection_errors += r.connection_errors;
    non_2xx += r.non_2xx;
    undelivered += r.undelivered;
    if (first_error.empty()) first_error = r.first_error;
  }
  if (!latency_log.empty()) {
    std::FILE* f = std::fopen(latency_log.c_str(), "a");
    if (f == nullptr) {
      std::fprintf(stderr, "rwbench: cannot append to %s: %s\n",
                   latency_log.c_str(), std::strerror(errno));
      return 1;
    }
    for (const ConnectionResult& r : results) {
      for (size_t i = 0; i < r.latency_ms.size(); ++i) {
        std::fprintf(f, "%lld.%03lld %.3f\n",
                     static_cast<long long>(r.sent_unix_us[i] / 1000),
                     static_cast<long long>(r.sent_unix_us[i] % 1000),
                     r.latency_ms[i]);
      }
    }
    std::fclose(f);
  }
  std::sort(latencies.begin(), latencies.end());
  std::printf(
      "write %s: %zu samples in %zu requests over %zu connections in %.3f s, "
      "%.0f samples/s, latency p50 %.2f ms p90 %.2f ms p99 %.2f ms, "
      "%zu failed requests (%zu connection errors, %zu non-2xx), "
      "%zu undelivered, sender CPU %.3f us/sample\n",
      url.c_str(), total_samples, total_requests, bodies.size(), seconds,
      total_samples / seconds, Percentile(&latencies, 0.5),
      Percentile(&latencies, 0.9), Percentile(&latencies, 0.99),
      connection_errors + non_2xx, connection_errors, non_2xx, undelivered,
      cpu_seconds * 1e6 / static_cast<double>(total_samples));
  if (!first_error.empty()) {
    std::fprintf(stderr, "rwbench: first failed request to %s: %s\n",
                 url.c_str(), first_error.c_str());
  }
  return undelivered == 0 ? 0 : 1;
}

// Reads are timed over Beast rather than httplib: httplib's client takes a
// body 4 KiB at a time with a poll before each read, which cost it 15 ms of
// system time for a 3 MB answer on the benchmark machine, about as long as
// promewma took to send it. Beast reads what has arrived into a growing
// buffer, as Prometheus' own remote-read client (Go's net/http) does.
int Read(const std::string& url, int64_t start_ms, int64_t end_ms,
         const std::string& metric, int repeat, bool streamed) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace bhttp = boost::beast::http;
  const Url u = SplitUrl(url);
  constexpr std::string_view kScheme = "http://";
  const size_t colon = u.host_port.rfind(':');
  if (u.host_port.compare(0, kScheme.size(), kScheme) != 0 ||
      colon < kScheme.size()) {
    std::fprintf(stderr, "rwbench: read needs an http://HOST:PORT URL: %s\n",
                 url.c_str());
    return 2;
  }
  const std::string host =
      u.host_port.substr(kScheme.size(), colon - kScheme.size());
  const std::string port = u.host_port.substr(colon + 1);
  prometheus::ReadRequest req;
  auto* q = req.add_queries();
  q->set_start_timestamp_ms(start_ms);
  q->set_end_timestamp_ms(end_ms);
  auto* m = q->add_matchers();
  m->set_name("__name__");
  m->set_value(metric);
  if (streamed)
    req.add_accepted_response_types(
        prometheus::ReadRequest::STREAMED_XOR_CHUNKS);
  bhttp::request<bhttp::string_body> request{bhttp::verb::post, u.path, 11};
  request.set(bhttp::field::host, host + ":" + port);
  request.set(bhttp::field::content_type, "application/x-protobuf");
  request.set(bhttp::field::content_encoding, "snappy");
  request.set("X-Prometheus-Remote-Read-Version", "0.1.0");
  request.body() = promewma::codec::CompressSnappyBlock(req.SerializeAsString());
  request.prepare_payload();

  asio::io_context io;
  beast::tcp_stream stream(io);
  std::vector<double> ms;
  size_t bytes = 0, samples = 0, series = 0;
  try {
    stream.connect(asio::ip::tcp::resolver(io).resolve(host, port));
    stream.socket().set_option(asio::ip::tcp::no_delay(true));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rwbench: cannot connect to %s: %s\n", url.c_str(),
                 e.what());
    return 1;
  }
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(uint64_t{1} << 31);
    try {
      stream.expires_after(std::chrono::seconds(120));
      bhttp::write(stream, request);
      beast::flat_buffer buffer;
      bhttp::read(stream, buffer, parser);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rwbench: read from %s failed: %s\n", url.c_str(),
                   e.what());
      return 1;
    }
    // The server's time: the decoding below only checks what came back.
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - start)
                     .count());
    const auto* r = &parser.get();
    if (r->result_int() != 200) {
      std::fprintf(stderr, "rwbench: read from %s failed: %u %s\n",
                   url.c_str(), r->result_int(), r->body().c_str());
      return 1;
    }
    samples = series = 0;
    if (streamed) {
      promewma::codec::ChunkedFrameReader frames(r->body());
      std::string_view frame;
      while (true) {
        auto more = frames.Next(&frame);
        if (!more.ok() || !*more) break;
        prometheus::ChunkedReadResponse resp;
        resp.ParseFromArray(frame.data(), static_cast<int>(frame.size()));
        for (const auto& cs : resp.chunked_series()) {
          ++series;
          for (const auto& c : cs.chunks()) {
            samples += (static_cast<uint8_t>(c.data()[0]) << 8) |
                       static_cast<uint8_t>(c.data()[1]);
          }
        }
      }
    } else {
      std::string raw;
      if (!promewma::codec::DecompressSnappyBlock(r->body(), 1u << 31, &raw).ok())
        return 1;
      prometheus::ReadResponse resp;
      resp.ParseFromString(raw);
      for (const auto& ts : resp.results(0).timeseries()) {
        ++series;
        samples += ts.samples_size();
      }
    }
    bytes = r->body().size();
  }
  std::printf(
      "read %s: median %.1f ms over %d runs, %zu series, %zu samples, %zu "
      "bytes\n",
      url.c_str(), Median(ms), repeat, series, samples, bytes);
  return 0;
}

void AddShapeOptions(CLI::App* cmd, LoadShape* shape) {
  cmd->add_option("--series", shape->series);
  cmd->add_option("--samples", shape->samples, "samples per series");
  cmd->add_option("--step-ms", shape->step_ms);
  cmd->add_option("--start-ms", shape->start_ms);
  cmd->add_option("--batch-size", shape->batch_size,
                  "samples per request (default: one round per request)");
  // One sending thread and one keep-alive connection each; 4096 is far
  // beyond what a Prometheus HA pair opens (2 x max_shards 200).
  cmd->add_option("--connections", shape->connections)
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--metric", shape->metric);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rwbench: remote-write load and remote-read timing"};
  app.require_subcommand(1);
  std::string url, dir, in_dir, metric = "cpu", latency_log;
  int64_t spread_ms = 0;
  int repeat = 20;
  int64_t start_ms = 0, end_ms = 0;
  bool streamed = false;
  LoadShape shape;
  auto* generate =
      app.add_subcommand("generate", "write request bodies to files");
  generate->add_option("--out", dir)->required();
  AddShapeOptions(generate, &shape);
  auto* write = app.add_subcommand("write", "send remote-write requests");
  write->add_option("--url", url)->required();
  write->add_option("--in", in_dir, "bodies from rwbench generate");
  AddShapeOptions(write, &shape);
  write->add_option("--spread-ms", spread_ms,
                    "pace each connection's requests evenly over this time")
      ->check(CLI::NonNegativeNumber);
  write->add_option("--latency-log", latency_log,
                    "append each answered request's send time (Unix ms) and "
                    "latency (ms) to FILE");
  auto* read = app.add_subcommand("read", "time remote-read requests");
  read->add_option("--url", url)->required();
  read->add_option("--start-ms", start_ms)->required();
  read->add_option("--end-ms", end_ms)->required();
  read->add_option("--metric", metric);
  read->add_option("--repeat", repeat);
  read->add_flag("--streamed", streamed, "ask for STREAMED_XOR_CHUNKS");
  CLI11_PARSE(app, argc, argv);
  // Hundreds of connections need as many descriptors: take the hard limit.
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (*generate) return SaveBodies(dir, GenerateBodies(shape)) ? 0 : 1;
  if (*write) {
    std::vector<std::vector<std::string>> bodies;
    if (!in_dir.empty()) {
      if (!LoadBodies(in_dir, &bodies)) return 1;
    } else {
      bodies = GenerateBodies(shape);
    }
    return Write(url, bodies, std::chrono::milliseconds(spread_ms),
                 latency_log);
  }
  return Read(url, start_ms, end_ms, metric, repeat, streamed);
}
