// rwbench: remote-write load and remote-read timing against any receiver
// (promewma, Prometheus with --web.enable-remote-write-receiver,
// VictoriaMetrics). tools/bench.sh drives it side by side.
//
//   rwbench write --url http://127.0.0.1:9201/api/v1/write --series 1000
//                 --samples 360 --step-ms 10000 --start-ms T
//   rwbench read  --url http://127.0.0.1:9201/api/v1/read --start-ms T
//                 --end-ms T2 --metric cpu --repeat 20 [--streamed]
//
// write sends one request per timestamp round (all series, one sample each,
// as Prometheus does) and prints samples/s. read repeats one query and
// prints the median latency, the samples returned and the response size.

#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
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

int Write(const std::string& url, int series, int samples, int64_t step_ms,
          int64_t start_ms, const std::string& metric) {
  const Url u = SplitUrl(url);
  httplib::Client client(u.host_port);
  client.set_read_timeout(60, 0);
  std::vector<std::string> bodies;
  for (int t = 0; t < samples; ++t) {
    prometheus::WriteRequest req;
    for (int s = 0; s < series; ++s) {
      auto* ts = req.add_timeseries();
      auto add = [&](const char* k, const std::string& v) {
        auto* l = ts->add_labels();
        l->set_name(k);
        l->set_value(v);
      };
      add("__name__", metric);
      add("instance", "host-" + std::to_string(s) + ":9100");
      add("job", "node");
      auto* sample = ts->add_samples();
      sample->set_timestamp(start_ms + t * step_ms);
      sample->set_value(20 + (s * 7 + t * 13) % 60 + 0.125 * t);
    }
    bodies.push_back(
        promewma::codec::CompressSnappyBlock(req.SerializeAsString()));
  }
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& body : bodies) {
    auto r = client.Post(u.path,
                         {{"Content-Encoding", "snappy"},
                          {"X-Prometheus-Remote-Write-Version", "0.1.0"}},
                         body, "application/x-protobuf");
    if (!r || r->status / 100 != 2) {
      std::fprintf(stderr, "rwbench: write to %s failed: %s\n", url.c_str(),
                   r ? (std::to_string(r->status) + " " + r->body).c_str()
                     : httplib::to_string(r.error()).c_str());
      return 1;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("write %s: %d samples in %.3f s, %.0f samples/s\n", url.c_str(),
              series * samples, seconds, series * samples / seconds);
  return 0;
}

int Read(const std::string& url, int64_t start_ms, int64_t end_ms,
         const std::string& metric, int repeat, bool streamed) {
  const Url u = SplitUrl(url);
  httplib::Client client(u.host_port);
  client.set_read_timeout(120, 0);
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
  const std::string body =
      promewma::codec::CompressSnappyBlock(req.SerializeAsString());
  std::vector<double> ms;
  size_t bytes = 0, samples = 0, series = 0;
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto r = client.Post(u.path,
                         {{"Content-Encoding", "snappy"},
                          {"X-Prometheus-Remote-Read-Version", "0.1.0"}},
                         body, "application/x-protobuf");
    if (!r || r->status != 200) {
      std::fprintf(stderr, "rwbench: read from %s failed: %s\n", url.c_str(),
                   r ? (std::to_string(r->status) + " " + r->body).c_str()
                     : httplib::to_string(r.error()).c_str());
      return 1;
    }
    // The server's time: the decoding below only checks what came back.
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - start)
                     .count());
    samples = series = 0;
    if (streamed) {
      promewma::codec::ChunkedFrameReader frames(r->body);
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
      if (!promewma::codec::DecompressSnappyBlock(r->body, 1u << 31, &raw).ok())
        return 1;
      prometheus::ReadResponse resp;
      resp.ParseFromString(raw);
      for (const auto& ts : resp.results(0).timeseries()) {
        ++series;
        samples += ts.samples_size();
      }
    }
    bytes = r->body.size();
  }
  std::printf(
      "read %s: median %.1f ms over %d runs, %zu series, %zu samples, %zu "
      "bytes\n",
      url.c_str(), Median(ms), repeat, series, samples, bytes);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rwbench: remote-write load and remote-read timing"};
  app.require_subcommand(1);
  std::string url, metric = "cpu";
  int series = 1000, samples = 360, repeat = 20;
  int64_t step_ms = 10000, start_ms = 0, end_ms = 0;
  bool streamed = false;
  auto* write = app.add_subcommand("write", "send remote-write requests");
  write->add_option("--url", url)->required();
  write->add_option("--series", series);
  write->add_option("--samples", samples, "samples per series");
  write->add_option("--step-ms", step_ms);
  write->add_option("--start-ms", start_ms)->required();
  write->add_option("--metric", metric);
  auto* read = app.add_subcommand("read", "time remote-read requests");
  read->add_option("--url", url)->required();
  read->add_option("--start-ms", start_ms)->required();
  read->add_option("--end-ms", end_ms)->required();
  read->add_option("--metric", metric);
  read->add_option("--repeat", repeat);
  read->add_flag("--streamed", streamed, "ask for STREAMED_XOR_CHUNKS");
  CLI11_PARSE(app, argc, argv);
  if (*write) return Write(url, series, samples, step_ms, start_ms, metric);
  return Read(url, start_ms, end_ms, metric, repeat, streamed);
}
