#include "remote/remote_read_client.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <utility>

#include "codec/snappy_block.h"
#include "common/key_path.h"
#include "promewma/version.h"
#include "remote.pb.h"
#include "remote/url.h"

namespace promewma::remote {
namespace {

constexpr char kUserAgent[] = "promewma/" PROMEWMA_VERSION;
// A remote-read answer may be large; this bounds what one read decodes.
constexpr size_t kMaxDecodedBytes = size_t{1} << 30;

prometheus::LabelMatcher::Type ProtoType(model::Matcher::Type type) {
  switch (type) {
    case model::Matcher::Type::kEqual:
      return prometheus::LabelMatcher::EQ;
    case model::Matcher::Type::kNotEqual:
      return prometheus::LabelMatcher::NEQ;
    case model::Matcher::Type::kRegexMatch:
      return prometheus::LabelMatcher::RE;
    case model::Matcher::Type::kRegexNoMatch:
      return prometheus::LabelMatcher::NRE;
  }
  return prometheus::LabelMatcher::EQ;
}

void SetTimeouts(httplib::Client* client, std::chrono::milliseconds timeout) {
  const auto ms = std::max<int64_t>(1, timeout.count());
  const time_t sec = static_cast<time_t>(ms / 1000);
  const time_t usec = static_cast<time_t>((ms % 1000) * 1000);
  client->set_connection_timeout(sec, usec);
  client->set_read_timeout(sec, usec);
  client->set_write_timeout(sec, usec);
}

// The secret in `secret`, or read from `file` when one is named.
Result<std::string> Secret(const std::string& secret, const std::string& file) {
  if (file.empty()) return secret;
  return ReadSecretFile(file);
}

}  // namespace

RemoteReadClient::RemoteReadClient(ClientConfig config)
    : config_(std::move(config)) {
  auto parsed = ParseUrl(config_.url);
  // The REQUIRES says the URL was validated; a bad one still must not
  // crash, so it gets a client for a target that refuses every read.
  ParsedUrl url =
      parsed.ok() ? std::move(parsed.value())
                  : ParsedUrl{"http://invalid.invalid:1", "/", false,
                              "invalid.invalid", 1};
  path_ = url.target;
  client_ = std::make_unique<httplib::Client>(url.origin);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (url.https) {
    const TlsConfig tls = config_.tls_config.value_or(TlsConfig{});
    if (!tls.ca_file.empty()) client_->set_ca_cert_path(tls.ca_file);
    client_->enable_server_certificate_verification(!tls.insecure_skip_verify);
    SSL_CTX* ctx = client_->ssl_context();
    const bool tls13 = tls.min_version == TlsConfig::Version::kTls13;
    SSL_CTX_set_min_proto_version(ctx, tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    // As the write client: the whole chain, not httplib's first certificate.
    if (!tls.cert_file.empty() &&
        (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(),
                                     SSL_FILETYPE_PEM) != 1)) {
      ERR_clear_error();
    }
  }
#endif
  client_->set_keep_alive(true);
  client_->set_tcp_nodelay(true);
}

RemoteReadClient::~RemoteReadClient() = default;

void RemoteReadClient::Cancel() { client_->stop(); }

Result<std::vector<ReadSeries>> RemoteReadClient::Read(
    const std::vector<model::Matcher>& matchers, int64_t start_ms,
    int64_t end_ms, std::chrono::milliseconds timeout) {
  const std::string& url = config_.url;
  prometheus::ReadRequest request;
  prometheus::Query* query = request.add_queries();
  query->set_start_timestamp_ms(start_ms);
  query->set_end_timestamp_ms(end_ms);
  for (const model::Matcher& m : matchers) {
    prometheus::LabelMatcher* pm = query->add_matchers();
    pm->set_type(ProtoType(m.type()));
    pm->set_name(m.name());
    pm->set_value(m.value());
  }
  request.add_accepted_response_types(prometheus::ReadRequest::SAMPLES);
  const std::string body =
      codec::CompressSnappyBlock(request.SerializeAsString());

  httplib::Headers headers = {{"Content-Encoding", "snappy"},
                              {"X-Prometheus-Remote-Read-Version", "0.1.0"},
                              {"User-Agent", kUserAgent}};
  for (const auto& h : config_.headers) headers.emplace(h.first, h.second);
  // Secrets are read at each read: reads are rare (one per warmed series)
  // and a rotated file takes effect without a restart.
  if (config_.basic_auth) {
    Result<std::string> password = Secret(config_.basic_auth->password,
                                          config_.basic_auth->password_file);
    if (!password.ok()) {
      return Status::Unavailable(url + ": " + password.status().message());
    }
    client_->set_basic_auth(config_.basic_auth->username, *password);
  }
  if (config_.authorization) {
    Result<std::string> credentials =
        Secret(config_.authorization->credentials,
               config_.authorization->credentials_file);
    if (!credentials.ok()) {
      return Status::Unavailable(url + ": " + credentials.status().message());
    }
    if (!credentials->empty()) {
      headers.emplace("Authorization",
                      config_.authorization->type + " " + *credentials);
    }
  }
  SetTimeouts(client_.get(), std::min(timeout, config_.remote_timeout));
  httplib::Result response =
      client_->Post(path_, headers, body, "application/x-protobuf");
  if (!response) {
    return Status::Unavailable(url + ": " +
                               httplib::to_string(response.error()));
  }
  if (response->status != 200) {
    const std::string first_line =
        response->body.substr(0, response->body.find('\n'));
    return Status::Unavailable(url + ": HTTP " +
                               std::to_string(response->status) + ": " +
                               first_line.substr(0, 200));
  }
  std::string raw;
  Status s =
      codec::DecompressSnappyBlock(response->body, kMaxDecodedBytes, &raw);
  if (!s.ok()) return Status::Unavailable(url + ": response: " + s.message());
  prometheus::ReadResponse decoded;
  if (!decoded.ParseFromString(raw)) {
    return Status::Unavailable(url + ": response: not a ReadResponse");
  }
  std::vector<ReadSeries> out;
  for (const prometheus::QueryResult& result : decoded.results()) {
    for (const prometheus::TimeSeries& ts : result.timeseries()) {
      ReadSeries series;
      std::vector<model::Label> labels;
      for (const prometheus::Label& l : ts.labels()) {
        labels.push_back(model::Label{l.name(), l.value()});
      }
      if (Status e = model::EncodeLabelSet(&labels, &series.labels); !e.ok()) {
        return Status::Unavailable(url + ": response: " + e.message());
      }
      for (const prometheus::Sample& sample : ts.samples()) {
        if (!series.timestamps_ms.empty() &&
            sample.timestamp() <= series.timestamps_ms.back()) {
          continue;
        }
        series.timestamps_ms.push_back(sample.timestamp());
        series.values.push_back(sample.value());
      }
      out.push_back(std::move(series));
    }
  }
  return out;
}

Status ValidateReadClientConfig(const ClientConfig& config,
                                std::string_view path) {
  if (Status s = ValidateClientConfig(config, path); !s.ok()) return s;
  if (config.tls_config && !config.tls_config->server_name.empty()) {
    return ProblemAt(JoinKeyPath(path, "tls_config.server_name"),
                     "not supported for remote read (use that name in the "
                     "url instead)");
  }
  return Status::Ok();
}

}  // namespace promewma::remote
