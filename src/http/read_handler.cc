#include "http/read_handler.h"

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "codec/read_request.h"
#include "codec/read_response.h"
#include "codec/snappy_block.h"
#include "codec/xor_chunk.h"
#include "ewma/estimator_params.h"
#include "http/write_handler.h"
#include "model/labels.h"
#include "model/matcher.h"

namespace promewma::http {
namespace {

// One stored series a query selected.
struct StoredSeries {
  uint64_t input_hash;       // identity of the input series
  std::string input_labels;  // its canonical labels
  uint8_t kind;              // ewma::kRawKind or StoredKindOf(output)
  std::string labels;        // canonical labels of the stored series
};

// Value of label `name` in the stored series: the input series' labels with
// __name__ replaced by the stored name.
bool MatchesStored(const std::vector<model::Matcher>& matchers,
                   const model::LabelSetView& input,
                   std::string_view stored_name) {
  for (const model::Matcher& m : matchers) {
    std::string_view value =
        m.name() == model::kMetricNameLabel ? stored_name : input.Get(m.name());
    if (!m.Matches(value)) return false;
  }
  return true;
}

std::string StoredLabels(const model::LabelSetView& input,
                         std::string_view stored_name) {
  std::vector<model::Label> labels;
  for (const model::Label& l : input) {
    labels.push_back(l.name == model::kMetricNameLabel
                         ? model::Label{l.name, stored_name}
                         : l);
  }
  std::string out;
  // The input set was validated and a derived name is a valid metric name.
  (void)model::EncodeLabelSet(&labels, &out);
  return out;
}

// Prometheus orders series by label set: label by label, name then value.
bool LabelSetLess(const std::string& a, const std::string& b) {
  model::LabelSetView va(a), vb(b);
  auto ia = va.begin(), ib = vb.begin();
  for (; ia != va.end() && ib != vb.end(); ++ia, ++ib) {
    if (ia->name != ib->name) return ia->name < ib->name;
    if (ia->value != ib->value) return ia->value < ib->value;
  }
  return ia == va.end() && ib != vb.end();
}

std::vector<StoredSeries> SelectSeries(const ewma::Engine& engine,
                                       const codec::ReadQuery& query) {
  std::vector<StoredSeries> out;
  std::string name;
  engine.VisitSeries([&](const ewma::Engine::SeriesInfo& info) {
    const std::string_view metric = info.labels.MetricName();
    for (int kind = 0; kind < ewma::kStoredKinds; ++kind) {
      if (kind != ewma::kRawKind && !(info.outputs & (1u << (kind - 1)))) {
        continue;
      }
      name.assign(metric);
      if (kind != ewma::kRawKind) {
        name += ewma::OutputSuffix(static_cast<ewma::Output>(kind - 1));
      }
      if (!MatchesStored(query.matchers, info.labels, name)) continue;
      out.push_back(StoredSeries{
          info.labels_hash, std::string(info.labels.encoded()),
          static_cast<uint8_t>(kind),
          kind == ewma::kRawKind ? std::string(info.labels.encoded())
                                 : StoredLabels(info.labels, name)});
    }
  });
  std::sort(out.begin(), out.end(),
            [](const StoredSeries& a, const StoredSeries& b) {
              return LabelSetLess(a.labels, b.labels);
            });
  return out;
}

Status SampleLimitError(size_t query, uint64_t limit) {
  return Status::InvalidArgument(
      "query " + std::to_string(query) + " selects more than " +
      std::to_string(limit) +
      " samples (limits.max_samples_per_query); narrow the time range or "
      "the matchers");
}

// SAMPLES: decode every chunk, keep the samples inside the range.
Status BuildSamplesResponse(store::DurableIngester* ingester,
                            const codec::ReadRequestView& request,
                            uint64_t sample_limit, HttpResponse* response) {
  codec::ReadResponseEncoder encoder;
  std::vector<codec::ReadSample> samples;
  for (size_t q = 0; q < request.queries.size(); ++q) {
    const codec::ReadQuery& query = request.queries[q];
    uint64_t total = 0;
    encoder.BeginQuery();
    for (const StoredSeries& series :
         SelectSeries(*ingester->engine(), query)) {
      samples.clear();
      Status s = ingester->ReadStoredSeries(
          series.input_hash, series.input_labels, series.kind, query.start_ms,
          query.end_ms, [&](const store::StoredChunkView& chunk) {
            codec::XorChunkIterator it(chunk.bytes);
            while (it.Next()) {
              if (it.timestamp() < query.start_ms) continue;
              if (it.timestamp() > query.end_ms) break;
              samples.push_back({it.timestamp(), it.value()});
            }
            return it.status();
          });
      if (!s.ok()) return s;
      total += samples.size();
      if (total > sample_limit) return SampleLimitError(q, sample_limit);
      if (!samples.empty()) encoder.AddSeries(series.labels, samples);
    }
    encoder.EndQuery();
  }
  response->status = 200;
  response->content_type = "application/x-protobuf";
  response->headers.push_back({"Content-Encoding", "snappy"});
  response->body = codec::CompressSnappyBlock(encoder.Finish());
  return Status::Ok();
}

// STREAMED_XOR_CHUNKS: stored chunks inside the range go out as they are;
// a chunk that straddles an end is cut down to the range and re-encoded.
Status BuildChunkedResponse(store::DurableIngester* ingester,
                            const codec::ReadRequestView& request,
                            uint64_t sample_limit, HttpResponse* response) {
  std::string out;
  std::deque<std::string> owned;  // chunk bytes; stable addresses
  std::vector<codec::ChunkRef> refs;
  for (size_t q = 0; q < request.queries.size(); ++q) {
    const codec::ReadQuery& query = request.queries[q];
    uint64_t total = 0;
    for (const StoredSeries& series :
         SelectSeries(*ingester->engine(), query)) {
      owned.clear();
      refs.clear();
      Status s = ingester->ReadStoredSeries(
          series.input_hash, series.input_labels, series.kind, query.start_ms,
          query.end_ms, [&](const store::StoredChunkView& chunk) {
            if (chunk.min_time_ms >= query.start_ms &&
                chunk.max_time_ms <= query.end_ms) {
              codec::XorChunkIterator header(chunk.bytes);
              total += header.num_samples();
              owned.emplace_back(chunk.bytes);
              refs.push_back(
                  {chunk.min_time_ms, chunk.max_time_ms, owned.back()});
              return Status::Ok();
            }
            codec::XorChunkAppender cut;
            codec::XorChunkIterator it(chunk.bytes);
            while (it.Next()) {
              if (it.timestamp() < query.start_ms) continue;
              if (it.timestamp() > query.end_ms) break;
              cut.Append(it.timestamp(), it.value());
            }
            if (!it.status().ok()) return it.status();
            if (cut.num_samples() == 0) return Status::Ok();
            total += cut.num_samples();
            owned.emplace_back(cut.bytes());
            refs.push_back({cut.min_time(), cut.max_time(), owned.back()});
            return Status::Ok();
          });
      if (!s.ok()) return s;
      if (total > sample_limit) return SampleLimitError(q, sample_limit);
      if (!refs.empty()) {
        codec::AppendChunkedSeries(&out, static_cast<int64_t>(q), series.labels,
                                   refs);
      }
    }
  }
  response->status = 200;
  response->content_type =
      "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
  response->body = std::move(out);
  return Status::Ok();
}

}  // namespace

RemoteReadHandler::RemoteReadHandler(store::DurableIngester* ingester,
                                     ReadLimits limits)
    : ingester_(ingester), limits_(limits) {}

HttpResponse RemoteReadHandler::Handle(const HttpRequest& request) const {
  Status encoding =
      CheckSnappyEncoding(request.content_encoding, "remote read requests");
  if (!encoding.ok()) return ErrorResponse(encoding);
  if (request.body.size() > limits_.max_request_bytes) {
    return ErrorResponse(
        Status::TooLarge("body is " + std::to_string(request.body.size()) +
                         " bytes, over the limit of " +
                         std::to_string(limits_.max_request_bytes)));
  }
  codec::ReadRequestView read;
  Status s =
      codec::DecodeReadRequest(request.body, limits_.max_decoded_bytes, &read);
  if (!s.ok()) return ErrorResponse(s);

  HttpResponse response;
  s = read.response_type == codec::ReadResponseType::kStreamedXorChunks
          ? BuildChunkedResponse(ingester_, read, limits_.max_samples_per_query,
                                 &response)
          : BuildSamplesResponse(ingester_, read, limits_.max_samples_per_query,
                                 &response);
  if (!s.ok()) return ErrorResponse(s);
  return response;
}

}  // namespace promewma::http
