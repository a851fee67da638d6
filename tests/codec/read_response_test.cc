// The hand-written remote-read response encoders, parsed back with
// libprotobuf (prometheus.ReadResponse / ChunkedReadResponse from proto/)
// and compared field by field, bit for bit on sample values. Where no field
// is at its default, the bytes must also equal libprotobuf's own
// serialization (same field order, minimal lengths).

#include "codec/read_response.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "codec/chunked_frame.h"
#include "codec/snappy_block.h"
#include "model/labels.h"
#include "remote.pb.h"

namespace promewma::codec {
namespace {

constexpr uint64_t kStaleNaN = 0x7ff0000000000002;

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

// A random valid label set in canonical encoding, with the pairs it holds.
struct LabelSet {
  std::string encoded;
  std::map<std::string, std::string> pairs;
};

LabelSet RandomLabels(std::mt19937_64& rng) {
  static const char* kNames[] = {"job", "instance", "cpu", "mode", "a", "Z_9"};
  static const char* kValues[] = {"node", "10.0.0.1:9100",   "0", "idle",
                                  "é",    "with \"quotes\"", "x"};
  LabelSet set;
  set.pairs["__name__"] = rng() % 2 ? "cpu_utilization" : "cpu:ewma";
  const size_t n = rng() % 5;
  for (size_t i = 0; i < n; ++i) {
    set.pairs[kNames[rng() % 6]] = kValues[rng() % 7];
  }
  if (rng() % 8 == 0) set.pairs["long"] = std::string(200, 'v');  // 2-byte len
  std::vector<model::Label> labels;
  for (const auto& [k, v] : set.pairs) labels.push_back({k, v});
  REQUIRE(model::EncodeLabelSet(&labels, &set.encoded).ok());
  return set;
}

double RandomValue(std::mt19937_64& rng) {
  switch (rng() % 10) {
    case 0:
      return std::nan("");
    case 1:
      return FromBits(kStaleNaN);
    case 2:
      return -0.0;
    case 3:
      return 0.0;
    case 4:
      return rng() % 2 ? INFINITY : -INFINITY;
    case 5:
      return FromBits(rng());  // any bit pattern, NaN payloads included
    default:
      return std::uniform_real_distribution<double>(0, 100)(rng);
  }
}

int64_t RandomTimestamp(std::mt19937_64& rng) {
  switch (rng() % 8) {
    case 0:
      return 0;
    case 1:
      return std::numeric_limits<int64_t>::min();
    case 2:
      return std::numeric_limits<int64_t>::max();
    case 3:
      return -static_cast<int64_t>(rng() % 100000);  // before 1970
    default:
      return 1700000000000 + static_cast<int64_t>(rng() % 100000000);
  }
}

void RequireLabels(
    const google::protobuf::RepeatedPtrField<prometheus::Label>& got,
    const LabelSet& want) {
  REQUIRE(got.size() == static_cast<int>(want.pairs.size()));
  auto it = want.pairs.begin();
  for (const auto& l : got) {
    REQUIRE(l.name() == it->first);
    REQUIRE(l.value() == it->second);
    ++it;
  }
}

struct Series {
  LabelSet labels;
  std::vector<ReadSample> samples;
};

// The pieces through the (two-thread) compressor and back.
std::string DecompressedPieces(const std::vector<std::string_view>& pieces) {
  const std::string compressed = CompressSnappyBlockPieces(pieces);
  std::string out;
  REQUIRE(DecompressSnappyBlock(compressed, size_t{1} << 31, &out).ok());
  return out;
}

// Encodes a ReadResponse the way the read handler does, each query's series
// split at random points between up to three encoders (empty ones too), and
// returns it in one string. The snappy path reads the same pieces.
std::string EncodeResponse(const std::vector<std::vector<Series>>& queries,
                           std::mt19937_64& rng) {
  std::deque<TimeSeriesEncoder> encoders;  // stable addresses for the parts
  ReadResponseParts response;
  for (const auto& q : queries) {
    std::vector<const TimeSeriesEncoder*> parts;
    const size_t num_parts = 1 + rng() % 3;
    size_t next = 0;
    for (size_t p = 0; p < num_parts; ++p) {
      TimeSeriesEncoder& encoder = encoders.emplace_back();
      const size_t end =
          p + 1 == num_parts ? q.size() : next + rng() % (q.size() - next + 1);
      for (; next < end; ++next) {
        encoder.AddSeries(q[next].labels.encoded, q[next].samples);
      }
      parts.push_back(&encoder);
    }
    response.AddQuery(parts);
  }
  std::string bytes = response.Concatenated();
  REQUIRE(DecompressedPieces(response.pieces()) == bytes);
  return bytes;
}

TEST_CASE("SAMPLES encoder output parses back with libprotobuf") {
  std::mt19937_64 rng(2024);
  int byte_identical = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::vector<std::vector<Series>> queries(rng() % 4);
    bool has_defaults = false;
    for (auto& q : queries) {
      q.resize(rng() % 5);  // empty queries included
      for (auto& s : q) {
        s.labels = RandomLabels(rng);
        s.samples.resize(rng() % 3 == 0 ? 0 : rng() % 40);  // zero samples too
        for (auto& sample : s.samples) {
          sample.timestamp_ms = RandomTimestamp(rng);
          sample.value = RandomValue(rng);
          has_defaults |= sample.timestamp_ms == 0 || sample.value == 0.0;
        }
      }
    }

    const std::string bytes = EncodeResponse(queries, rng);

    prometheus::ReadResponse parsed;
    INFO("iteration " << iter);
    REQUIRE(parsed.ParseFromString(bytes));
    REQUIRE(parsed.results_size() == static_cast<int>(queries.size()));
    for (size_t qi = 0; qi < queries.size(); ++qi) {
      const auto& result = parsed.results(qi);
      REQUIRE(result.timeseries_size() == static_cast<int>(queries[qi].size()));
      for (size_t si = 0; si < queries[qi].size(); ++si) {
        const auto& ts = result.timeseries(si);
        const Series& want = queries[qi][si];
        RequireLabels(ts.labels(), want.labels);
        REQUIRE(ts.samples_size() == static_cast<int>(want.samples.size()));
        for (size_t k = 0; k < want.samples.size(); ++k) {
          REQUIRE(ts.samples(k).timestamp() == want.samples[k].timestamp_ms);
          REQUIRE(Bits(ts.samples(k).value()) == Bits(want.samples[k].value));
        }
        REQUIRE(ts.exemplars_size() == 0);
        REQUIRE(ts.histograms_size() == 0);
      }
    }
    if (!has_defaults) {
      REQUIRE(bytes == parsed.SerializeAsString());
      ++byte_identical;
    }
  }
  REQUIRE(byte_identical > 100);
}

TEST_CASE(
    "an entry's size is its labels and each sample's SampleEntrySize, which "
    "the timestamp alone decides: zero values and timestamps are written too") {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 500; ++iter) {
    const LabelSet labels = RandomLabels(rng);
    std::vector<ReadSample> samples(rng() % 3 == 0 ? 0 : rng() % 200);
    size_t samples_bytes = 0;
    for (ReadSample& s : samples) {
      s.timestamp_ms = RandomTimestamp(rng);
      s.value = rng() % 4 == 0 ? 0.0 : RandomValue(rng);
      samples_bytes += SampleEntrySize(s.timestamp_ms);
    }
    std::string entry;
    AppendTimeSeriesEntry(&entry, labels.encoded, samples.data(),
                          samples.size());
    INFO("iteration " << iter);
    REQUIRE(entry.size() == TimeSeriesEntrySize(labels.encoded, samples_bytes));
  }
  // One byte more at each varint boundary of the timestamp.
  REQUIRE(SampleEntrySize(0) == 2 + 9 + 2);
  REQUIRE(SampleEntrySize(127) == SampleEntrySize(0));
  REQUIRE(SampleEntrySize(128) == SampleEntrySize(0) + 1);
  REQUIRE(SampleEntrySize(1700000000000) == 2 + 9 + 1 + 6);
  REQUIRE(SampleEntrySize(-1) == 2 + 9 + 1 + 10);
}

