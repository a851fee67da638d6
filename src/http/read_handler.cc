#include "http/read_handler.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "codec/read_request.h"
#include "codec/read_response.h"
#include "codec/snappy_block.h"
#include "codec/xor_chunk.h"
#include "common/protowire.h"
#include "common/thread_role.h"
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

// The input metric names a query can select, when its __name__ matcher
// narrows them: __name__="cpu:ewma" selects "cpu:ewma" itself, or "cpu" for
// its output; __name__=~"cpu:e.*" names starting with "cpu:e", or "cpu"
// (whose output names can start so). None when no matcher narrows them
// (an equality matcher is taken over a regex).
std::optional<store::MetricNames> InputNames(const codec::ReadQuery& query) {
  const model::Matcher* narrowing = nullptr;
  for (const model::Matcher& m : query.matchers) {
    if (m.name() != model::kMetricNameLabel) continue;
    if (m.type() == model::Matcher::Type::kEqual) {
      narrowing = &m;
      break;
    }
    if (narrowing == nullptr && !m.LiteralPrefix().empty()) narrowing = &m;
  }
  if (narrowing == nullptr) return std::nullopt;
  const bool exact = narrowing->type() == model::Matcher::Type::kEqual;
  const std::string prefix = narrowing->LiteralPrefix();
  store::MetricNames names;
  (exact ? names.names : names.name_prefixes).push_back(prefix);
  // An input name shorter than the prefix selects an output whose name,
  // the input's and its suffix, starts with it: the prefix ends with the
  // suffix's first k bytes (all of them when the name is exact).
  for (int o = 0; o < ewma::kOutputCount; ++o) {
    const std::string_view suffix =
        ewma::OutputSuffix(static_cast<ewma::Output>(o));
    for (size_t k = exact ? suffix.size() : 1;
         k <= suffix.size() && k < prefix.size(); ++k) {
      if (prefix.compare(prefix.size() - k, k, suffix.substr(0, k)) == 0) {
        names.names.push_back(prefix.substr(0, prefix.size() - k));
      }
    }
  }
  return names;
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
  const std::optional<store::MetricNames> names = InputNames(query);
  Status s = db->VisitDroppedSeries(
      [&](const head::DroppedSeries& d) {
        consider(model::LabelSetView(d.labels), d.labels_hash, d.outputs);
        return Status::Ok();
      },
      names ? &*names : nullptr);
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

// Appends the samples of an XOR chunk inside [start_ms, end_ms].
Status AppendInRange(std::string_view chunk, int64_t start_ms, int64_t end_ms,
                     std::vector<codec::ReadSample>* samples) {
  codec::XorChunkIterator it(chunk);
  while (it.Next()) {
    if (it.timestamp() < start_ms) continue;
    if (it.timestamp() > end_ms) break;
    samples->push_back({it.timestamp(), it.value()});
  }
  return it.status();
}

// The samples of `series` inside the query's range, in time order.
Status ReadSamples(db::Database* db, const StoredSeries& series,
                   int64_t start_ms, int64_t end_ms,
                   std::vector<codec::ReadSample>* samples,
                   store::ChunkReader* reader) {
  samples->clear();
  return db->ReadSeries(
      series.input_hash, series.input_labels, series.output, start_ms, end_ms,
      [&](const store::ChunkView& chunk) {
        return AppendInRange(chunk.bytes, start_ms, end_ms, samples);
      },
      reader);
}

// The samples of a series inside a range: how many, and the bytes they take
// in its TimeSeries entry.
struct SamplesSize {
  size_t count = 0;
  size_t bytes = 0;
};

// Adds the samples of `chunk` inside [start_ms, end_ms] to *size. A chunk
// that lies inside the range, and whose first and last timestamps take as
// many bytes as each other (so do all those between), is sized from its
// header's sample count without being decoded.
Status SizeChunk(const store::ChunkView& chunk, int64_t start_ms,
                 int64_t end_ms, SamplesSize* size) {
  if (chunk.min_time_ms >= start_ms && chunk.max_time_ms <= end_ms &&
      chunk.min_time_ms >= 0 && chunk.bytes.size() >= 2 &&
      codec::SampleEntrySize(chunk.min_time_ms) ==
          codec::SampleEntrySize(chunk.max_time_ms)) {
    const size_t count = codec::XorChunkIterator(chunk.bytes).num_samples();
    size->count += count;
    size->bytes += count * codec::SampleEntrySize(chunk.min_time_ms);
    return Status::Ok();
  }
  codec::XorChunkIterator it(chunk.bytes);
  while (it.Next()) {
    if (it.timestamp() < start_ms) continue;
    if (it.timestamp() > end_ms) break;
    ++size->count;
    size->bytes += codec::SampleEntrySize(it.timestamp());
  }
  return it.status();
}

// The chunks of one series that sizing read, kept under a ChunkBudget until
// the stream encodes the series, so that it is not read from the store
// again. Keeps all of the series' chunks or, once the budget runs out,
// none.
class KeptChunks {
 public:
  KeptChunks() = default;
  explicit KeptChunks(ChunkBudget* budget) : budget_(budget) {}
  KeptChunks(KeptChunks&& other) noexcept
      : budget_(std::exchange(other.budget_, nullptr)),
        taken_(std::exchange(other.taken_, 0)),
        bytes_(std::move(other.bytes_)),
        ends_(std::move(other.ends_)) {}
  KeptChunks& operator=(KeptChunks&&) = delete;
  ~KeptChunks() { Release(); }

  // Keeps a copy of `chunk` if the budget has room for it; otherwise
  // releases those kept before and keeps no more.
  void Add(std::string_view chunk) {
    if (budget_ == nullptr) return;
    const size_t needed = bytes_.size() + chunk.size();
    if (needed > bytes_.capacity()) {
      // The string grows as it would, and the budget is charged with what
      // it holds, not with what it uses.
      const size_t capacity = std::max(needed, 2 * bytes_.capacity());
      if (!budget_->TryTake(capacity - taken_)) {
        Release();
        budget_ = nullptr;
        return;
      }
      bytes_.reserve(capacity);
      taken_ = capacity;
    }
    bytes_.append(chunk);
    ends_.push_back(bytes_.size());
  }

  // True when every chunk Add was given is kept.
  bool whole() const { return budget_ != nullptr; }

  // Appends the kept chunks' samples inside [start_ms, end_ms].
  Status Decode(int64_t start_ms, int64_t end_ms,
                std::vector<codec::ReadSample>* samples) const {
    size_t begin = 0;
    for (size_t end : ends_) {
      Status s = AppendInRange(
          std::string_view(bytes_).substr(begin, end - begin), start_ms,
          end_ms, samples);
      if (!s.ok()) return s;
      begin = end;
    }
    return Status::Ok();
  }

  // Frees the chunks and gives their bytes back to the budget.
  void Release() {
    if (budget_ != nullptr) budget_->Give(taken_);
    taken_ = 0;
    std::string().swap(bytes_);
    std::vector<size_t>().swap(ends_);
  }

 private:
  ChunkBudget* budget_ = nullptr;  // null: nothing kept
  size_t taken_ = 0;               // from the budget: bytes_'s capacity
  std::string bytes_;              // the chunks, one after another
  std::vector<size_t> ends_;       // where each one ends in bytes_
};

// A series to read and the range of its query.
struct SeriesInRange {
  const StoredSeries* series;
  int64_t start_ms, end_ms;
};

// Reads series 0..n-1 (`series_at(i)` is a SeriesInRange) and passes each
// one's samples to `take(i, samples)`, in the store's key order: by the
// input's label-set hash, as chunk keys sort within a time bucket
// (store/store.h). In that order the store's iterator moves forward
// through each table file and keeps the block it holds when the next key
// is in it. In label order nearly every series is in another block than
// the one before, read from the file again (blocks are not cached, see
// StoreOptions::cache_reads): for 5,000 series of 40 samples, over a third
// of the read.
// A read that fails ends the reads of the series after it in label order,
// and the failure first in label order is returned, as a read in that
// order would have met it. A failure from `take` ends the whole read.
//
// VisitInStoreOrder is the loop: `read(i)` reads series i, `take(i)` uses
// what it read.
template <typename SeriesAt, typename Read, typename Take>
Status VisitInStoreOrder(size_t n, SeriesAt series_at, Read read, Take take) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  // Stable: a raw series and its outputs share the hash and stay in order.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return series_at(a).series->input_hash < series_at(b).series->input_hash;
  });
  size_t failed = n;  // the first in label order whose read failed
  Status failure;
  for (size_t i : order) {
    if (i > failed) continue;
    YieldIfDue();
    Status s = read(i);
    if (!s.ok()) {
      failed = i;
      failure = std::move(s);
      continue;
    }
    s = take(i);
    if (!s.ok()) return s;
  }
  return failure;
}

