#include "remote/url.h"

#include <cctype>

#include "common/one_line.h"

namespace promewma::remote {

Result<ParsedUrl> ParseUrl(std::string_view url) {
  auto bad = [](std::string problem) {
    return Status::InvalidArgument(std::move(problem));
  };
  if (url.empty()) return bad("must not be empty");
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return bad("contains a space or control byte");
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return bad("must start with http:// or https://, got " + QuotedOneLine(url));
  }
  const std::string scheme = AsciiLower(url.substr(0, sep));
  if (scheme != "http" && scheme != "https") {
    return bad("scheme must be http or https, got " +
               QuotedOneLine(url.substr(0, sep)));
  }
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (scheme == "https") {
    return bad("https is not available: cpp-httplib was built without OpenSSL");
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
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return bad("port must be a number, got " + QuotedOneLine(port));
      }
    }
    if (port.size() > 5 || std::stoi(std::string(port)) < 1 ||
        std::stoi(std::string(port)) > 65535) {
      return bad("port " + std::string(port) + " out of range");
    }
    port_number = std::stoi(std::string(port));
  }
  ParsedUrl parsed;
  parsed.origin =
      scheme + "://" + std::string(host) + ":" + std::to_string(port_number);
  parsed.target = target.empty() ? "/" : std::string(target);
  if (parsed.target.front() == '?') parsed.target.insert(0, "/");
  parsed.https = scheme == "https";
  parsed.host = std::string(host);
  parsed.port = port_number;
  return parsed;
}

}  // namespace promewma::remote