TEST_CASE("SAMPLES: empty response, empty queries, special values") {
  ReadResponseParts response;
  SECTION("no queries at all") {
    REQUIRE(response.Concatenated().empty());
    REQUIRE(response.pieces().empty());
  }
  SECTION("a query without series still gets its QueryResult") {
    TimeSeriesEncoder none;
    response.AddQuery({});
    response.AddQuery({&none, &none});
    const std::string bytes = response.Concatenated();
    REQUIRE(bytes == std::string("\x0a\x00\x0a\x00", 4));
    prometheus::ReadResponse parsed;
    REQUIRE(parsed.ParseFromString(bytes));
    REQUIRE(parsed.results_size() == 2);
  }
  SECTION("stale marker, NaN, -0.0 and negative timestamps, exactly") {
    std::mt19937_64 rng(1);
    const LabelSet labels = RandomLabels(rng);
    const std::vector<ReadSample> samples = {
        {-1, FromBits(kStaleNaN)},
        {0, -0.0},
        {0, 0.0},
        {std::numeric_limits<int64_t>::min(), std::nan("")},
        {1, FromBits(0xfff8000000000001)},  // negative quiet NaN with payload
    };
    TimeSeriesEncoder encoder;
    encoder.AddSeries(labels.encoded, samples);
    response.AddQuery({&encoder});
    prometheus::ReadResponse parsed;
    REQUIRE(parsed.ParseFromString(response.Concatenated()));
    const auto& ts = parsed.results(0).timeseries(0);
    REQUIRE(ts.samples_size() == 5);
    for (int i = 0; i < 5; ++i) {
      REQUIRE(ts.samples(i).timestamp() == samples[i].timestamp_ms);
      REQUIRE(Bits(ts.samples(i).value()) == Bits(samples[i].value));
    }
  }
}