template <typename SeriesAt, typename Take>
Status ReadInStoreOrder(db::Database* db, size_t n, SeriesAt series_at,
                        Take take, store::ChunkReader* reader) {
  std::vector<codec::ReadSample> samples;
  return VisitInStoreOrder(
      n, series_at,
      [&](size_t i) {
        const SeriesInRange r = series_at(i);
        return ReadSamples(db, *r.series, r.start_ms, r.end_ms, &samples,
                           reader);
      },
      [&](size_t i) { return take(i, samples); });
}

// A SAMPLES response at least this large (uncompressed) is streamed in
// pieces instead of sent whole: 10,000 series x 1 h at 10 s is 65 MB
// encoded, and built whole it held about twice that in heap (the encoded
// parts and the compressed body) for as long as the read took to send.
// A smaller one is taken from its stream into one body.
constexpr size_t kStreamSamplesMinBytes = 1 << 20;
// The uncompressed bytes behind one streamed piece: 16 snappy fragments.
constexpr size_t kStreamPieceRawBytes = 16 * codec::kSnappyFragmentBytes;

// A SAMPLES response streamed in pieces of about kStreamPieceRawBytes
// (before compression), so a read holds a piece, not its whole answer.
// A snappy block and each QueryResult start with their lengths, so every
// TimeSeries is sized first (which also checks the sample limit while a
// refusal can still be a status code), then encoded piece by piece.
// Sizing keeps the chunks it read while the handler's ChunkBudget allows,
// and the stream decodes those; a series whose chunks were not kept is
// read again. Samples that arrive in between have later timestamps, so the
// second read takes as many samples as sizing counted; a series that no
// longer matches its size (its chunks deleted meanwhile) ends the stream,
// which the client sees as a cut-off body.
//
// Each piece is compressed on its own into snappy elements that follow
// each other in the block (see codec/snappy_block.h for why that is one
// valid block).
class SamplesStream {
 public:
  struct Entry {
    size_t query;
    StoredSeries series;
    size_t count;  // samples in range at sizing
    size_t bytes;  // its TimeSeries entry
    KeptChunks kept;  // its chunks, when whole() (released once encoded)
  };
  struct Query {
    int64_t start_ms, end_ms;
    size_t content_bytes;  // its entries
  };

