#include "warmstart/history_source.h"

#include <string>
#include <utility>
#include <vector>

#include "model/labels.h"
#include "model/matcher.h"

namespace promewma::warmstart {

Result<remote::ReadSeries> RemoteHistorySource::Read(
    std::string_view labels, int64_t start_ms, int64_t end_ms,
    std::chrono::milliseconds timeout) {
  std::vector<model::Matcher> matchers;
  for (const model::Label& label : model::LabelSetView(labels)) {
    Result<model::Matcher> m =
        model::Matcher::Create(model::Matcher::Type::kEqual,
                               std::string(label.name),
                               std::string(label.value));
    if (!m.ok()) return m.status();
    matchers.push_back(std::move(m).value());
  }
  Result<std::vector<remote::ReadSeries>> read =
      client_.Read(matchers, start_ms, end_ms, timeout);
  if (!read.ok()) return read.status();
  for (remote::ReadSeries& series : *read) {
    if (series.labels == labels) return std::move(series);
  }
  remote::ReadSeries none;
  none.labels = std::string(labels);
  return none;
}

}  // namespace promewma::warmstart