TEST_CASE(
    "SAMPLES: query lengths of every varint width, series across blocks") {
  // QueryResult lengths of 1, 2, 3 and 4 varint bytes; the larger series
  // fill several encoder blocks and one is larger than a block.
  std::mt19937_64 rng(3);
  const LabelSet labels = RandomLabels(rng);
  const size_t samples_for_width = GENERATE(0, 3, 800, 120000);
  std::vector<ReadSample> samples(samples_for_width);
  for (size_t i = 0; i < samples.size(); ++i) {
    samples[i] = {1700000000000 + static_cast<int64_t>(i) * 10000,
                  static_cast<double>(i)};
  }
  TimeSeriesEncoder first, second, third;
  first.AddSeries(labels.encoded, samples);
  second.AddSeries(labels.encoded, samples.data(), samples.size() / 2);
  third.AddSeries(labels.encoded, samples.data(), samples.empty() ? 0 : 1);
  ReadResponseParts response;
  response.AddQuery({&first, &second});
  response.AddQuery({&third});  // a second query right behind the first
  const std::string bytes = response.Concatenated();
  REQUIRE(DecompressedPieces(response.pieces()) == bytes);
  prometheus::ReadResponse parsed;
  REQUIRE(parsed.ParseFromString(bytes));
  REQUIRE(parsed.results_size() == 2);
  REQUIRE(parsed.results(0).timeseries_size() == 2);
  REQUIRE(parsed.results(0).timeseries(0).samples_size() ==
          static_cast<int>(samples.size()));
  REQUIRE(parsed.results(0).timeseries(1).samples_size() ==
          static_cast<int>(samples.size() / 2));
  if (!samples.empty()) {
    const auto& last = parsed.results(0).timeseries(0).samples(
        static_cast<int>(samples.size()) - 1);
    REQUIRE(last.timestamp() == samples.back().timestamp_ms);
    REQUIRE(last.value() == samples.back().value);
  }
  REQUIRE(parsed.results(1).timeseries(0).samples_size() ==
          (samples.empty() ? 0 : 1));
  RequireLabels(parsed.results(1).timeseries(0).labels(), labels);
}

