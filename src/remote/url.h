// The URL of a remote-write target, parsed strictly.
//
// A target's URL comes from configuration or a command line, and a typo
// there should be refused with a reason before anything is sent, not
// become a request to a host named "htp:/prom". (httplib's own parser takes
// anything it cannot match as a bare host name.)
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_REMOTE_URL_H_
#define PROMEWMA_REMOTE_URL_H_

#include <string>
#include <string_view>

#include "promewma/status.h"

namespace promewma::remote {

struct ParsedUrl {
  std::string origin;  // scheme://host:port, what httplib::Client takes
  std::string target;  // path and query, "/" when the URL has none
  bool https = false;
  std::string host;  // as written; an IPv6 address keeps its brackets
  int port = 0;      // the URL's, or the scheme's default
};

// Parses http://HOST[:PORT][/PATH][?QUERY] or https://..., with a
// non-empty host and a port in 1..65535; a #fragment is dropped. https is
// refused, saying so, when cpp-httplib was built without OpenSSL (its
// pkg-config flags define CPPHTTPLIB_OPENSSL_SUPPORT when it was built
// with it).
// InvalidArgument says what is wrong without naming the URL's key, e.g.
// "port 99999 out of range"; the caller puts the key or flag in front.
Result<ParsedUrl> ParseUrl(std::string_view url);

}  // namespace promewma::remote

#endif  // PROMEWMA_REMOTE_URL_H_
