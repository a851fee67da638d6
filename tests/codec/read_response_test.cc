// The hand-written remote-read response encoders, parsed back with
// libprotobuf (prometheus.ReadResponse / ChunkedReadResponse from proto/)
// and compared field by field, bit for bit on sample values. Where no field
// is at its default, the bytes must also equal libprotobuf's own
// serialization (same field order, minimal lengths).

#include "codec/read_response.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "codec/chunked_frame.h"
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

// The size of a query's series as entries, from SampleEntrySize.
size_t ContentSize(const std::vector<Series>& query) {
  size_t content = 0;
  for (const Series& series : query) {
    size_t samples_bytes = 0;
    for (const ReadSample& sample : series.samples) {
      samples_bytes += SampleEntrySize(sample.timestamp_ms);
    }
    content += TimeSeriesEntrySize(series.labels.encoded, samples_bytes);
  }
  return content;
}

// Encodes a ReadResponse the way the read handler does: each query's
// QueryResult header, sized first, then its series entry by entry.
std::string EncodeResponse(const std::vector<std::vector<Series>>& queries) {
  std::string bytes;
  for (const auto& q : queries) {
    const size_t content = ContentSize(q);
    AppendQueryResultHeader(&bytes, content);
    const size_t start = bytes.size();
    for (const Series& series : q) {
      AppendTimeSeriesEntry(&bytes, series.labels.encoded,
                            series.samples.data(), series.samples.size());
    }
    REQUIRE(bytes.size() - start == content);
  }
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

    const std::string bytes = EncodeResponse(queries);

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
  SECTION("no queries at all") { REQUIRE(EncodeResponse({}).empty()); }
  SECTION("a query without series still gets its QueryResult") {
    const std::string bytes = EncodeResponse({{}, {}});
    REQUIRE(bytes == std::string("\x0a\x00\x0a\x00", 4));
    prometheus::ReadResponse parsed;
    REQUIRE(parsed.ParseFromString(bytes));
    REQUIRE(parsed.results_size() == 2);
  }
  SECTION("stale marker, NaN, -0.0 and negative timestamps, exactly") {
    std::mt19937_64 rng(1);
    Series series{RandomLabels(rng),
                  {
                      {-1, FromBits(kStaleNaN)},
                      {0, -0.0},
                      {0, 0.0},
                      {std::numeric_limits<int64_t>::min(), std::nan("")},
                      // a negative quiet NaN with a payload
                      {1, FromBits(0xfff8000000000001)},
                  }};
    prometheus::ReadResponse parsed;
    REQUIRE(parsed.ParseFromString(EncodeResponse({{series}})));
    const auto& ts = parsed.results(0).timeseries(0);
    REQUIRE(ts.samples_size() == 5);
    for (int i = 0; i < 5; ++i) {
      REQUIRE(ts.samples(i).timestamp() == series.samples[i].timestamp_ms);
      REQUIRE(Bits(ts.samples(i).value()) == Bits(series.samples[i].value));
    }
  }
}

TEST_CASE("SAMPLES: query and series lengths of every varint width") {
  // QueryResult lengths of 1, 2, 3 and 4 varint bytes.
  std::mt19937_64 rng(3);
  const LabelSet labels = RandomLabels(rng);
  const size_t samples_for_width = GENERATE(0, 3, 800, 120000);
  std::vector<ReadSample> samples(samples_for_width);
  for (size_t i = 0; i < samples.size(); ++i) {
    samples[i] = {1700000000000 + static_cast<int64_t>(i) * 10000,
                  static_cast<double>(i)};
  }
  const std::vector<ReadSample> half(samples.begin(),
                                     samples.begin() + samples.size() / 2);
  const std::vector<ReadSample> one(samples.begin(),
                                    samples.begin() + (samples.empty() ? 0 : 1));
  // A second query right behind the first.
  const std::string bytes =
      EncodeResponse({{{labels, samples}, {labels, half}}, {{labels, one}}});
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
