// Plain request/response values the handlers work on. Handlers take these
// instead of httplib types so their logic is tested without sockets; the
// server (server.h) translates at the edge.

#ifndef PROMEWMA_HTTP_HTTP_TYPES_H_
#define PROMEWMA_HTTP_HTTP_TYPES_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promewma/status.h"

namespace promewma::http {

struct HttpRequest {
  std::string_view content_type;
  std::string_view content_encoding;
  std::string_view body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed instead: called until it returns false,
  // each call replacing *piece with the next part of the body.
  std::function<bool(std::string* piece)> stream;
  // The stream hands out pieces built before, taking no time: the server
  // calls it on the connection's own thread, not on the query pool.
  bool stream_prebuilt = false;
};

// The one place a Status code becomes an HTTP status code.
int HttpStatusFor(StatusCode code);

// A response whose body is the status message on one line.
HttpResponse ErrorResponse(const Status& status);
HttpResponse ErrorResponse(int http_status, std::string_view message);

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_HTTP_TYPES_H_
