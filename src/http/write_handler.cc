#include "http/write_handler.h"

#include <algorithm>
#include <cctype>

#include "codec/snappy_block.h"
#include "codec/write_request.h"

namespace promewma::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

Status CheckSnappyEncoding(std::string_view content_encoding,
                           std::string_view what) {
  // Prometheus' own handlers assume snappy when the header is missing.
  std::string_view encoding = Trim(content_encoding);
  if (!encoding.empty() && !EqualsIgnoreCase(encoding, "snappy")) {
    return Status::UnsupportedMediaType(
        "unsupported Content-Encoding \"" + std::string(encoding) +
        "\": " + std::string(what) + " are snappy block compressed");
  }
  return Status::Ok();
}

Status CheckRemoteWriteHeaders(std::string_view content_type,
                               std::string_view content_encoding) {
  Status encoding =
      CheckSnappyEncoding(content_encoding, "remote write 1.0 bodies");
  if (!encoding.ok()) return encoding;
  if (Trim(content_type).empty()) return Status::Ok();
  std::string_view rest = content_type;
  size_t semi = rest.find(';');
  std::string_view media = Trim(rest.substr(0, semi));
  if (!EqualsIgnoreCase(media, "application/x-protobuf")) {
    return Status::UnsupportedMediaType("unsupported Content-Type \"" +
                                        std::string(Trim(content_type)) +
                                        "\": expected application/x-protobuf");
  }
  while (semi != std::string_view::npos) {
    rest.remove_prefix(semi + 1);
    semi = rest.find(';');
    std::string_view param = Trim(rest.substr(0, semi));
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    if (!EqualsIgnoreCase(Trim(param.substr(0, eq)), "proto")) continue;
    std::string_view proto = Trim(param.substr(eq + 1));
    if (proto != "prometheus.WriteRequest") {
      return Status::UnsupportedMediaType(
          "unsupported remote write message \"" + std::string(proto) +
          "\": only remote write 1.0 (prometheus.WriteRequest) is accepted");
    }
  }
  return Status::Ok();
}

RemoteWriteHandler::RemoteWriteHandler(db::Database* db,
                                       WriteMetrics* metrics,
                                       WriteLimits limits)
    : db_(db), metrics_(metrics), limits_(limits) {}

void RemoteWriteHandler::CountRefusal(const head::ApplyResult& result) const {
  if (result.refusal != head::Refusal::kNone) {
    metrics_->requests_refused[static_cast<int>(result.refusal)]->Increment();
  }
}

HttpResponse RemoteWriteHandler::Handle(const HttpRequest& request) const {
  Status headers =
      CheckRemoteWriteHeaders(request.content_type, request.content_encoding);
  if (!headers.ok()) return ErrorResponse(headers);
  if (request.body.size() > limits_.max_request_bytes) {
    return ErrorResponse(
        Status::TooLarge("body is " + std::to_string(request.body.size()) +
                         " bytes, over the limit of " +
                         std::to_string(limits_.max_request_bytes)));
  }
  metrics_->compressed_bytes.Increment(
      static_cast<double>(request.body.size()));

  // Per-thread buffers: after the first few requests, decoding allocates
  // nothing.
  thread_local std::string decompressed;
  thread_local codec::DecodedWriteRequest decoded;
  Status s = codec::DecompressSnappyBlock(
      request.body, limits_.max_decoded_bytes, &decompressed);
  if (!s.ok()) return ErrorResponse(s);
  metrics_->decoded_bytes.Increment(static_cast<double>(decompressed.size()));
  s = codec::DecodeWriteRequest(decompressed, &decoded);
  if (!s.ok()) return ErrorResponse(s);
  if (decoded.series.size() > limits_.max_series_per_request) {
    // Final: the same request would be refused again. The sender must send
    // smaller requests (Prometheus: queue_config.max_samples_per_send).
    metrics_->requests_refused[static_cast<int>(
        head::Refusal::kSeriesPerRequest)]->Increment();
    return ErrorResponse(
        413, "request has " + std::to_string(decoded.series.size()) +
                 " series, over limits.max_series_per_request (" +
                 std::to_string(limits_.max_series_per_request) +
                 "); send smaller requests");
  }

  thread_local head::ApplyResult result;  // keeps its vectors' capacity
  s = db_->Ingest(decoded, request.body, &result);
  if (!s.ok()) {
    CountRefusal(result);
    HttpResponse r = ErrorResponse(s);
    if (s.code() == StatusCode::kUnavailable)
      r.headers.push_back({"Retry-After", "1"});
    return r;
  }
  metrics_->Record(result);
  CountRefusal(result);
  if (decoded.metadata_count)
    metrics_->metadata_received.Increment(
        static_cast<double>(decoded.metadata_count));
  if (result.refused_series != 0) {
    // The known series' samples are applied (and logged), the new series'
    // dropped: a sender that retries 429 sends the known ones again as
    // identical duplicates, which change nothing, and the new ones are
    // created once idle series have been dropped; one that does not retry
    // loses only the new series, never a known one.
    HttpResponse r = ErrorResponse(
        429, std::to_string(result.refused_series) +
                 " new series refused: promewma holds limits.max_active_series (" +
                 std::to_string(db_->head()->limits().max_active_series) +
                 ") series; the samples of known series were applied");
    r.headers.push_back({"Retry-After", "10"});
    return r;
  }
  if (!result.rejection.empty()) {
    return ErrorResponse(Status::InvalidArgument(result.rejection));
  }
  HttpResponse ok;
  ok.status = 204;
  return ok;
}

}  // namespace promewma::http