  SamplesStream(db::Database* db, ReadGate::Ticket ticket,
                std::vector<Query> queries, std::vector<Entry> entries)
      : db_(db),
        ticket_(std::move(ticket)),
        queries_(std::move(queries)),
        entries_(std::move(entries)) {}

  size_t raw_bytes() const {
    size_t total = 0;
    for (const Query& q : queries_) {
      total += 1 + protowire::VarintSize(q.content_bytes) + q.content_bytes;
    }
    return total;
  }

  // HttpResponse::stream: the next compressed piece.
  bool Next(std::string* piece) {
    piece->clear();
    if (done_) return false;
    if (!started_) {
      codec::AppendSnappyPreamble(raw_bytes(), piece);
      started_ = true;
    }
    // The piece's series: at least one, and as many more as fit.
    const size_t first = next_entry_;
    size_t last = first, bytes = 0;
    while (last < entries_.size() &&
           (last == first || bytes + entries_[last].bytes <=
                                 kStreamPieceRawBytes)) {
      bytes += entries_[last++].bytes;
    }
    const bool final = last == entries_.size();
    Encode(first, last, next_query_, final, &part_);
    codec::AppendSnappyElements(part_.raw, piece, &part_.scratch);
    next_entry_ = last;
    next_query_ = final ? queries_.size() : entries_[last - 1].query + 1;
    done_ = final;
    return true;
  }

