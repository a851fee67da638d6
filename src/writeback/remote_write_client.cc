#include "writeback/remote_write_client.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>

#include "common/one_line.h"
#include "promewma/version.h"
#include "writeback/backoff.h"

namespace promewma::writeback {

namespace {

constexpr char kUserAgent[] = "promewma/" PROMEWMA_VERSION;

struct ParsedUrl {
  std::string origin;  // scheme://host:port, what httplib::Client takes
  std::string target;  // path and query, "/" when the URL has none
};

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A deliberately strict parser: a write-back URL comes from configuration,
// and a typo there should fail at startup, not become a request to a host
// named "htp:/prom". (httplib's own parser treats anything it cannot match
// as a bare host name.)
Result<ParsedUrl> ParseUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("write-back url \"" +
                                   EscapeToOneLine(url) + "\": " +
                                   std::string(why));
  };
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return bad("contains a space or control byte");
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return bad("must start with http:// or https://");
  }
  const std::string scheme = ToLower(url.substr(0, sep));
  if (scheme != "http" && scheme != "https") {
    return bad("scheme must be http or https");
  }
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (scheme == "https") {
    return bad(
        "https is not available: cpp-httplib was built without OpenSSL");
  }
#endif
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));  // a fragment is never sent
  const size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target = authority_end == std::string_view::npos
                                ? std::string_view()
                                : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return bad("user info in the url is not supported; use basic_auth");
  }
  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in host");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ']' in host");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
    if (host.size() <= 2) return bad("empty host");
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
    if (host.empty()) return bad("empty host");
  }
  int port_number = scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    if (port.size() > 5) return bad("port out of range");
    port_number = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return bad("port must be a number");
      }
      port_number = port_number * 10 + (c - '0');
    }
    if (port_number < 1 || port_number > 65535) {
      return bad("port out of range");
    }
  }
  ParsedUrl parsed;
  parsed.origin = scheme + "://" + std::string(host) + ":" +
                  std::to_string(port_number);
  parsed.target = target.empty() ? "/" : std::string(target);
  if (parsed.target.front() == '?') parsed.target.insert(0, "/");
  return parsed;
}

bool IsToken(std::string_view s) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

// Headers the protocol or the auth options own. Prometheus refuses the same
// set in remote_write.headers.
bool IsReservedHeader(std::string_view name) {
  static const char* const kReserved[] = {
      "content-type", "content-encoding", "content-length",
      "user-agent",   "x-prometheus-remote-write-version",
      "authorization", "host", "connection"};
  const std::string lower = ToLower(name);
  for (const char* r : kReserved) {
    if (lower == r) return true;
  }
  return false;
}

std::string FirstLine(std::string_view body) {
  std::string_view line = body.substr(0, body.find_first_of("\r\n"));
  bool truncated = false;
  if (line.size() > kMaxReasonBytes) {
    line = line.substr(0, kMaxReasonBytes);
    truncated = true;
  }
  if (line.empty()) return "(empty response body)";
  std::string out = EscapeToOneLine(line);
  if (truncated) out += "...";
  return out;
}

std::string DescribeNetworkError(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection failed";
    case httplib::Error::ConnectionTimeout:
      return "connect timed out";
    case httplib::Error::Read:
      return "no complete response (read failed or timed out)";
    case httplib::Error::Write:
      return "sending the request failed or timed out";
    case httplib::Error::Canceled:
      return "canceled";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "TLS server certificate verification failed";
    default:
      return "network error (" + httplib::to_string(error) + ")";
  }
}

}  // namespace

Status ValidateUrl(std::string_view url) {
  auto parsed = ParseUrl(url);
  return parsed.ok() ? Status::Ok() : parsed.status();
}

