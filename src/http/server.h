// Server: promewma's one HTTP port. Routes requests to the thin handlers,
// counts and times them, and serves /metrics (self-metrics plus the latest
// derived values) through prometheus-cpp's TextSerializer.
//
//   POST /api/v1/write     remote write 1.0 (write_handler.h)
//   POST /api/v1/read      remote read (read_handler.h)
//   GET  /metrics          Prometheus text format 0.0.4
//   GET  /-/healthy        200 while the process serves
//   GET  /-/ready          200 once SetReady(true), 503 before
//
// Every error response is one line of text.
//
// Thread-safety: Run() blocks the calling thread and serves on a pool of
// worker threads; Stop() and SetReady() may be called from any thread.

#ifndef PROMEWMA_HTTP_SERVER_H_
#define PROMEWMA_HTTP_SERVER_H_

#include <prometheus/collectable.h>

#include <memory>
#include <string>

#include "head/head.h"
#include "http/read_handler.h"
#include "http/write_handler.h"
#include "promewma/status.h"
#include "db/database.h"

namespace prometheus {
class Registry;
}

namespace promewma::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 9201;  // 0 picks a free port (tests)
  WriteLimits limits;
  ReadLimits read_limits;
  // httplib serves each keep-alive connection on one pool thread, so the
  // pool bounds the number of concurrently open sender connections.
  int worker_threads = 32;
};

class Server {
 public:
  // REQUIRES: db and registry outlive the server.
  Server(ServerOptions options, db::Database* db,
         prometheus::Registry* registry);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; after success port() is the bound port.
  Status Bind();
  // Serves until Stop(). REQUIRES: Bind() succeeded.
  void Run();
  // Stops accepting, lets in-flight requests finish; Run() then returns.
  void Stop();

  int port() const;
  void SetReady(bool ready);
  // Adds metrics to /metrics. REQUIRES: before Run; `collectable` outlives
  // the server.
  void AddCollectable(const prometheus::Collectable* collectable);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promewma::http

#endif  // PROMEWMA_HTTP_SERVER_H_