 private:
  // What a piece is built with, kept from piece to piece.
  struct Part {
    std::string raw;      // the piece, encoded
    std::string scratch;  // for its compression
    // The samples of its series, by position in the piece.
    std::vector<std::vector<codec::ReadSample>> samples;
    std::vector<size_t> reread;  // its series not kept
  };

  // Encodes entries [begin, end) into part->raw, each query's header
  // before its first entry; the queries before `query` have theirs. With
  // `last`, also the headers of the queries left (those without series).
  void Encode(size_t begin, size_t end, size_t query, bool last,
              Part* part) {
    part->raw.clear();
    const size_t n = end - begin;
    if (part->samples.size() < n) part->samples.resize(n);
    const auto lost = [] {
      return Status::Internal("a series lost samples during the read");
    };
    part->reread.clear();
    for (size_t k = 0; k < n; ++k) {
      YieldIfDue();
      Entry& e = entries_[begin + k];
      if (!e.kept.whole()) {
        part->reread.push_back(k);
        continue;
      }
      std::vector<codec::ReadSample>& samples = part->samples[k];
      samples.clear();
      Status s = e.kept.Decode(queries_[e.query].start_ms,
                               queries_[e.query].end_ms, &samples);
      if (s.ok() && samples.size() != e.count) s = lost();
      if (!s.ok()) throw std::runtime_error(s.message());
      e.kept.Release();
    }
    // One per piece: between pieces, while a slow client takes
    // one, the stream holds none of RocksDB's files.
    store::ChunkReader reader;
    Status s = ReadInStoreOrder(
        db_, part->reread.size(),
        [&](size_t j) {
          const Entry& e = entries_[begin + part->reread[j]];
          return SeriesInRange{&e.series, queries_[e.query].start_ms,
                               queries_[e.query].end_ms};
        },
        [&](size_t j, std::vector<codec::ReadSample>& samples) {
          if (samples.size() < entries_[begin + part->reread[j]].count) {
            return lost();
          }
          part->samples[part->reread[j]].swap(samples);
          return Status::Ok();
        },
        &reader);
    if (!s.ok()) throw std::runtime_error(s.message());
    for (size_t k = 0; k < n; ++k) {
      YieldIfDue();
      const Entry& e = entries_[begin + k];
      query = HeadersUpTo(query, e.query + 1, &part->raw);
      const size_t before = part->raw.size();
      codec::AppendTimeSeriesEntry(&part->raw, e.series.labels,
                                   part->samples[k].data(), e.count);
      if (part->raw.size() - before != e.bytes) {
        throw std::runtime_error("a series changed size during the read");
      }
    }
    if (last) HeadersUpTo(query, queries_.size(), &part->raw);
  }

  // Writes the QueryResult headers of queries [query, end) to *raw, and
  // returns the next query without one.
  size_t HeadersUpTo(size_t query, size_t end, std::string* raw) const {
    for (; query < end; ++query) {
      codec::AppendQueryResultHeader(raw, queries_[query].content_bytes);
    }
    return query;
  }

  db::Database* const db_;
  const ReadGate::Ticket ticket_;  // the read's slot, until the last piece
  const std::vector<Query> queries_;
  std::vector<Entry> entries_;
  size_t next_entry_ = 0;
  size_t next_query_ = 0;  // the first whose header is not written yet
  bool started_ = false;
  bool done_ = false;
  Part part_;
};

