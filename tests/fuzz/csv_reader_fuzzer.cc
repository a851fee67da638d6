// libFuzzer target: arbitrary bytes read as a CSV file by csv2rw.
//
// The first byte picks the options (delimiter, time format, a label
// column); the rest follows a fixed header ("timestamp,value,host") as the
// file's data rows, so that the row parser, the time parser and the series
// builder see the bytes, not only the header check.
//
// Invariants checked on every input:
//  - CsvReader terminates, line numbers never decrease, the position only
//    moves forward and ends at the input's size, and every field of a
//    well-formed record views the input or the reader's own buffer;
//  - LoadCsv either fails with a message or yields rows in send order (by
//    time, then series; no two rows with the same series and time), and
//    every data record is either a row, a bad row or a dropped duplicate;
//  - the batches WriteBatches encodes decode (snappy + the zero-copy
//    WriteRequest decoder) to exactly those rows, at most 7 per batch.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "codec/snappy_block.h"
#include "codec/write_request.h"
#include "csv2rw/batch_writer.h"
#include "csv2rw/csv_loader.h"
#include "csv2rw/csv_reader.h"

namespace {

using namespace promewma::csv2rw;
using promewma::Result;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckReader(std::string_view data, char delimiter) {
  CsvReader reader(data, delimiter);
  uint64_t last_line = 0;
  size_t last_position = reader.position();
  while (reader.Next()) {
    Check(reader.line() >= last_line);
    Check(reader.position() >= last_position);
    last_line = reader.line();
    last_position = reader.position();
    if (reader.error() != nullptr) continue;
    Check(!reader.fields().empty());
    for (std::string_view f : reader.fields()) {
      const bool in_input = f.data() >= data.data() &&
                            f.data() + f.size() <= data.data() + data.size();
      Check(in_input || f.empty() || f.find('"') != std::string_view::npos);
    }
  }
  Check(reader.position() == data.size());
}

void CheckLoad(std::string_view data, uint8_t selector) {
  static const char kDelimiters[] = {',', ';', '\t', ' '};
  static const TimeFormat kFormats[] = {TimeFormat::kAuto, TimeFormat::kIso8601,
                                        TimeFormat::kEpochSeconds,
                                        TimeFormat::kEpochMillis};
  const char delimiter = kDelimiters[selector & 3];
  LoadOptions options;
  options.delimiter = delimiter;
  options.time_format = kFormats[(selector >> 2) & 3];
  options.max_rows_in_memory = 1000;
  if (selector & 16) {
    Result<TimeZone> zone = TimeZone::Load("+05:30");
    Check(zone.ok());
    options.time_zone = *zone;
  }
  const bool labels = selector & 32;
  if (labels) options.columns.label_columns = {{"host", "host"}};
  std::string text =
      std::string("timestamp") + delimiter + "value" + delimiter + "host\n";
  text.append(data);

  BadRowLog bad_rows("fuzz.csv", 5);
  ProgressBar progress(false, stderr);
  Result<LoadedCsv> loaded = LoadCsv(text, options, &bad_rows, &progress);
  if (!loaded.ok()) {
    Check(!loaded.status().message().empty());
    return;
  }
  const SeriesBuilder& series = *loaded->series;
  const std::vector<Row>& rows = series.rows();
  Check(rows.size() + bad_rows.count() + loaded->exact_duplicates ==
        loaded->rows_read);
  for (size_t i = 1; i < rows.size(); ++i) {
    const Row& a = rows[i - 1];
    const Row& b = rows[i];
    Check(a.timestamp_ms < b.timestamp_ms ||
          (a.timestamp_ms == b.timestamp_ms && a.series < b.series));
  }
  for (const Row& r : rows) Check(r.series < series.series_count());
  Check(labels || series.series_count() == 1);

  MemorySink sink;
  uint64_t written = 0;
  Check(WriteBatches(series, 7, &sink, &progress, &written).ok());
  Check(written == rows.size());
  // Decoded samples, per series, in the order sent.
  std::vector<std::vector<std::pair<int64_t, uint64_t>>> got(
      series.series_count());
  for (const std::string& body : sink.bodies) {
    std::string raw;
    Check(promewma::codec::DecompressSnappyBlock(body, 1 << 24, &raw).ok());
    promewma::codec::DecodedWriteRequest request;
    Check(promewma::codec::DecodeWriteRequest(raw, &request).ok());
    size_t samples = 0;
    for (const auto& ts : request.series) {
      uint32_t id = 0;
      while (id < series.series_count() && series.labels(id) != ts.labels) ++id;
      Check(id < series.series_count());
      for (uint32_t k = 0; k < ts.sample_count; ++k) {
        const auto& s = request.samples[ts.first_sample + k];
        uint64_t bits;
        std::memcpy(&bits, &s.value, 8);
        got[id].push_back({s.timestamp_ms, bits});
        ++samples;
      }
    }
    Check(samples >= 1 && samples <= 7);
  }
  std::vector<std::vector<std::pair<int64_t, uint64_t>>> want(
      series.series_count());
  for (const Row& r : rows) {
    uint64_t bits;
    std::memcpy(&bits, &r.value, 8);
    want[r.series].push_back({r.timestamp_ms, bits});
  }
  Check(got == want);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1),
                              size - 1);
  CheckReader(text, data[0] & 1 ? ';' : ',');
  CheckLoad(text, data[0]);
  return 0;
}
