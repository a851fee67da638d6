// LoadCsv: a whole CSV text -> series in send order, plus its bad rows.
//
// The header picks the columns (column_spec.h); each following record is
// parsed (row_parser.h), assigned to its series and kept as a 24-byte Row;
// at the end the rows are put in send order and duplicates are removed
// (series_builder.h). Every bad record goes to the BadRowLog with its line;
// problems of the file as a whole (empty, a header without the needed
// columns, no data rows, too many rows for --max-rows-in-memory) are the
// returned Status, one line, without the file name (the caller adds it).
//
// Nothing is sent while loading: a file with a bad row can be refused
// before any of it reaches the receiver.
//
// Thread-safety: a pure function of its inputs.

#ifndef PROMEWMA_TOOLS_CSV2RW_CSV_LOADER_H_
#define PROMEWMA_TOOLS_CSV2RW_CSV_LOADER_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "csv2rw/bad_row_log.h"
#include "csv2rw/column_spec.h"
#include "csv2rw/progress.h"
#include "csv2rw/series_builder.h"
#include "csv2rw/time_parser.h"
#include "promewma/status.h"

namespace promewma::csv2rw {

// Rows held in memory at once by default: 50M rows are 1.2 GB.
inline constexpr uint64_t kDefaultMaxRowsInMemory = 50'000'000;

struct LoadOptions {
  ColumnOptions columns;
  // Its label_column_labels are taken from columns.label_columns.
  SeriesOptions series;
  TimeFormat time_format = TimeFormat::kAuto;
  TimeZone time_zone;  // for zone-less times
  char delimiter = ',';
  uint64_t max_rows_in_memory = kDefaultMaxRowsInMemory;
};

struct LoadedCsv {
  std::unique_ptr<SeriesBuilder> series;  // finished: rows in send order
  uint64_t rows_read = 0;                 // data records, bad ones included
  uint64_t exact_duplicates = 0;  // dropped (same series, time and value)
};

// REQUIRES: ValidateSeriesOptions(options.series) is OK with the label
// columns filled in.
Result<LoadedCsv> LoadCsv(std::string_view text, const LoadOptions& options,
                          BadRowLog* bad_rows, ProgressBar* progress);

}  // namespace promewma::csv2rw

#endif  // PROMEWMA_TOOLS_CSV2RW_CSV_LOADER_H_