// Sizes the series a query selected (`all`, in label order) into *sizes
// and keeps their chunks in *kept, reading them in store order (see
// ReadInStoreOrder).
Status SizeQuery(db::Database* db, size_t q, const codec::ReadQuery& query,
                 const std::vector<StoredSeries>& all, uint64_t sample_limit,
                 std::vector<SamplesSize>* sizes,
                 std::vector<KeptChunks>* kept) {
  store::ChunkReader reader;
  uint64_t samples = 0;
  return VisitInStoreOrder(
      all.size(),
      [&](size_t i) {
        return SeriesInRange{&all[i], query.start_ms, query.end_ms};
      },
      [&](size_t i) {
        return db->ReadSeries(
            all[i].input_hash, all[i].input_labels, all[i].output,
            query.start_ms, query.end_ms,
            [&](const store::ChunkView& chunk) {
              (*kept)[i].Add(chunk.bytes);
              return SizeChunk(chunk, query.start_ms, query.end_ms,
                               &(*sizes)[i]);
            },
            &reader);
      },
      [&](size_t i) {
        samples += (*sizes)[i].count;
        return samples > sample_limit ? SampleLimitError(q, sample_limit)
                                      : Status::Ok();
      });
}

// Sizes every series of a SAMPLES read, keeping their chunks under
// `budget`, and returns the stream of its answer.
Result<std::shared_ptr<SamplesStream>> SizeSamplesResponse(
    db::Database* db, const codec::ReadRequestView& request,
    uint64_t sample_limit, ReadGate::Ticket* ticket, ChunkBudget* budget) {
  std::vector<SamplesStream::Query> queries;
  std::vector<SamplesStream::Entry> entries;
  size_t raw_bytes = 0;
  for (size_t q = 0; q < request.queries.size(); ++q) {
    const codec::ReadQuery& query = request.queries[q];
    Result<std::vector<StoredSeries>> selected = SelectSeries(db, query);
    if (!selected.ok()) return selected.status();
    std::vector<StoredSeries>& all = *selected;
    std::vector<SamplesSize> sizes(all.size());
    std::vector<KeptChunks> kept;
    kept.reserve(all.size());
    for (size_t i = 0; i < all.size(); ++i) kept.emplace_back(budget);
    Status s = SizeQuery(db, q, query, all, sample_limit, &sizes, &kept);
    if (!s.ok()) return s;
    size_t content = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      if (sizes[i].count == 0) continue;
      const size_t bytes =
          codec::TimeSeriesEntrySize(all[i].labels, sizes[i].bytes);
      content += bytes;
      entries.push_back({q, std::move(all[i]), sizes[i].count, bytes,
                         std::move(kept[i])});
    }
    queries.push_back({query.start_ms, query.end_ms, content});
    raw_bytes += 1 + protowire::VarintSize(content) + content;
  }
  return std::make_shared<SamplesStream>(db, std::move(*ticket),
                                         std::move(queries),
                                         std::move(entries));
}

// A STREAMED_XOR_CHUNKS answer is built whole (so that the sample limit is
// still a status code), in pieces of about this many bytes sent one after
// the other. Built into one string, a 3 MB answer was copied at every
// doubling and each new copy's pages faulted in: 45% of the read. Pieces
// under the allocator's mmap threshold (common/allocator_tuning.h) come
// from the heap, and once sent serve the next read's.
constexpr size_t kChunkedPieceBytes = 512 << 10;

// STREAMED_XOR_CHUNKS: stored chunks inside the range go out as they are;
// a chunk that straddles an end is cut down to the range and re-encoded.
// Sets `built` to the bytes of the answer.
Status BuildChunkedResponse(db::Database* db,
                            const codec::ReadRequestView& request,
                            uint64_t sample_limit, HttpResponse* response,
                            size_t* built) {
  auto pieces = std::make_shared<std::deque<std::string>>();
  *built = 0;
  std::deque<std::string> owned;  // chunk bytes; stable addresses
  std::vector<codec::ChunkRef> refs;
  store::ChunkReader reader;
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
          },
          &reader);
      if (!s.ok()) return s;
      if (total > sample_limit) return SampleLimitError(q, sample_limit);
      if (!refs.empty()) {
        if (pieces->empty() || pieces->back().size() >= kChunkedPieceBytes) {
          pieces->emplace_back().reserve(kChunkedPieceBytes + (64 << 10));
        }
        std::string& piece = pieces->back();
        const size_t before = piece.size();
        codec::AppendChunkedSeries(&piece, static_cast<int64_t>(q),
                                   series.labels, refs);
        *built += piece.size() - before;
      }
    }
  }
  response->status = 200;
  response->content_type =
      "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
  response->stream = [pieces](std::string* piece) {
    if (pieces->empty()) return false;
    piece->swap(pieces->front());
    pieces->pop_front();
    return true;
  };
  response->stream_prebuilt = true;
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
  return Handle(request, limits_);
}

