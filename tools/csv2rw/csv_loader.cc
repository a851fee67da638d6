#include "csv2rw/csv_loader.h"

#include <algorithm>
#include <limits>

#include "csv2rw/csv_reader.h"
#include "csv2rw/row_parser.h"

namespace promewma::csv2rw {

namespace {

// Rows between progress updates: the clock read in Update is ~20 ns, a
// row ~50 ns; every 64Ki rows keeps the check out of the profile.
constexpr uint64_t kProgressEveryRows = 1 << 16;

}  // namespace

Result<LoadedCsv> LoadCsv(std::string_view text, const LoadOptions& options,
                          BadRowLog* bad_rows, ProgressBar* progress) {
  CsvReader reader(text, options.delimiter);
  if (!reader.Next()) return Status::InvalidArgument("the file is empty");
  if (reader.error() != nullptr) {
    return Status::InvalidArgument("line " + std::to_string(reader.line()) +
                                   ": header: " + reader.error());
  }
  Result<ColumnSpec> spec = ResolveColumns(reader.fields(), options.columns);
  if (!spec.ok()) return spec.status();
  const bool has_label_columns = !spec->label_indexes.empty();
  const std::vector<size_t> label_indexes = spec->label_indexes;
  RowParser parser(std::move(spec).value(),
                   TimeParser(options.time_format, options.time_zone));

  SeriesOptions series_options = options.series;
  series_options.label_column_labels.clear();
  for (const auto& [label, column] : options.columns.label_columns) {
    series_options.label_column_labels.push_back(label);
  }
  LoadedCsv loaded;
  loaded.series = std::make_unique<SeriesBuilder>(std::move(series_options));
  SeriesBuilder& series = *loaded.series;

  // One row per line at most: reserve once instead of growing (and
  // copying) a vector of hundreds of megabytes.
  const std::string_view rest = text.substr(reader.position());
  const uint64_t lines =
      static_cast<uint64_t>(std::count(rest.begin(), rest.end(), '\n')) + 1;
  series.Reserve(static_cast<size_t>(
      std::min<uint64_t>(lines, options.max_rows_in_memory)));

  std::string reason;
  std::vector<std::string_view> label_values(label_indexes.size());
  uint32_t series_id = 0;
  if (!has_label_columns && !series.SeriesFor({}, &series_id, &reason)) {
    return Status::InvalidArgument(reason);  // excluded by the REQUIRES
  }
  progress->Start("reading", text.size(), "rows");
  int64_t timestamp_ms;
  double value;
  while (reader.Next()) {
    ++loaded.rows_read;
    if (loaded.rows_read % kProgressEveryRows == 0) {
      progress->Update(reader.position(), loaded.rows_read);
    }
    const uint64_t line = reader.line();
    if (line > std::numeric_limits<uint32_t>::max()) {
      return Status::InvalidArgument("more than 4294967295 lines");
    }
    if (reader.error() != nullptr) {
      bad_rows->Add(line, reader.error());
      continue;
    }
    if (!parser.Parse(reader.fields(), &timestamp_ms, &value, &reason)) {
      bad_rows->Add(line, reason);
      continue;
    }
    if (has_label_columns) {
      for (size_t i = 0; i < label_indexes.size(); ++i) {
        label_values[i] = TrimBlanks(reader.fields()[label_indexes[i]]);
      }
      if (!series.SeriesFor(label_values, &series_id, &reason)) {
        bad_rows->Add(line, reason);
        continue;
      }
    }
    if (series.row_count() >= options.max_rows_in_memory) {
      return Status::ResourceExhausted(
          "more than " + std::to_string(options.max_rows_in_memory) +
          " rows, the --max-rows-in-memory limit (rows are sorted in "
          "memory, 24 bytes each); raise it or split the file");
    }
    series.Add(
        Row{timestamp_ms, value, series_id, static_cast<uint32_t>(line)});
  }
  progress->Update(text.size(), loaded.rows_read);
  progress->Finish();
  if (loaded.rows_read == 0) {
    return Status::InvalidArgument("no data rows after the header");
  }
  loaded.exact_duplicates = series.Finish(bad_rows).exact_duplicates;
  return loaded;
}

}  // namespace promewma::csv2rw