TEST_CASE("SAMPLES: many series over many encoder blocks") {
  // ~5 MB: blocks grow from 64 KiB, series end near block ends, and the
  // pieces reach the compressor's two-thread path.
  std::mt19937_64 rng(11);
  std::vector<Series> series(20000);
  for (size_t i = 0; i < series.size(); ++i) {
    series[i].labels = RandomLabels(rng);
    series[i].samples.resize(1 + rng() % 20);
    for (auto& sample : series[i].samples) {
      sample = {RandomTimestamp(rng), RandomValue(rng)};
    }
  }
  TimeSeriesEncoder first, second;
  for (size_t i = 0; i < series.size(); ++i) {
    (i < series.size() / 3 ? first : second)
        .AddSeries(series[i].labels.encoded, series[i].samples);
  }
  ReadResponseParts response;
  response.AddQuery({&first, &second});
  REQUIRE(response.pieces().size() > 4);
  const std::string bytes = response.Concatenated();
  REQUIRE(bytes.size() ==
          response.pieces()[0].size() + first.size() + second.size());
  REQUIRE(DecompressedPieces(response.pieces()) == bytes);
  prometheus::ReadResponse parsed;
  REQUIRE(parsed.ParseFromString(bytes));
  REQUIRE(parsed.results_size() == 1);
  REQUIRE(parsed.results(0).timeseries_size() ==
          static_cast<int>(series.size()));
  for (size_t i = 0; i < series.size(); i += 997) {
    const auto& ts = parsed.results(0).timeseries(static_cast<int>(i));
    RequireLabels(ts.labels(), series[i].labels);
    REQUIRE(ts.samples_size() == static_cast<int>(series[i].samples.size()));
    REQUIRE(Bits(ts.samples(0).value()) == Bits(series[i].samples[0].value));
  }
}

