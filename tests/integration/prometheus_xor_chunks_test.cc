// Our XOR chunks are byte-identical to the ones Prometheus' TSDB writes.
//
// Prometheus 2.42 receives series with awkward samples over remote write
// (full-mantissa doubles, runs of one value, negative values, -0, ±Inf, a
// NaN, stale markers, and timestamp deltas that exercise every
// delta-of-delta bucket including 64-bit jumps), then serves them back over
// remote read as STREAMED_XOR_CHUNKS: the chunks its head wrote, the open
// head chunk included. Every chunk is decoded and encoded again with
// codec::XorChunkAppender, and the bytes must be the same.

#include <httplib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "codec/chunked_frame.h"
#include "codec/snappy_block.h"
#include "codec/xor_chunk.h"
#include "remote.pb.h"
#include "testing/peers.h"
#include "testing/remote_write.h"

namespace promewma {
namespace {

using Samples = std::vector<std::pair<int64_t, double>>;

constexpr int kSamplesPerSeries = 720;

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof(b));
  return b;
}

double FromBits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof(v));
  return v;
}

std::string Hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Timestamps (ms) of one series from `start_ms`, a 15 s grid with
// irregularities: `regular` samples exactly on the grid first, then jitter
// of a few ms to 7 s around the grid (dods of every size up to 17 bits),
// bursts 1-3 ms after the previous sample, and gaps of 1-7 minutes (20-bit
// dods) and 10-25 minutes (64-bit dods). Gaps stay under an hour, the
// head's out-of-bounds window for the other series.
std::vector<int64_t> Timestamps(std::mt19937_64& rng, int64_t start_ms,
                                int regular) {
  constexpr int64_t kStep = 15000;
  std::vector<int64_t> out;
  int64_t grid = 0;  // grid points since start_ms
  int bursts = 0;    // consecutive bursts so far
  for (int i = 0; i < kSamplesPerSeries; ++i) {
    if (i < regular) {
      out.push_back(start_ms + i * kStep);
      grid = i;
      continue;
    }
    const int kind = static_cast<int>(rng() % 100);
    if (kind < 3 && bursts < 5) {
      out.push_back(out.back() + 1 + static_cast<int64_t>(rng() % 3));
      ++bursts;
      continue;
    }
    bursts = 0;
    grid += 1;
    if (kind >= 3 && kind < 5) grid += 4 + static_cast<int64_t>(rng() % 26);
    if (kind == 5) grid += 40 + static_cast<int64_t>(rng() % 61);
    const int jitter_kind = static_cast<int>(rng() % 100);
    int64_t jitter = 0;
    if (jitter_kind >= 50 && jitter_kind < 70) {
      jitter = 1 + static_cast<int64_t>(rng() % 50);
    } else if (jitter_kind >= 70 && jitter_kind < 90) {
      jitter = 50 + static_cast<int64_t>(rng() % 3950);
    } else if (jitter_kind >= 90) {
      jitter = 4000 + static_cast<int64_t>(rng() % 3000);
    }
    if (rng() % 2 == 0) jitter = -jitter;
    out.push_back(start_ms + grid * kStep + jitter);
    REQUIRE(out.back() > out[out.size() - 2]);
  }
  return out;
}

// Doubles with all 64 bits random (finite): full mantissas and every
// exponent, both signs, sometimes repeated.
double FullMantissa(std::mt19937_64& rng, double previous) {
  if (rng() % 8 == 0) return previous;
  while (true) {
    const uint64_t b = rng();
    if (((b >> 52) & 0x7ff) != 0x7ff) return FromBits(b);
  }
}

// CPU-like percentages with two decimals (the low mantissa bits change
// every sample), runs of one value, and the odd negative one.
double CpuLike(std::mt19937_64& rng, double previous, int i) {
  if (rng() % 5 == 0) return previous;
  const double v =
      35 + 20 * std::sin(i / 40.0) + static_cast<double>(rng() % 1000) / 100.0;
  return std::round((rng() % 50 == 0 ? -v : v) * 100) / 100;
}

// Specials among ordinary values: stale markers, a NaN, ±Inf, -0, tiny
// and huge magnitudes, and long runs of one value.
double Specials(std::mt19937_64& rng, double previous) {
  switch (rng() % 16) {
    case 0:
      return FromBits(0x7ff0000000000002ULL);  // Prometheus' stale marker
    case 1:
      return FromBits(0x7ff8000000000001ULL);  // an ordinary NaN
    case 2:
      return std::numeric_limits<double>::infinity();
    case 3:
      return -std::numeric_limits<double>::infinity();
    case 4:
      return -0.0;
    case 5:
      return std::numeric_limits<double>::denorm_min() *
             static_cast<double>(rng() % 1000);
    case 6:
      return -1e300 * static_cast<double>(rng() % 7);
    case 7:
    case 8:
    case 9:
    case 10:
      return previous;
    default:
      return static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000) / 8;
  }
}