HttpResponse RemoteReadHandler::Handle(const HttpRequest& request,
                                       const ReadLimits& limits) const {
  HttpResponse refused;
  ReadGate::Ticket ticket = Admit(limits, &refused);
  if (!ticket) return refused;
  return Handle(request, limits, std::move(ticket));
}

ReadGate::Ticket RemoteReadHandler::Admit(const ReadLimits& limits,
                                          HttpResponse* refused) const {
  ReadGate::Ticket ticket = gate_.TryEnter(limits.max_concurrent_reads);
  if (!ticket) {
    if (metrics_ != nullptr) metrics_->refused_concurrent.Increment();
    *refused = ErrorResponse(
        503, std::to_string(limits.max_concurrent_reads) +
                 " remote reads in progress already "
                 "(limits.max_concurrent_reads); retry shortly");
    refused->headers.push_back({"Retry-After", "1"});
  }
  return ticket;
}

HttpResponse RemoteReadHandler::Handle(const HttpRequest& request,
                                       const ReadLimits& limits,
                                       ReadGate::Ticket ticket) const {
  Status encoding =
      CheckSnappyEncoding(request.content_encoding, "remote read requests");
  if (!encoding.ok()) return ErrorResponse(encoding);
  if (request.body.size() > limits.max_request_bytes) {
    return ErrorResponse(
        Status::TooLarge("body is " + std::to_string(request.body.size()) +
                         " bytes, over the limit of " +
                         std::to_string(limits.max_request_bytes)));
  }
  codec::ReadRequestView read;
  Status s =
      codec::DecodeReadRequest(request.body, limits.max_decoded_bytes, &read);
  if (!s.ok()) return ErrorResponse(s);

  HttpResponse response;
  if (read.response_type != codec::ReadResponseType::kStreamedXorChunks) {
    Result<std::shared_ptr<SamplesStream>> sized =
        SizeSamplesResponse(db_, read, limits.max_samples_per_query, &ticket,
                            &kept_chunks_);
    if (!sized.ok()) {
      if (metrics_ != nullptr && IsSampleLimitError(sized.status())) {
        metrics_->refused_samples.Increment();
      }
      return ErrorResponse(sized.status());
    }
    std::shared_ptr<SamplesStream> stream = std::move(sized).value();
    response.status = 200;
    response.content_type = "application/x-protobuf";
    response.headers.push_back({"Content-Encoding", "snappy"});
    if (stream->raw_bytes() >= kStreamSamplesMinBytes) {
      response.stream = [stream](std::string* piece) {
        return stream->Next(piece);
      };
      return response;
    }
    // Small enough for one body: a single piece, or a few.
    try {
      std::string piece;
      while (stream->Next(&piece)) response.body += piece;
    } catch (const std::runtime_error& e) {
      return ErrorResponse(Status::Internal(e.what()));
    }
    if (trimmer_ != nullptr) trimmer_->NoteReleased(2 * response.body.size());
    return response;
  }
  size_t built = 0;  // a chunked answer's pieces
  s = BuildChunkedResponse(db_, read, limits.max_samples_per_query, &response,
                           &built);
  if (!s.ok()) {
    if (metrics_ != nullptr && IsSampleLimitError(s)) {
      metrics_->refused_samples.Increment();
    }
    return ErrorResponse(s);
  }
  // Freed once sent: a whole answer with the buffers that built it (about
  // as large), a chunked one's pieces.
  if (trimmer_ != nullptr) {
    trimmer_->NoteReleased(2 * response.body.size() + built);
  }
  return response;
}

}  // namespace promewma::http