std::string RandomChunkBytes(std::mt19937_64& rng) {
  size_t size = rng() % 6 == 0 ? 0 : rng() % 300;
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST_CASE("STREAMED_XOR_CHUNKS frames parse back with libprotobuf") {
  std::mt19937_64 rng(77);
  int byte_identical = 0;
  for (int iter = 0; iter < 1000; ++iter) {
    struct Frame {
      int64_t query_index;
      LabelSet labels;
      std::vector<std::string> data;
      std::vector<ChunkRef> chunks;
    };
    std::vector<Frame> frames(1 + rng() % 4);
    std::string stream;
    for (auto& f : frames) {
      f.query_index = rng() % 5 == 0 ? -static_cast<int64_t>(rng() % 3)
                                     : static_cast<int64_t>(rng() % 300);
      f.labels = RandomLabels(rng);
      f.data.resize(rng() % 6);  // a series without chunks is still encoded
      for (auto& d : f.data) d = RandomChunkBytes(rng);
      for (const auto& d : f.data) {
        const int64_t min = RandomTimestamp(rng);
        const int64_t span = static_cast<int64_t>(rng() % 7200000);
        const int64_t max =
            min > std::numeric_limits<int64_t>::max() - span ? min : min + span;
        f.chunks.push_back({min, max, d});
      }
      AppendChunkedSeriesFrame(&stream, f.query_index, f.labels.encoded,
                               f.chunks);
    }

    ChunkedFrameReader reader(stream);
    std::string_view message;
    for (const Frame& f : frames) {
      INFO("iteration " << iter);
      Result<bool> more = reader.Next(&message);
      REQUIRE(more.ok());
      REQUIRE(*more);
      prometheus::ChunkedReadResponse parsed;
      REQUIRE(parsed.ParseFromArray(message.data(),
                                    static_cast<int>(message.size())));
      REQUIRE(parsed.query_index() == f.query_index);
      REQUIRE(parsed.chunked_series_size() == 1);
      const auto& series = parsed.chunked_series(0);
      RequireLabels(series.labels(), f.labels);
      REQUIRE(series.chunks_size() == static_cast<int>(f.chunks.size()));
      bool has_defaults = f.query_index == 0;
      for (size_t i = 0; i < f.chunks.size(); ++i) {
        const auto& c = series.chunks(static_cast<int>(i));
        REQUIRE(c.min_time_ms() == f.chunks[i].min_time_ms);
        REQUIRE(c.max_time_ms() == f.chunks[i].max_time_ms);
        REQUIRE(c.type() == prometheus::Chunk::XOR);
        REQUIRE(c.data() == f.data[i]);
        has_defaults |= f.chunks[i].min_time_ms == 0 ||
                        f.chunks[i].max_time_ms == 0 || f.data[i].empty();
      }
      if (!has_defaults) {
        REQUIRE(std::string(message) == parsed.SerializeAsString());
        ++byte_identical;
      }
    }
    Result<bool> end = reader.Next(&message);
    REQUIRE(end.ok());
    REQUIRE_FALSE(*end);
  }
  REQUIRE(byte_identical > 100);
}

TEST_CASE("AppendChunkedSeries cuts frames the way Prometheus does") {
  std::mt19937_64 rng(8);
  const LabelSet labels = RandomLabels(rng);
  const size_t max_frame = GENERATE(1, 500, 4096, size_t{1} << 20);
  std::vector<std::string> data(GENERATE(0, 1, 2, 40));
  std::vector<ChunkRef> chunks;
  for (auto& d : data) d = std::string(1 + rng() % 1200, 'c');
  for (size_t i = 0; i < data.size(); ++i) {
    chunks.push_back({static_cast<int64_t>(i) * 1000 + 1,
                      static_cast<int64_t>(i) * 1000 + 999, data[i]});
  }
  std::string stream;
  AppendChunkedSeries(&stream, 3, labels.encoded, chunks, max_frame);

  const int64_t budget = static_cast<int64_t>(max_frame) -
                         static_cast<int64_t>(labels.encoded.size());
  ChunkedFrameReader reader(stream);
  std::string_view message;
  size_t next_chunk = 0;
  while (true) {
    Result<bool> more = reader.Next(&message);
    REQUIRE(more.ok());
    if (!*more) break;
    prometheus::ChunkedReadResponse parsed;
    REQUIRE(parsed.ParseFromArray(message.data(),
                                  static_cast<int>(message.size())));
    REQUIRE(parsed.query_index() == 3);
    REQUIRE(parsed.chunked_series_size() == 1);
    const auto& series = parsed.chunked_series(0);
    RequireLabels(series.labels(), labels);
    REQUIRE(series.chunks_size() >= 1);  // never an empty frame
    int64_t used = 0;
    for (int i = 0; i < series.chunks_size(); ++i) {
      // Every chunk but the last fitted in the budget when it was added.
      if (i > 0) REQUIRE(used < budget);
      used += static_cast<int64_t>(series.chunks(i).ByteSizeLong());
      REQUIRE(series.chunks(i).data() == data[next_chunk]);
      ++next_chunk;
    }
    // A frame is cut only once the budget is spent, or at the series end.
    if (next_chunk < data.size()) REQUIRE(used >= budget);
  }
  REQUIRE(next_chunk == data.size());  // all chunks, in order, once
  if (data.empty()) REQUIRE(stream.empty());
}

}  // namespace
}  // namespace promewma::codec
