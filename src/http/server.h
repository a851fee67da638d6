// Server: promewma's one HTTP port. Routes requests to the thin handlers,
// counts and times them, and serves /metrics (self-metrics) through
// prometheus-cpp's TextSerializer.
//
//   POST /api/v1/write     remote write 1.0 (write_handler.h)
//   POST /api/v1/read      remote read (read_handler.h)
//   GET  /federate         latest values, streamed chunked (federate_handler.h)
//   GET  /metrics          Prometheus text format 0.0.4
//   GET  /-/healthy        200 while the process serves
//   GET  /-/ready          200 once SetReady(true), 503 before
//   POST <prefix>[/...]    routes added with AddBlockingPostRoute
//
// Every error response is one line of text. Bodies are passed to the
// handlers as they came: the server decodes no Content-Encoding.
//
// Connections and threads (Boost.Beast over Asio). A fixed set of event
// loops (threads, each with its own epoll set) serves the connections,
// which are dealt to the loops in turn: an idle keep-alive connection costs
// a socket and a buffer, not a thread. The listen backlog is SOMAXCONN. A
// loop reads a request and runs its handler itself, then writes the answer
// and goes on with its other connections: one thread wake-up per request,
// as with a thread per connection. (Handing each request to a separate
// worker pool and back cost two more wake-ups per request, which on a
// 2-core VM halved the throughput of 2 busy connections.) A handler that
// blocks (the write path waits up to 5 s for write-back room) holds up
// the other connections of its loop only. At the limits a sender sees:
//   - more than `threads` requests at once: the rest wait, unread, in
//     their connection (TCP flow control) until their loop is free;
//   - more than max_connections open: the connection's first request is
//     answered 503 with Retry-After and a one-line body, then closed;
//   - a keep-alive connection idle for idle_timeout is closed, and so is
//     one whose request body or response takes over transfer_timeout.
// A request that exceeds a size limit is answered 413 before its body is
// read (Content-Length), or as soon as a chunked body passes the limit.
//
// Remote reads and /federate are the exception: their handlers, and the
// pieces of their streamed answers, run on a query pool (kQueryThreads,
// server.cc), and the loop writes what they build. A read of an hour of
// many series takes a core for up to a second; on the loop it would hold
// up that loop's remote writes as long. The two extra wake-ups cost a
// read nothing it would notice.
//
// A route added with AddBlockingPostRoute runs its handler on a small
// thread pool (kBlockingThreads, server.cc) instead: for handlers that
// wait on a slow peer for seconds (the Teams relay), which on a loop would
// hold up every other connection of that loop. The loop goes on serving;
// the answer is written on the connection's loop once the handler returns.
//
// Thread-safety: Run() blocks the calling thread, which runs one of the
// loops; Stop() and SetReady() may be called from any thread.

#ifndef PROMEWMA_HTTP_SERVER_H_
#define PROMEWMA_HTTP_SERVER_H_

#include <prometheus/collectable.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "head/head.h"
#include "http/http_types.h"
#include "common/heap_trimmer.h"
#include "http/read_handler.h"
#include "http/write_handler.h"
#include "promewma/status.h"
#include "db/database.h"
#include "web/web_config.h"

namespace prometheus {
class Registry;
}

namespace promewma::http {

// The limits a reload may change (limits.* of the config). A request reads
// them once, when its header has arrived, and keeps them until it is
// answered.
struct ServerLimits {
  WriteLimits write;
  ReadLimits read;
  // Connections served at once; see ServerOptions::max_connections.
  int max_connections = 1024;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 9201;  // 0 picks a free port (tests)
  // The limits at start (SetLimits changes them).
  WriteLimits limits;
  ReadLimits read_limits;
  // Told the size of each remote-read response, so that the free heap such
  // reads leave goes back soon (heap_trimmer.h); may be null. Not owned.
  HeapTrimmer* heap_trimmer = nullptr;
  // Connections served at once (limits.max_connections). Prometheus opens
  // one per remote-write shard (max_shards 200 by default), an HA pair
  // twice that; the default leaves room for that and a few more senders.
  int max_connections = 1024;
  // Event loops, each serving its share of the connections and running
  // their handlers; 0: kDefaultThreads (server.cc).
  int threads = 0;
  // A keep-alive connection waiting this long for its next request is
  // closed. Longer than the 5 min Prometheus' HTTP client keeps an idle
  // connection (and Go's default 90 s), so a sender never has its next
  // request race our close of the connection it is about to reuse.
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(6);
  // Reading one request's body, or writing one response, longer than this
  // (a stuck or trickling peer) closes the connection.
  std::chrono::milliseconds transfer_timeout = std::chrono::seconds(60);
  // How often connections are checked against both timeouts (and the
  // linger after a refused request): each is kept to within this. One
  // timer for the server: a timer re-armed on every read and write costs
  // a timerfd_settime system call each, as many as the reads themselves.
  std::chrono::milliseconds sweep_interval = std::chrono::seconds(1);
  // TLS and basic auth (--web.config.file); the default: plain HTTP, no
  // credentials asked for. Its TLS files are loaded by Bind().
  web::WebConfig web;
};

// A request to a blocking route, as its handler sees it. The views are
// valid while the handler runs.
struct BlockingRequest {
  std::string_view path;  // the target without its query
  std::string_view content_type;
  std::string_view body;
  // When the request had been read: a handler's time budget counts its
  // wait for a pool thread.
  std::chrono::steady_clock::time_point received;
};
using BlockingHandler = std::function<HttpResponse(const BlockingRequest&)>;

class Server {
 public:
  // REQUIRES: db and registry outlive the server.
  Server(ServerOptions options, db::Database* db,
         prometheus::Registry* registry);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the TLS files of options.web and binds the listening socket;
  // after success port() is the bound port.
  Status Bind();
  // Serves until Stop(). REQUIRES: Bind() succeeded.
  void Run();
  // Stops accepting and closes idle connections; requests already read are
  // answered (their connection then closes). Run() returns once they are,
  // or after kStopTimeout (server.cc) at most.
  void Stop();

  int port() const;
  void SetReady(bool ready);
  // Puts `limits` in force for the requests whose header arrives from now
  // on and the connections accepted from now on (a reload). Requests in
  // progress finish under the limits they started with; open connections
  // stay open, even past a lowered max_connections (the connections
  // accepted beyond the new cap get the 503). Thread-safe.
  void SetLimits(const ServerLimits& limits);
  // Adds metrics to /metrics. REQUIRES: before Run; `collectable` outlives
  // the server.
  void AddCollectable(const prometheus::Collectable* collectable);
  // Serves POST `prefix` and POST `prefix`/anything with `handler`, run on
  // the blocking pool. Another method gets 405; a body over
  // `max_body_bytes` gets 413 before it is read. Requests are counted in
  // the HTTP metrics under the handler label `name`; an exception from the
  // handler becomes a one-line 500. REQUIRES: before Run; `prefix` starts
  // with '/' and does not end with one; `handler` may run on several
  // threads at once.
  void AddBlockingPostRoute(std::string prefix, std::string name,
                            uint64_t max_body_bytes, BlockingHandler handler);
  // The same for a route that takes PUT as it takes POST (Prometheus'
  // lifecycle endpoints, /-/reload); another method gets 405.
  void AddBlockingPostPutRoute(std::string prefix, std::string name,
                               uint64_t max_body_bytes,
                               BlockingHandler handler);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_SERVER_H_
