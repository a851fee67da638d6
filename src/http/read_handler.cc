#include "http/read_handler.h"

#include <algorithm>
#include <deque>
#include <future>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "codec/read_request.h"
#include "codec/read_response.h"
#include "codec/snappy_block.h"
#include "codec/xor_chunk.h"
#include "ewma/estimator_params.h"
#include "http/self_metrics.h"
#include "http/write_handler.h"
#include "model/labels.h"
#include "model/matcher.h"

namespace promewma::http {
namespace {

// One stored series a query selected.
struct StoredSeries {
  uint64_t input_hash;       // identity of the input series
  std::string input_labels;  // its canonical labels
  std::optional<ewma::Output> output;  // empty: the raw samples
  std::string labels;        // canonical labels of the selected series
};

std::string StoredLabels(const model::LabelSetView& input,
                         std::string_view stored_name) {
  std::string out;
  model::EncodeWithMetricName(input, stored_name, &out);
  return out;
}

// The series of the head, and those dropped from it whose history is
// still stored, that a query selects, sorted by label set.
Result<std::vector<StoredSeries>> SelectSeries(db::Database* db,
                                               const codec::ReadQuery& query) {
  std::vector<StoredSeries> out;
  std::string name;
  const model::Selector selector(query.matchers);
  auto consider = [&](model::LabelSetView labels, uint64_t labels_hash,
                      ewma::OutputMask outputs) {
    const std::string_view metric = labels.MetricName();
    // The raw series (o == -1), then each configured output.
    for (int o = -1; o < ewma::kOutputCount; ++o) {
      std::optional<ewma::Output> output;
      if (o >= 0) {
        output = static_cast<ewma::Output>(o);
        if (!(outputs & ewma::OutputBit(*output))) continue;
      }
      name.assign(metric);
      if (output) name += ewma::OutputSuffix(*output);
      if (!selector.MatchesWithName(labels, name)) continue;
      out.push_back(StoredSeries{labels_hash, std::string(labels.encoded()),
                                 output,
                                 output ? StoredLabels(labels, name)
                                        : std::string(labels.encoded())});
    }
  };
  db->head()->VisitSeries([&](const head::Head::SeriesInfo& info) {
    consider(info.labels, info.labels_hash, info.outputs);
  });
  Status s = db->VisitDroppedSeries([&](const head::DroppedSeries& d) {
    consider(model::LabelSetView(d.labels), d.labels_hash, d.outputs);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  std::sort(out.begin(), out.end(),
            [](const StoredSeries& a, const StoredSeries& b) {
              return model::LabelSetLess(model::LabelSetView(a.labels),
                                      model::LabelSetView(b.labels));
            });
  // A dropped series that came back is in both; its chunks are read once.
  out.erase(std::unique(out.begin(), out.end(),
                        [](const StoredSeries& a, const StoredSeries& b) {
                          return a.labels == b.labels;
                        }),
            out.end());
  return out;
}

Status SampleLimitError(size_t query, uint64_t limit) {
  return Status::InvalidArgument(
      "query " + std::to_string(query) + " selects more than " +
      std::to_string(limit) +
      " samples (limits.max_samples_per_query); narrow the time range or "
      "the matchers");
}

bool IsSampleLimitError(const Status& s) {
  return s.code() == StatusCode::kInvalidArgument &&
         s.message().find("(limits.max_samples_per_query)") !=
             std::string::npos;
}

// One thread's share of a SAMPLES response: for each query, the
// TimeSeries of one contiguous run of its selected series.
struct SamplesPart {
  std::vector<codec::TimeSeriesEncoder> queries;  // one per query
  std::vector<uint64_t> samples;                  // per query
  Status status;                                  // the first failure
  size_t failed_query = kNoFailure;               // where it happened
  static constexpr size_t kNoFailure = static_cast<size_t>(-1);
};

// The half of series[] a part encodes: the first half, or the rest.
std::pair<size_t, size_t> HalfRange(size_t n, int half) {
  return half == 0 ? std::make_pair(size_t{0}, n / 2)
                   : std::make_pair(n / 2, n);
}

// SAMPLES: decode every chunk of the part's series, keep the samples inside
// the range, encode them. Stops at the first failure, or once the part's
// own samples pass the limit (a lower bound of the query's).
void EncodeSamplesPart(db::Database* db,
                       const codec::ReadRequestView& request,
                       const std::vector<std::vector<StoredSeries>>& selected,
                       int half, uint64_t sample_limit, SamplesPart* part) {
  part->queries.resize(request.queries.size());
  part->samples.assign(request.queries.size(), 0);
  std::vector<codec::ReadSample> samples;
  for (size_t q = 0; q < request.queries.size(); ++q) {
    const codec::ReadQuery& query = request.queries[q];
    const auto [begin, end] = HalfRange(selected[q].size(), half);
    for (size_t i = begin; i < end; ++i) {
      const StoredSeries& series = selected[q][i];
      samples.clear();
      Status s = db->ReadSeries(
          series.input_hash, series.input_labels, series.output, query.start_ms,
          query.end_ms, [&](const store::ChunkView& chunk) {
            codec::XorChunkIterator it(chunk.bytes);
            while (it.Next()) {
              if (it.timestamp() < query.start_ms) continue;
              if (it.timestamp() > query.end_ms) break;
              samples.push_back({it.timestamp(), it.value()});
            }
            return it.status();
          });
      part->samples[q] += samples.size();
      if (s.ok() && part->samples[q] > sample_limit) {
        s = SampleLimitError(q, sample_limit);
      }
      if (!s.ok()) {
        part->status = std::move(s);
        part->failed_query = q;
        return;
      }
      if (!samples.empty()) part->queries[q].AddSeries(series.labels, samples);
    }
  }
}

// Below this many selected series one thread builds the response: a series
// takes ~20 us (360 samples), starting a thread tens of microseconds.
constexpr size_t kParallelMinSeries = 32;

// The first failure in the order one thread would have met it: query by
// query, the first half's series before the second's.
Status FirstFailure(const SamplesPart parts[2], size_t num_queries,
                    uint64_t sample_limit) {
  for (size_t q = 0; q < num_queries; ++q) {
    for (int h = 0; h < 2; ++h) {
      if (parts[h].failed_query == q) return parts[h].status;
    }
    if (parts[0].samples[q] + parts[1].samples[q] > sample_limit) {
      return SampleLimitError(q, sample_limit);
    }
  }
  return Status::Ok();
}

// SAMPLES on two threads: each query's series are split in halves, the
// second half read, decoded and encoded on a helper thread, and the halves
// are joined without copying (the compressor, itself on two threads, reads
// the parts in place). Decoding, encoding and compressing are all CPU work
// in proportion to the samples, so this nearly halves a large read.
Status BuildSamplesResponse(db::Database* db,
                            const codec::ReadRequestView& request,
                            uint64_t sample_limit, HttpResponse* response) {
  std::vector<std::vector<StoredSeries>> selected;
  size_t num_series = 0;
  for (const codec::ReadQuery& query : request.queries) {
    Result<std::vector<StoredSeries>> series = SelectSeries(db, query);
    if (!series.ok()) return series.status();
    selected.push_back(std::move(series).value());
    num_series += selected.back().size();
  }

  SamplesPart parts[2];
  auto encode = [&](int half) {
    EncodeSamplesPart(db, request, selected, half, sample_limit,
                      &parts[half]);
  };
  // The future's destructor waits for the helper, also while an exception
  // unwinds the stack it reads from.
  std::future<void> second;
  if (num_series >= kParallelMinSeries) {
    try {
      second = std::async(std::launch::async, encode, 1);
    } catch (const std::system_error&) {
      // No thread to be had (resource limits): this one does both halves.
    }
  }
  encode(0);
  if (second.valid()) {
    second.get();
  } else {
    encode(1);
  }
  Status s = FirstFailure(parts, request.queries.size(), sample_limit);
  if (!s.ok()) return s;

  codec::ReadResponseParts parts_in_order;
  for (size_t q = 0; q < request.queries.size(); ++q) {
    parts_in_order.AddQuery({&parts[0].queries[q], &parts[1].queries[q]});
  }
  response->status = 200;
  response->content_type = "application/x-protobuf";
  response->headers.push_back({"Content-Encoding", "snappy"});
  response->body = codec::CompressSnappyBlockPieces(parts_in_order.pieces());
  return Status::Ok();
}

// STREAMED_XOR_CHUNKS: stored chunks inside the range go out as they are;
// a chunk that straddles an end is cut down to the range and re-encoded.
Status BuildChunkedResponse(db::Database* db,
                            const codec::ReadRequestView& request,
                            uint64_t sample_limit, HttpResponse* response) {
  std::string out;
  std::deque<std::string> owned;  // chunk bytes; stable addresses
  std::vector<codec::ChunkRef> refs;
  for (size_t q = 0; q < request.queries.size(); ++q) {
    const codec::ReadQuery& query = request.queries[q];
    uint64_t total = 0;
    Result<std::vector<StoredSeries>> selected = SelectSeries(db, query);
    if (!selected.ok()) return selected.status();
    for (const StoredSeries& series : *selected) {
      owned.clear();
      refs.clear();
      Status s = db->ReadSeries(
          series.input_hash, series.input_labels, series.output, query.start_ms,
          query.end_ms, [&](const store::ChunkView& chunk) {
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

RemoteReadHandler::RemoteReadHandler(db::Database* db, ReadLimits limits,
                                     ReadMetrics* metrics,
                                     HeapTrimmer* trimmer)
    : db_(db),
      limits_(limits),
      metrics_(metrics),
      trimmer_(trimmer),
      gate_(limits.max_concurrent_reads) {}

HttpResponse RemoteReadHandler::Handle(const HttpRequest& request) const {
  const ReadGate::Ticket ticket = gate_.TryEnter();
  if (!ticket) {
    if (metrics_ != nullptr) metrics_->refused_concurrent.Increment();
    HttpResponse r = ErrorResponse(
        503, std::to_string(limits_.max_concurrent_reads) +
                 " remote reads in progress already "
                 "(limits.max_concurrent_reads); retry shortly");
    r.headers.push_back({"Retry-After", "1"});
    return r;
  }
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
          ? BuildChunkedResponse(db_, read, limits_.max_samples_per_query,
                                 &response)
          : BuildSamplesResponse(db_, read, limits_.max_samples_per_query,
                                 &response);
  if (!s.ok()) {
    if (metrics_ != nullptr && IsSampleLimitError(s)) {
      metrics_->refused_samples.Increment();
    }
    return ErrorResponse(s);
  }
  // Freed once sent, with the buffers that built it (about as large).
  if (trimmer_ != nullptr) trimmer_->NoteReleased(2 * response.body.size());
  return response;
}

}  // namespace promewma::http