struct Series {
  std::string name;
  Samples samples;
};

// REQUIRES: start_ms is on a 2-hour boundary: Prometheus cuts head chunks
// there, and a steady 15 s rate from it makes 120-sample chunks.
std::vector<Series> MakeSeries(int64_t start_ms) {
  std::mt19937_64 rng(20230301);
  std::vector<Series> all = {{"xor_full_mantissa", {}},
                             {"xor_cpu_like", {}},
                             {"xor_specials", {}},
                             {"xor_regular_steps", {}}};
  for (size_t s = 0; s < all.size(); ++s) {
    // The last series is regular for two hours (four 120-sample chunks),
    // the others for half an hour (one); one more sample on the grid ends
    // the last regular chunk exactly.
    const std::vector<int64_t> times =
        Timestamps(rng, start_ms, s == 3 ? 481 : 121);
    double v = 1;
    for (int i = 0; i < kSamplesPerSeries; ++i) {
      switch (s) {
        case 0:
          v = FullMantissa(rng, v);
          break;
        case 1:
          v = CpuLike(rng, v, i);
          break;
        case 2:
          v = Specials(rng, v);
          break;
        default:
          v = i % 97 == 0 ? static_cast<double>(i) * 0.1 : v;
      }
      all[s].samples.push_back({times[i], v});
    }
  }
  // Each delta-of-delta bucket's edges, both signs: a step of 15 s + e
  // then back to 15 s gives dods +e and -e. The ranges are lopsided
  // (+8192 fits 14 bits, -8192 does not).
  Series edges{"xor_dod_edges", {}};
  int64_t t = start_ms;
  double v = 0.5;
  for (int cycle = 0; cycle < 3; ++cycle) {
    for (int64_t e :
         {8191, 8192, 8193, 65535, 65536, 65537, 524287, 524288, 524289}) {
      for (int64_t delta :
           {int64_t{15000}, 15000 + e, int64_t{15000}, int64_t{15000}}) {
        t += delta;
        v = FullMantissa(rng, v);
        edges.samples.push_back({t, v});
      }
    }
  }
  all.push_back(std::move(edges));
  // Many short series: each ends its (open head) chunk in another state,
  // so the chunk ends (Prometheus' spare zero byte among them) vary.
  for (int n = 0; n < 200; ++n) {
    Series short_series{"xor_short_" + std::to_string(n), {}};
    int64_t st = start_ms + static_cast<int64_t>(rng() % 1000);
    double sv = 1;
    const int count = 1 + n % 13;
    for (int i = 0; i < count; ++i) {
      st += 1 + static_cast<int64_t>(rng() % 30000);
      sv = n % 2 == 0 ? FullMantissa(rng, sv) : Specials(rng, sv);
      short_series.samples.push_back({st, sv});
    }
    all.push_back(std::move(short_series));
  }
  return all;
}

// Sends every series to Prometheus' remote-write receiver in time order
// across the series (so no sample falls out of the head's appendable
// window), a few hundred samples a request.
void RemoteWrite(const testing::Peer& prometheus,
                 const std::vector<Series>& series) {
  struct Event {
    int64_t t;
    size_t series;
    double v;
  };
  std::vector<Event> events;
  for (size_t s = 0; s < series.size(); ++s) {
    for (const auto& [t, v] : series[s].samples) events.push_back({t, s, v});
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.t < b.t; });
  httplib::Client client("127.0.0.1", prometheus.port());
  client.set_read_timeout(20, 0);
  for (size_t i = 0; i < events.size(); i += 300) {
    std::vector<testing::TestSeries> request(series.size());
    for (size_t s = 0; s < series.size(); ++s)
      request[s].labels = {{"__name__", series[s].name}, {"job", "xor"}};
    for (size_t k = i; k < std::min(events.size(), i + 300); ++k)
      request[events[k].series].samples.push_back({events[k].t, events[k].v});
    request.erase(std::remove_if(request.begin(), request.end(),
                                 [](const testing::TestSeries& s) {
                                   return s.samples.empty();
                                 }),
                  request.end());
    auto r = client.Post(
        "/api/v1/write",
        {{"Content-Encoding", "snappy"},
         {"X-Prometheus-Remote-Write-Version", "0.1.0"}},
        codec::CompressSnappyBlock(testing::SerializeWriteRequest(request)),
        "application/x-protobuf");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 204);
  }
}