Status ValidateClientOptions(const ClientOptions& options) {
  if (Status s = ValidateUrl(options.url); !s.ok()) return s;
  if (options.remote_timeout.count() <= 0) {
    return Status::InvalidArgument("write-back remote_timeout must be > 0");
  }
  for (const auto& [name, value] : options.headers) {
    if (!IsToken(name)) {
      return Status::InvalidArgument("write-back header name \"" +
                                     EscapeToOneLine(name) +
                                     "\" is not a valid HTTP token");
    }
    if (IsReservedHeader(name)) {
      return Status::InvalidArgument("write-back header \"" + name +
                                     "\" is set by promewma and cannot be "
                                     "overridden");
    }
    if (value.find_first_of("\r\n") != std::string::npos ||
        value.find('\0') != std::string::npos) {
      return Status::InvalidArgument("write-back header \"" + name +
                                     "\": value contains a line break");
    }
  }
  const bool basic = !options.basic_auth_username.empty() ||
                     !options.basic_auth_password.empty();
  if (basic && !options.bearer_token.empty()) {
    return Status::InvalidArgument(
        "write-back: at most one of basic_auth and authorization may be set");
  }
  return Status::Ok();
}

RemoteWriteClient::RemoteWriteClient(ClientOptions options)
    : options_(std::move(options)) {
  auto parsed = ParseUrl(options_.url);
  // The REQUIRES says the URL was validated; a bad one still must not crash,
  // so it gets a client for a target that refuses every send.
  ParsedUrl url = parsed.ok() ? std::move(parsed.value())
                              : ParsedUrl{"http://invalid.invalid:1", "/"};
  path_ = url.target;
  client_ = std::make_unique<httplib::Client>(url.origin);
  // Batches are sent back to back; one connection per shard, reused.
  client_->set_keep_alive(true);
  // A request is one write of headers and one of the body: without
  // TCP_NODELAY the body can wait ~40 ms for the delayed ACK of the headers.
  client_->set_tcp_nodelay(true);
  const auto ms = options_.remote_timeout.count();
  const time_t sec = static_cast<time_t>(ms / 1000);
  const time_t usec = static_cast<time_t>((ms % 1000) * 1000);
  client_->set_connection_timeout(sec, usec);
  client_->set_read_timeout(sec, usec);
  client_->set_write_timeout(sec, usec);
  if (!options_.basic_auth_username.empty() ||
      !options_.basic_auth_password.empty()) {
    client_->set_basic_auth(options_.basic_auth_username,
                            options_.basic_auth_password);
  }
  if (!options_.bearer_token.empty()) {
    client_->set_bearer_token_auth(options_.bearer_token);
  }
}

RemoteWriteClient::~RemoteWriteClient() = default;

SendResult RemoteWriteClient::Send(std::string_view snappy_body) {
  httplib::Headers headers = {
      {"Content-Encoding", "snappy"},
      {"X-Prometheus-Remote-Write-Version", "0.1.0"},
      {"User-Agent", kUserAgent},
  };
  for (const auto& h : options_.headers) headers.emplace(h.first, h.second);

  SendResult result;
  auto res = client_->Post(path_, headers, snappy_body.data(),
                           snappy_body.size(), "application/x-protobuf");
  if (!res) {
    result.outcome = SendResult::kRetry;
    result.http_status = 0;
    result.reason = DescribeNetworkError(res.error());
    return result;
  }
  const int status = res->status;
  result.http_status = status;
  if (status / 100 == 2) {
    result.outcome = SendResult::kSent;
    return result;
  }
  result.reason = FirstLine(res->body);
  if (status / 100 == 5 || (status == 429 && options_.retry_on_http_429)) {
    result.outcome = SendResult::kRetry;
    if (res->has_header("Retry-After")) {
      result.retry_after = ParseRetryAfter(res->get_header_value("Retry-After"),
                                           std::chrono::system_clock::now());
    }
  } else {
    result.outcome = SendResult::kDrop;
  }
  return result;
}

void RemoteWriteClient::Cancel() { client_->stop(); }

}  // namespace promewma::writeback