// name -> the chunks Prometheus streams for {job="xor"} over remote read.
std::map<std::string, std::vector<prometheus::Chunk>> RemoteReadChunks(
    const testing::Peer& prometheus, int64_t start_ms, int64_t end_ms) {
  prometheus::ReadRequest req;
  auto* q = req.add_queries();
  q->set_start_timestamp_ms(start_ms);
  q->set_end_timestamp_ms(end_ms);
  auto* m = q->add_matchers();
  m->set_type(prometheus::LabelMatcher::EQ);
  m->set_name("job");
  m->set_value("xor");
  req.add_accepted_response_types(prometheus::ReadRequest::STREAMED_XOR_CHUNKS);
  httplib::Client client("127.0.0.1", prometheus.port());
  client.set_read_timeout(20, 0);
  auto r = client.Post("/api/v1/read",
                       {{"Content-Encoding", "snappy"},
                        {"X-Prometheus-Remote-Read-Version", "0.1.0"}},
                       codec::CompressSnappyBlock(req.SerializeAsString()),
                       "application/x-protobuf");
  REQUIRE(r);
  INFO(r->body.substr(0, 500));
  REQUIRE(r->status == 200);
  REQUIRE(r->get_header_value("Content-Type") ==
          "application/x-streamed-protobuf; "
          "proto=prometheus.ChunkedReadResponse");

  std::map<std::string, std::vector<prometheus::Chunk>> out;
  codec::ChunkedFrameReader reader(r->body);
  std::string_view message;
  while (true) {
    Result<bool> more = reader.Next(&message);
    INFO(more.status().ToString());
    REQUIRE(more.ok());
    if (!*more) break;
    prometheus::ChunkedReadResponse frame;
    REQUIRE(
        frame.ParseFromArray(message.data(), static_cast<int>(message.size())));
    REQUIRE(frame.query_index() == 0);
    for (const auto& series : frame.chunked_series()) {
      std::string name;
      for (const auto& l : series.labels()) {
        if (l.name() == "__name__") name = l.value();
      }
      for (const auto& c : series.chunks()) out[name].push_back(c);
    }
  }
  return out;
}

bool SameBits(const Samples& a, const Samples& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || Bits(a[i].second) != Bits(b[i].second))
      return false;
  }
  return true;
}

TEST_CASE(
    "XOR chunks Prometheus 2.42 wrote are the bytes XorChunkAppender "
    "writes for their samples") {
  auto prometheus =
      testing::StartPrometheus("global:\n  scrape_interval: 1m\n",
                               {"--web.enable-remote-write-receiver"});
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  // Starting on a 2-hour boundary 4 to 6 hours ago, so the samples (about
  // three hours) lie in the past.
  constexpr int64_t kTwoHours = 2 * 3600 * 1000;
  const int64_t start_ms = (now_ms - 2 * kTwoHours) / kTwoHours * kTwoHours;
  const std::vector<Series> series = MakeSeries(start_ms);
  RemoteWrite(*prometheus, series);

  int64_t end_ms = start_ms;
  for (const Series& s : series)
    end_ms = std::max(end_ms, s.samples.back().first);
  const auto chunks = RemoteReadChunks(*prometheus, start_ms, end_ms);
  INFO(prometheus->StderrTail());
  REQUIRE(chunks.size() == series.size());

  size_t full_chunks = 0;
  for (const Series& s : series) {
    INFO("series " << s.name);
    REQUIRE(chunks.count(s.name) == 1);
    const std::vector<prometheus::Chunk>& got = chunks.at(s.name);
    // The long series span several chunks each.
    REQUIRE(got.size() >= (s.samples.size() >= kSamplesPerSeries ? 4u : 1u));
    Samples all;
    for (size_t k = 0; k < got.size(); ++k) {
      const prometheus::Chunk& chunk = got[k];
      INFO("chunk " << k << " of " << got.size() << ": " << Hex(chunk.data()));
      REQUIRE(chunk.type() == prometheus::Chunk::XOR);
      Samples decoded;
      const Status st = codec::DecodeXorChunk(chunk.data(), &decoded);
      INFO(st.ToString());
      REQUIRE(st.ok());
      REQUIRE(!decoded.empty());
      REQUIRE(decoded.front().first == chunk.min_time_ms());
      REQUIRE(decoded.back().first == chunk.max_time_ms());

      codec::XorChunkAppender appender;
      for (const auto& [t, v] : decoded) appender.Append(t, v);
      REQUIRE(Hex(appender.bytes()) == Hex(chunk.data()));

      full_chunks += decoded.size() == 120;
      all.insert(all.end(), decoded.begin(), decoded.end());
    }
    // The chunks hold exactly what was written, bit for bit: nothing
    // lost, nothing altered, so the comparison above covered every sample.
    REQUIRE(SameBits(all, s.samples));
  }
  // Prometheus cuts a chunk at 120 samples when the scrape rate is steady:
  // at least the regular stretches' seven.
  REQUIRE(full_chunks >= 7);
}

}  // namespace
}  // namespace promewma
