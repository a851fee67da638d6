#include "http/server.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <mutex>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/log.h"
#include "common/thread_role.h"
#include "http/federate_handler.h"
#include "http/self_metrics.h"
#include "http/worker_pool.h"
#include "web/basic_auth.h"
#include "web/tls_context.h"

namespace promewma::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<tcp::socket>;
using Clock = std::chrono::steady_clock;

// The kernel caps it at net.core.somaxconn (4096 since Linux 5.4): a burst
// of senders connecting at once (Prometheus starting 200 shards) waits in
// the queue instead of having its SYNs dropped and retried a second later.
constexpr int kListenBacklog = SOMAXCONN;
// After a response that closes the connection, how long unread request
// bytes are drained before the close: closing with unread bytes makes the
// kernel send a reset, which can destroy the response before the sender
// reads it.
constexpr auto kLingerTimeout = std::chrono::seconds(5);
// A read buffer grown past this for a large request is given back once
// the request is answered: an idle keep-alive connection keeps at most
// this much.
constexpr size_t kIdleBufferBytes = 64 << 10;
// The most one read asks for: a larger body takes several.
constexpr size_t kMaxReadBytes = 1 << 20;
// How long Stop() lets requests in progress finish (a write may wait 5 s
// for write-back room) before the remaining connections are dropped.
constexpr auto kStopTimeout = std::chrono::seconds(10);
// Request line and headers; long /federate selectors fit.
constexpr uint32_t kMaxHeaderBytes = 64 << 10;
// Event loops. Handlers block (the request log's lock, fsync, a wait for
// write-back room), and a blocked handler holds up the other connections
// of its loop only, so there are more loops than cores; many more only add
// contention on the ingest lock. See server.h for why handlers run on the
// loop. rwbench on 2 cores, 512 connections: 2 loops 0.75-0.86 M
// samples/s, 4 and 8 loops 0.83-0.85 M, 16 loops 0.66-0.75 M.
constexpr int kDefaultThreads = 8;
// Threads of the pool blocking routes run on. Their handlers mostly wait
// (the Teams relay on Power Automate, up to its 8 s timeout); Alertmanager
// sends a receiver's notifications one group at a time, so a few threads
// serve several groups and receivers at once.
constexpr int kBlockingThreads = 4;
// Threads of the pool remote reads and /federate run on. A read of an hour
// of 10,000 series takes a core for a second; on a loop it would hold up
// every other connection of that loop (remote writes among them) as long.
// As many as the loops, which served them before: reads of a dashboard's
// panels still run side by side, and limits.max_concurrent_reads bounds
// them (a read admitted waits here for a thread, holding its slot).
constexpr int kQueryThreads = kDefaultThreads;
// A TLS client has this long from its connect to the end of its handshake:
// a connection that never starts one holds no socket for idle_timeout.
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// What a client that speaks plain HTTP to the TLS port reads (OpenSSL
// recognises the request line in place of a ClientHello), as Go's TLS
// server answers it.
constexpr std::string_view kPlainHttpToTls =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Connection: close\r\n"
    "Content-Length: 70\r\n"
    "\r\n"
    "client sent an HTTP request to an HTTPS server: this port needs https\n";

enum class Route {
  kWrite,
  kRead,
  kFederate,
  kMetrics,
  kHealthy,
  kReady,
  kWriteWrongMethod,
  kBlocking,  // a route added with AddBlockingPostRoute
  kPostOnly,  // a blocking route's path with another method: 405
  kPostPutOnly,  // the same for a route that takes PUT too
  kNotFound,
};

struct RouteInfo {
  Route route;
  const char* name;  // the handler label of the request metrics, or ""
};

RouteInfo RouteFor(bhttp::verb method, std::string_view path) {
  const bool get = method == bhttp::verb::get;
  if (path == "/api/v1/write") {
    if (method == bhttp::verb::post) return {Route::kWrite, "write"};
    if (get) return {Route::kWriteWrongMethod, ""};
  } else if (path == "/api/v1/read") {
    if (method == bhttp::verb::post) return {Route::kRead, "read"};
  } else if (path == "/federate") {
    if (get) return {Route::kFederate, "federate"};
  } else if (path == "/metrics") {
    if (get) return {Route::kMetrics, "metrics"};
  } else if (path == "/-/healthy") {
    if (get) return {Route::kHealthy, "healthy"};
  } else if (path == "/-/ready") {
    if (get) return {Route::kReady, "ready"};
  }
  return {Route::kNotFound, ""};
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded, as Go's url.ParseQuery reads it: %XX
// and '+' for a space; a '%' not followed by two hex digits stays as it is.
std::string DecodeQueryComponent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 +
                                      HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Every value of `key` in `query` (the target after '?'), in order.
std::vector<std::string> QueryValues(std::string_view query,
                                     std::string_view key) {
  std::vector<std::string> values;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (DecodeQueryComponent(pair.substr(0, eq)) != key) continue;
    values.push_back(eq == std::string_view::npos
                         ? std::string()
                         : DecodeQueryComponent(pair.substr(eq + 1)));
  }
  return values;
}

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

// Error bodies end in a newline for curl; a log field needs none.
std::string_view WithoutFinalNewline(std::string_view body) {
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  return body;
}

bool QuietError(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == beast::error::timeout || ec == net::error::operation_aborted ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::bad_descriptor;
}

}  // namespace

struct BlockingRoute {
  std::string prefix;
  std::string name;  // the handler label of the request metrics
  uint64_t max_body_bytes;
  BlockingHandler handler;
  bool put_too;  // PUT is served as POST is
};

class Server::Impl {
 public:
  Impl(ServerOptions options, db::Database* db, prometheus::Registry* registry)
      : options_(std::move(options)),
        head_(db->head()),
        registry_(registry),
        write_metrics_(*registry),
        http_metrics_(*registry),
        connection_metrics_(*registry),
        write_handler_(db, &write_metrics_, options_.limits),
        read_metrics_(*registry),
        read_handler_(db, options_.read_limits, &read_metrics_,
                      options_.heap_trimmer),
        federate_handler_(db->head()),
        limits_(std::make_shared<const ServerLimits>(
            ServerLimits{options_.limits, options_.read_limits,
                         options_.max_connections})),
        active_series_(prometheus::BuildGauge()
                           .Name("promewma_series_active")
                           .Help("Input series being processed.")
                           .Register(*registry)
                           .Add({})),
        ignored_series_(prometheus::BuildGauge()
                            .Name("promewma_series_ignored")
                            .Help("Input series seen but not processed "
                                  "(derived names, no matching rule).")
                            .Register(*registry)
                            .Add({})),
        loops_(MakeLoops(options_.threads > 0 ? options_.threads
                                              : kDefaultThreads)),
        control_(loops_[0]->get_executor()),
        acceptor_(control_),
        accept_retry_(control_),
        sweep_timer_(control_),
        stop_timer_(control_) {
    for (auto& loop : loops_) work_.push_back(net::make_work_guard(*loop));
  }

  Status Bind() {
    const web::TlsServerConfig& tls = options_.web.tls_server_config;
    if (tls.enabled()) {
      Result<web::SslCtxPtr> ctx = web::MakeServerTlsContext(tls);
      if (!ctx.ok()) return ctx.status();
      tls_.emplace(ctx->release());  // the context owns the SSL_CTX now
    }
    if (!options_.web.basic_auth_users.empty()) {
      auth_ = std::make_unique<web::BasicAuthenticator>(
          options_.web.basic_auth_users);
      auth_pool_ = std::make_unique<WorkerPool>(1, "http-auth",
                                                ThreadRole::kRequest);
    }
    beast::error_code ec;
    tcp::resolver resolver(*loops_[0]);
    auto endpoints = resolver.resolve(
        options_.host, std::to_string(options_.port),
        tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (!ec && endpoints.empty()) ec = net::error::host_not_found;
    if (!ec) {
      const tcp::endpoint endpoint = endpoints.begin()->endpoint();
      acceptor_.open(endpoint.protocol(), ec);
      // SO_REUSEADDR allows a fast restart over connections in TIME_WAIT.
      // Never SO_REUSEPORT: a second promewma on the same port would take
      // half the traffic (and half the series state) silently.
      if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
      if (!ec) acceptor_.bind(endpoint, ec);
      if (!ec) acceptor_.listen(kListenBacklog, ec);
      if (!ec) port_ = acceptor_.local_endpoint(ec).port();
    }
    if (ec) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return Status::Unavailable("cannot listen on " + options_.host + ":" +
                                 std::to_string(options_.port) + ": " +
                                 ec.message() +
                                 " (address in use or not local?)");
    }
    return Status::Ok();
  }

  void Run() {
    io_running_.store(true);
    net::post(control_, [this] {
      Accept();
      ScheduleSweep();
    });
    std::vector<std::thread> threads;
    for (size_t i = 1; i < loops_.size(); ++i) {
      threads.emplace_back([this, i] {
        SetThisThreadRole("http-loop-" + std::to_string(i),
                          ThreadRole::kRequest);
        loops_[i]->run();
      });
    }
    loops_[0]->run();
    // Every handler has returned once its loop has: the caller may drain
    // write-back and checkpoint.
    for (std::thread& t : threads) t.join();
    // A handler still running (its connection was dropped at the stop
    // timeout) finishes before the objects it uses may go.
    if (pool_ != nullptr) pool_->join();
    query_pool_->join();
    if (auth_pool_ != nullptr) auth_pool_->join();
    io_running_.store(false);
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    net::post(control_, [this] { BeginShutdown(); });
  }

  int port() const { return port_; }
  void SetReady(bool ready) { ready_.store(ready); }
  void SetLimits(const ServerLimits& limits) {
    auto next = std::make_shared<const ServerLimits>(limits);
    std::lock_guard<std::mutex> lock(limits_mu_);
    limits_ = std::move(next);
  }
  // The limits in force now; the caller keeps them for one request.
  std::shared_ptr<const ServerLimits> CurrentLimits() const {
    std::lock_guard<std::mutex> lock(limits_mu_);
    return limits_;
  }
  void AddCollectable(const prometheus::Collectable* c) {
    extra_collectables_.push_back(c);
  }
  void AddBlockingRoute(std::string prefix, std::string name,
                        uint64_t max_body_bytes, BlockingHandler handler,
                        bool put_too) {
    if (pool_ == nullptr) {
      pool_ = std::make_unique<WorkerPool>(kBlockingThreads, "http-blocking",
                                           ThreadRole::kRequest);
    }
    blocking_routes_.push_back(std::make_unique<BlockingRoute>(
        BlockingRoute{std::move(prefix), std::move(name), max_body_bytes,
                      std::move(handler), put_too}));
  }

 private:
  class SessionBase;
  template <class Stream>
  class Session;

  static std::vector<std::unique_ptr<net::io_context>> MakeLoops(int n) {
    std::vector<std::unique_ptr<net::io_context>> loops;
    // One thread each: no locking inside the loop.
    for (int i = 0; i < n; ++i)
      loops.push_back(std::make_unique<net::io_context>(1));
    return loops;
  }

  // ---- accepting ---------------------------------------------------------
  // On control_ (loop 0).

  void Accept() {
    if (!acceptor_.is_open()) return;
    // Connections go to the loops in turn.
    net::io_context& loop = *loops_[next_loop_++ % loops_.size()];
    acceptor_.async_accept(
        loop.get_executor(), [this](beast::error_code ec, tcp::socket socket) {
          OnAccept(ec, std::move(socket));
        });
  }

  void OnAccept(beast::error_code ec, tcp::socket socket);

  // ---- timeouts ------------------------------------------------------------
  // On control_: every options_.sweep_interval, each connection past its deadline
  // is closed on its own loop.

  void ScheduleSweep();
  void Sweep();

  // ---- shutdown ------------------------------------------------------------

  void BeginShutdown();   // on control_
  void FinishShutdown();  // on control_, once no connection is left

  void Register(const std::shared_ptr<SessionBase>& s);

  void Unregister(SessionBase* s);

  // The route of a request; *blocking is set for a blocking route's path.
  RouteInfo RouteOf(bhttp::verb method, std::string_view path,
                    const BlockingRoute** blocking) const {
    *blocking = nullptr;
    RouteInfo route = RouteFor(method, path);
    if (route.route != Route::kNotFound) return route;
    for (const auto& r : blocking_routes_) {
      const std::string_view prefix = r->prefix;
      if (path.substr(0, prefix.size()) != prefix ||
          (path.size() > prefix.size() && path[prefix.size()] != '/')) {
        continue;
      }
      *blocking = r.get();
      return method == bhttp::verb::post ||
                     (r->put_too && method == bhttp::verb::put)
                 ? RouteInfo{Route::kBlocking, r->name.c_str()}
                 : RouteInfo{r->put_too ? Route::kPostPutOnly : Route::kPostOnly,
                             ""};
    }
    return route;
  }

  size_t Connections() const {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    return sessions_.size();
  }

  // ---- handlers --------------------------------------------------------------

  // Runs the route's handler with counting, timing and a catch-all: an
  // unexpected exception becomes a one-line 500, never a dead thread.
  // `start` is when the request had been read (its wait for a worker
  // counts).
  // `blocking` is the route of a kBlocking request (on the pool).
  HttpResponse Handle(const RouteInfo& route,
                      const bhttp::request<bhttp::string_body>& req,
                      Clock::time_point start, const ServerLimits& limits,
                      const BlockingRoute* blocking = nullptr,
                      ReadGate::Ticket* read_ticket = nullptr) {
    HttpResponse r;
    try {
      if (blocking != nullptr) {
        const std::string_view target = View(req.target());
        r = blocking->handler(BlockingRequest{
            target.substr(0, target.find('?')),
            View(req[bhttp::field::content_type]), req.body(), start});
      } else {
        r = Dispatch(route, req, limits, read_ticket);
      }
    } catch (const std::exception& e) {
      log::Error("server", "internal error",
                 {{"method", View(req.method_string())},
                  {"path", View(req.target())},
                  {"err", e.what()}});
      r = ErrorResponse(500, std::string("internal error: ") + e.what());
    }
    if (route.name[0] != '\0') {
      http_metrics_.Observe(
          route.name, r.status,
          std::chrono::duration<double>(Clock::now() - start).count());
    }
    return r;
  }

  // `read_ticket`: a remote read's slot, taken by Session::RunQuery.
  // REQUIRES: set for Route::kRead.
  HttpResponse Dispatch(const RouteInfo& route,
                        const bhttp::request<bhttp::string_body>& req,
                        const ServerLimits& limits,
                        ReadGate::Ticket* read_ticket) {
    const std::string_view target = View(req.target());
    const std::string_view path = target.substr(0, target.find('?'));
    switch (route.route) {
      case Route::kWrite: {
        HttpResponse r = write_handler_.Handle(Request(req), limits.write);
        if (r.status >= 400 && r.status != 415) {
          log::Debug("write", "remote write refused",
                     {{"status", r.status}, {"err", WithoutFinalNewline(r.body)}});
        }
        return r;
      }
      case Route::kRead: {
        HttpResponse r = read_handler_.Handle(Request(req), limits.read,
                                              std::move(*read_ticket));
        if (r.status >= 500) {
          log::Error("read", "remote read failed",
                     {{"status", r.status}, {"err", WithoutFinalNewline(r.body)}});
        }
        return r;
      }
      case Route::kFederate:
        return Federate(target);
      case Route::kMetrics:
        return Metrics();
      case Route::kHealthy:
        return Text(200, "promewma is Healthy.\n");
      case Route::kReady:
        return ready_.load()
                   ? Text(200, "promewma is Ready.\n")
                   : Text(503,
                          "promewma is not ready: recovery has not finished.\n");
      case Route::kWriteWrongMethod:
        return ErrorResponse(405, "use POST for /api/v1/write");
      case Route::kPostOnly: {
        HttpResponse r =
            ErrorResponse(405, "use POST for " + std::string(path));
        r.headers.push_back({"Allow", "POST"});
        return r;
      }
      case Route::kPostPutOnly: {
        HttpResponse r =
            ErrorResponse(405, "use POST or PUT for " + std::string(path));
        r.headers.push_back({"Allow", "POST, PUT"});
        return r;
      }
      case Route::kBlocking:  // Session::HandOff runs these
      case Route::kNotFound:
        break;
    }
    return ErrorResponse(404, "no such endpoint: " +
                                  std::string(View(req.method_string())) +
                                  " " + std::string(path));
  }

  static HttpRequest Request(const bhttp::request<bhttp::string_body>& req) {
    return HttpRequest{View(req[bhttp::field::content_type]),
                       View(req[bhttp::field::content_encoding]), req.body()};
  }

  static HttpResponse Text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }

  HttpResponse Metrics() {
    active_series_.Set(static_cast<double>(head_->active_series()));
    ignored_series_.Set(static_cast<double>(head_->ignored_series()));
    connection_metrics_.open.Set(static_cast<double>(Connections()));
    std::vector<prometheus::MetricFamily> families = registry_->Collect();
    for (const prometheus::Collectable* c : extra_collectables_) {
      std::vector<prometheus::MetricFamily> more = c->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
    HttpResponse r;
    r.body = prometheus::TextSerializer().Serialize(families);
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }

  HttpResponse Federate(std::string_view target) {
    const size_t q = target.find('?');
    const std::vector<std::string> match = QueryValues(
        q == std::string_view::npos ? std::string_view() : target.substr(q + 1),
        "match[]");
    Result<std::unique_ptr<FederateBody>> body =
        federate_handler_.Select(match);
    if (!body.ok()) return ErrorResponse(body.status());
    HttpResponse r;
    r.content_type = kFederateContentType;
    std::shared_ptr<FederateBody> shared = std::move(body).value();
    r.stream = [shared](std::string* piece) { return shared->Next(piece); };
    return r;
  }

  // ---- members ---------------------------------------------------------------

  const ServerOptions options_;
  const head::Head* const head_;
  prometheus::Registry* const registry_;
  WriteMetrics write_metrics_;
  HttpMetrics http_metrics_;
  ConnectionMetrics connection_metrics_;
  RemoteWriteHandler write_handler_;
  ReadMetrics read_metrics_;
  RemoteReadHandler read_handler_;
  FederateHandler federate_handler_;
  // The limits in force: replaced whole by SetLimits, never changed in
  // place, so that a request's snapshot stays as it was.
  mutable std::mutex limits_mu_;
  std::shared_ptr<const ServerLimits> limits_;  // guarded by limits_mu_
  // Set before Run.
  std::vector<const prometheus::Collectable*> extra_collectables_;
  prometheus::Gauge& active_series_;
  prometheus::Gauge& ignored_series_;
  int port_ = -1;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> io_running_{false};  // Run() is serving

  // Every open connection; a session removes itself when it is destroyed.
  mutable std::mutex sessions_mu_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>>
      sessions_;  // guarded
  std::atomic<size_t> served_connections_{0};  // sessions_ not over_limit

  // The event loops; loop 0 also accepts. Destroyed before the members
  // above, which the connections their pending handlers hold use.
  std::vector<std::unique_ptr<net::io_context>> loops_;
  // Set before Run; the pool is made with the first route. Destroyed
  // before the loops, whose connections its handlers answer.
  std::vector<std::unique_ptr<BlockingRoute>> blocking_routes_;
  std::unique_ptr<WorkerPool> pool_;
  // Remote reads and /federate (kQueryThreads); destroyed before the loops
  // too. Idle class: a read takes a core for up to hundreds of
  // milliseconds, and a write's thread waking takes it back at once.
  std::unique_ptr<WorkerPool> query_pool_ = std::make_unique<WorkerPool>(
      kQueryThreads, "http-query", ThreadRole::kIdle);
  // Set by Bind. With tls_server_config: every connection is TLS. With
  // basic_auth_users: every request but /-/healthy needs them, and the
  // bcrypt checks the cache cannot answer run on auth_pool_'s one thread.
  std::optional<net::ssl::context> tls_;
  std::unique_ptr<web::BasicAuthenticator> auth_;
  std::unique_ptr<WorkerPool> auth_pool_;
  net::io_context::executor_type control_;  // loop 0: acceptor, timers
  size_t next_loop_ = 0;                    // on control_
  // Keep each loop running while it has no connection; released at
  // shutdown, once every connection is gone.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  net::steady_timer sweep_timer_;
  net::steady_timer stop_timer_;
};

// What the server's bookkeeping (the sweep, shutdown, the connection
// count) needs of a connection, whichever its stream.
class Server::Impl::SessionBase {
 public:
  using Deadline = Clock::time_point;

  SessionBase(Impl* server, bool over_limit)
      : server_(server), over_limit_(over_limit) {}
  virtual ~SessionBase() { server_->Unregister(this); }

  bool over_limit() const { return over_limit_; }
  virtual net::any_io_executor executor() = 0;

  // Any thread (the sweep): whether the step in progress has run past its
  // time. A handler running has no deadline.
  bool Expired(Deadline now) const {
    return Deadline(Clock::duration(deadline_.load(std::memory_order_relaxed))) <
           now;
  }

  // On the loop, posted by the sweep: the deadline may have moved since.
  virtual void CloseIfExpired() = 0;
  // On the loop. The server stops: a connection waiting for its next
  // request is closed; one with a request in progress closes after its
  // answer.
  virtual void OnServerStop() = 0;

 protected:
  // The next network step must finish within `timeout`.
  void SetDeadline(Clock::duration timeout) {
    deadline_.store((Clock::now() + timeout).time_since_epoch().count(),
                    std::memory_order_relaxed);
  }
  void ClearDeadline() {
    deadline_.store(Deadline::max().time_since_epoch().count(),
                    std::memory_order_relaxed);
  }

  Impl* const server_;
  // Clock ticks; Deadline::max() while no network step is pending.
  std::atomic<Clock::rep> deadline_{Deadline::max().time_since_epoch().count()};
  const bool over_limit_;  // over max_connections: 503 and close
};

// One client connection: reads a request, has it answered (on a worker or
// here), writes the answer, and again while the connection is kept alive.
// Every step runs on the connection's loop; a step keeps the session
// alive by holding a shared_ptr to it. `Stream` is tcp::socket, or
// TlsStream with tls_server_config: one instance each, so the plain path
// runs the same code, with the same calls, as without TLS support.
template <class Stream>
class Server::Impl::Session
    : public SessionBase,
      public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(Impl* server, Stream stream, bool over_limit)
      : SessionBase(server, over_limit), stream_(std::move(stream)) {}

  net::any_io_executor executor() override { return stream_.get_executor(); }

  void CloseIfExpired() override {
    if (Expired(Clock::now())) Close();
  }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Handshake();
      } else {
        self->ReadHeader();
      }
    });
  }

  void OnServerStop() override {
    keep_alive_ = false;
    if (idle_) Close();
  }

 private:
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

  tcp::socket& socket() { return beast::get_lowest_layer(stream_); }

  // ---- TLS ---------------------------------------------------------------

  void Handshake() {
    idle_ = true;  // a stop closes a connection still in its handshake
    SetDeadline(kHandshakeTimeout);
    stream_.async_handshake(
        net::ssl::stream_base::server,
        [self = shared_from_this()](beast::error_code ec) {
          self->OnHandshake(ec);
        });
  }

  void OnHandshake(beast::error_code ec) {
    if (!ec) return ReadHeader();
    server_->connection_metrics_.tls_handshake_failures.Increment();
    if (ec.category() == net::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==  // NOLINT
            SSL_R_HTTP_REQUEST) {
      // Plain HTTP on the TLS port: say so in plain HTTP, then close.
      idle_ = false;
      SetDeadline(server_->options_.transfer_timeout);
      net::async_write(socket(), net::buffer(kPlainHttpToTls),
                       [self = shared_from_this()](beast::error_code ec,
                                                   size_t) {
                         if (ec) return self->Close();
                         self->LingerPlain();
                       });
      return;
    }
    if (!QuietError(ec)) {
      log::Debug("server", "TLS handshake failed",
                 {{"remote", RemoteAddress()}, {"err", ec.message()}});
    }
    Close();
  }

  std::string RemoteAddress() {
    beast::error_code ignored;
    const tcp::endpoint peer = socket().remote_endpoint(ignored);
    return peer.address().to_string() + ":" + std::to_string(peer.port());
  }

  // ---- HTTP ---------------------------------------------------------------

  void ReadHeader() {
    route_ = RouteInfo{Route::kNotFound, ""};
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    // The largest limit until the route is known (a Content-Length over it
    // fails the header already); then the route's own.
    limits_ = server_->CurrentLimits();
    parser_->body_limit(LargestLimit());
    idle_ = true;
    if (server_->stopping_.load() && buffer_.size() == 0) return Close();
    SetDeadline(server_->options_.idle_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          self->OnHeader(ec);
        });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    // The request's limits: those in force now, not when the connection
    // began waiting for it. (A Content-Length over the largest limit of
    // the previous snapshot was refused by the parser already.)
    if (!ec) limits_ = server_->CurrentLimits();
    if (ec == bhttp::error::body_limit) {
      return Refuse(ErrorResponse(413, "request body over the size limit of " +
                                           std::to_string(LargestLimit()) +
                                           " bytes"));
    }
    if (ec == bhttp::error::header_limit) {
      return Refuse(ErrorResponse(
          431, "request line and headers over " +
                   std::to_string(kMaxHeaderBytes) + " bytes"));
    }
    if (ec) {
      if (QuietError(ec) || buffer_.size() == 0) return Close();
      return Refuse(
          ErrorResponse(400, "malformed HTTP request: " + ec.message()));
    }
    const auto& req = parser_->get();
    if (over_limit_) {
      server_->connection_metrics_.refused.Increment();
      HttpResponse r = ErrorResponse(
          503, "too many connections: promewma serves at most " +
                   std::to_string(limits_->max_connections) +
                   " at once (limits.max_connections); retry later");
      r.headers.push_back({"Retry-After", "1"});
      return Refuse(std::move(r));
    }
    const std::string_view target = View(req.target());
    route_ = server_->RouteOf(req.method(), target.substr(0, target.find('?')),
                              &blocking_);
    keep_alive_ = req.keep_alive() && !server_->stopping_.load();
    // Credentials before the body: a client without them never has its
    // body read, let alone handled.
    if (server_->auth_ != nullptr && route_.route != Route::kHealthy) {
      const std::string_view authorization =
          View(req[bhttp::field::authorization]);
      switch (server_->auth_->Lookup(authorization)) {
        case web::BasicAuthenticator::Verdict::kAllowed:
          break;
        case web::BasicAuthenticator::Verdict::kDenied:
          return Refuse(Unauthorized());
        case web::BasicAuthenticator::Verdict::kUnknown:
          return VerifyCredentials(std::string(authorization));
      }
    }
    Admit();
  }

  // bcrypt on the server's auth thread (tens of milliseconds: on the loop
  // it would hold up every other connection of the loop), then back here.
  void VerifyCredentials(std::string authorization) {
    ClearDeadline();
    net::post(server_->auth_pool_->executor(), [self = shared_from_this(),
                                     authorization = std::move(authorization)] {
      const bool ok = self->server_->auth_->Verify(authorization);
      net::post(self->stream_.get_executor(), [self, ok] {
        if (!ok) return self->Refuse(Unauthorized());
        self->Admit();
      });
    });
  }

  static HttpResponse Unauthorized() {
    HttpResponse r = ErrorResponse(
        401, "unauthorized: this endpoint needs basic auth credentials "
             "(basic_auth_users of the web config)");
    r.headers.push_back({"WWW-Authenticate", "Basic"});
    return r;
  }

  // The request may go on: its size is checked, then its body read.
  void Admit() {
    const uint64_t limit = BodyLimit();
    if (parser_->content_length() && *parser_->content_length() > limit) {
      return Refuse(TooLarge(limit));
    }
    parser_->body_limit(limit);
    // Beast reads at most the buffer's free capacity at a time (512 bytes
    // when it is empty): room for the declared body makes it one read
    // instead of one per 512 bytes.
    if (parser_->content_length()) {
      buffer_.reserve(static_cast<size_t>(
          std::min<uint64_t>(*parser_->content_length(), kMaxReadBytes)));
    }
    // curl asks before sending a large body; Prometheus never does.
    if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue") &&
        !parser_->is_done()) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(
          bhttp::status::continue_, 11);
      SetDeadline(server_->options_.transfer_timeout);
      bhttp::async_write(stream_, *cont,
                         [self = shared_from_this(), cont](beast::error_code ec,
                                                           size_t) {
                           if (ec) return self->Close();
                           self->ReadBody();
                         });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return OnBody({});
    SetDeadline(server_->options_.transfer_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->OnBody(ec);
                      });
  }

  void OnBody(beast::error_code ec) {
    if (ec) {
      if (ec == bhttp::error::body_limit) return Refuse(TooLarge(BodyLimit()));
      if (QuietError(ec)) return Close();
      return Refuse(
          ErrorResponse(400, "malformed HTTP request: " + ec.message()));
    }
    req_ = parser_->release();
    ClearDeadline();
    const Clock::time_point start = Clock::now();
    if (route_.route == Route::kBlocking) return HandOff(start);
    if (IsQuery()) return RunQuery(start);
    Write(server_->Handle(route_, req_, start, *limits_));
  }

  // Remote reads and /federate: the routes whose handlers, and whose
  // streamed answers' pieces, are built on the query pool.
  bool IsQuery() const {
    return route_.route == Route::kRead || route_.route == Route::kFederate;
  }

  // Runs a query route's handler on the query pool; the answer is written
  // on this connection's loop, which serves its other connections
  // meanwhile. A remote read takes its max_concurrent_reads slot here
  // first: the 503 comes at once, and a read waiting for a pool thread
  // holds its slot.
  void RunQuery(Clock::time_point start) {
    std::shared_ptr<ReadGate::Ticket> ticket;  // a read's; none for /federate
    if (route_.route == Route::kRead) {
      HttpResponse refused;
      ReadGate::Ticket admitted =
          server_->read_handler_.Admit(limits_->read, &refused);
      if (!admitted) {
        server_->http_metrics_.Observe(
            route_.name, refused.status,
            std::chrono::duration<double>(Clock::now() - start).count());
        return Write(std::move(refused));
      }
      ticket = std::make_shared<ReadGate::Ticket>(std::move(admitted));
    }
    net::post(server_->query_pool_->executor(), [self = shared_from_this(), start,
                                      ticket] {
      HttpResponse r =
          self->server_->Handle(self->route_, self->req_, start,
                                *self->limits_, nullptr, ticket.get());
      net::post(
          self->stream_.get_executor(),
          [self, r = std::move(r)]() mutable { self->Write(std::move(r)); });
    });
  }

  // Runs a blocking route's handler on the pool; the answer is written
  // back on this connection's loop. Nothing else touches the session
  // meanwhile: it reads no further request until it has answered.
  void HandOff(Clock::time_point start) {
    net::post(server_->pool_->executor(), [self = shared_from_this(), start] {
      HttpResponse r = self->server_->Handle(self->route_, self->req_, start,
                                             *self->limits_, self->blocking_);
      net::post(
          self->stream_.get_executor(),
          [self, r = std::move(r)]() mutable { self->Write(std::move(r)); });
    });
  }

  uint64_t BodyLimit() const {
    switch (route_.route) {
      case Route::kRead:
        return limits_->read.max_request_bytes;
      case Route::kBlocking:
        return blocking_->max_body_bytes;
      default:
        return limits_->write.max_request_bytes;
    }
  }

  HttpResponse TooLarge(uint64_t limit) const {
    return ErrorResponse(413, "request body over the size limit of " +
                                  std::to_string(limit) + " bytes");
  }

  uint64_t LargestLimit() const {
    return std::max(limits_->write.max_request_bytes,
                    limits_->read.max_request_bytes);
  }

  // Answers and closes: the rest of the request is not read.
  void Refuse(HttpResponse r) {
    keep_alive_ = false;
    if (route_.name[0] != '\0' && !over_limit_) {
      server_->http_metrics_.Observe(route_.name, r.status, 0);
    }
    Write(std::move(r));
  }

  void Write(HttpResponse r) {
    req_ = {};  // the body is no longer needed
    if (r.stream) return WriteStreamed(std::move(r));
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    for (auto& [name, value] : r.headers) res->set(name, value);
    if (!r.body.empty()) {
      res->set(bhttp::field::content_type, r.content_type);
      res->body() = std::move(r.body);
    }
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    SetDeadline(server_->options_.transfer_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res](beast::error_code ec,
                                                        size_t) {
                         self->OnWritten(ec);
                       });
  }

  // Transfer-Encoding: chunked, one chunk per piece the stream gives. The
  // next piece is built while the one before is written: a hop to the query
  // pool and back can wait a millisecond or two for a core, and taken
  // after each write it stalled a 3 MB answer by 10-20 ms.
  void WriteStreamed(HttpResponse r) {
    next_piece_ = std::move(r.stream);
    pieces_prebuilt_ = r.stream_prebuilt;
    stream_head_.emplace();
    stream_head_->version(11);
    stream_head_->result(static_cast<unsigned>(r.status));
    for (auto& [name, value] : r.headers) stream_head_->set(name, value);
    stream_head_->set(bhttp::field::content_type, r.content_type);
    stream_head_->keep_alive(keep_alive_);
    stream_head_->chunked(true);
    stream_head_serializer_.emplace(*stream_head_);
    SetDeadline(server_->options_.transfer_timeout);
    writing_piece_ = true;
    bhttp::async_write_header(
        stream_, *stream_head_serializer_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          self->OnPieceWritten(ec);
        });
    BuildNextPiece();
  }

  // Builds the next piece into built_: on the query pool for a query
  // route (a piece of a large read is a megabyte of samples), here for the
  // others and for pieces built before.
  void BuildNextPiece() {
    building_piece_ = true;
    if (!IsQuery() || pieces_prebuilt_) {
      built_ok_ = NextPiece(&built_more_);
      building_piece_ = false;
      return OnPieceBuilt();
    }
    net::post(server_->query_pool_->executor(), [self = shared_from_this()] {
      bool more = false;
      const bool ok = self->NextPiece(&more);
      net::post(self->stream_.get_executor(), [self, ok, more] {
        self->building_piece_ = false;
        self->built_ok_ = ok;
        self->built_more_ = more;
        self->OnPieceBuilt();
      });
    });
  }

  // Into built_; false after an exception from the stream.
  bool NextPiece(bool* more) {
    try {
      do {
        *more = next_piece_(&built_);
      } while (*more && built_.empty());
    } catch (const std::exception& e) {
      // Too late for a 500: the status line is sent. Ending the connection
      // without the last chunk tells the client the body is incomplete.
      log::Error("server", "internal error while streaming",
                 {{"route", route_.name}, {"err", e.what()}});
      return false;
    }
    return true;
  }

  void OnPieceBuilt() {
    if (writing_piece_) return;  // sent once the write before is done
    SendBuiltPiece();
  }

  void OnPieceWritten(beast::error_code ec) {
    writing_piece_ = false;
    if (ec) return Close();
    if (building_piece_) {
      ClearDeadline();  // building, not waiting on the network
      return;
    }
    SendBuiltPiece();
  }

  // Sends the piece built, and builds the one after it meanwhile.
  void SendBuiltPiece() {
    if (!built_ok_ || !socket().is_open()) {
      // The stream, and the read slot it holds, go now: nothing more of
      // it can be sent.
      next_piece_ = nullptr;
      return Close();
    }
    SetDeadline(server_->options_.transfer_timeout);
    auto self = shared_from_this();
    if (!built_more_) {
      next_piece_ = nullptr;
      std::string().swap(piece_);
      std::string().swap(built_);
      net::async_write(stream_, bhttp::make_chunk_last(),
                       [self](beast::error_code ec, size_t) {
                         self->stream_head_serializer_.reset();
                         self->stream_head_.reset();
                         self->OnWritten(ec);
                       });
      return;
    }
    piece_.swap(built_);
    writing_piece_ = true;
    net::async_write(
        stream_, bhttp::make_chunk(net::const_buffer(piece_.data(), piece_.size())),
        [self](beast::error_code ec, size_t) { self->OnPieceWritten(ec); });
    BuildNextPiece();
  }

  void OnWritten(beast::error_code ec) {
    if (ec) return Close();
    if (buffer_.capacity() > kIdleBufferBytes && buffer_.size() == 0) {
      buffer_.shrink_to_fit();
    }
    if (!keep_alive_) return Linger();
    ReadHeader();
  }

  // Half-closes, then reads (and drops) what the client still sends until
  // it closes too, so the answer is not lost to a reset. TLS first ends
  // its session (close_notify, and the client's in return), then does the
  // same below it.
  void Linger() {
    if constexpr (kTls) {
      SetDeadline(kLingerTimeout);
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
        self->LingerPlain();
      });
      return;
    }
    LingerPlain();
  }

  void LingerPlain() {
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    SetDeadline(kLingerTimeout);
    Drain();
  }

  void Drain() {
    socket().async_read_some(
        net::buffer(drain_),
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->Close();
          self->Drain();
        });
  }

  void Close() {
    beast::error_code ignored;
    socket().close(ignored);
  }

  // On the loop:
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::request<bhttp::string_body> req_;  // being handled
  RouteInfo route_{Route::kNotFound, ""};
  const BlockingRoute* blocking_ = nullptr;  // the route of a kBlocking request
  // The limits of the request being read or handled (Impl::CurrentLimits
  // when its header arrived).
  std::shared_ptr<const ServerLimits> limits_;
  bool keep_alive_ = true;
  bool idle_ = false;        // waiting for the next request
  std::function<bool(std::string*)> next_piece_;  // a streamed body
  std::string piece_;  // the piece being written
  std::string built_;  // the piece after it, once built
  bool writing_piece_ = false;   // the head or piece_ is being written
  bool building_piece_ = false;  // built_ is being built
  bool built_ok_ = false;        // built_ was, without an exception
  bool built_more_ = false;      // and the stream has not ended
  bool pieces_prebuilt_ = false;  // HttpResponse::stream_prebuilt
  std::optional<bhttp::response<bhttp::empty_body>> stream_head_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>>
      stream_head_serializer_;
  char drain_[4096];
};

void Server::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (!acceptor_.is_open()) return;
  if (ec) {
    if (ec == net::error::operation_aborted) return;
    // Out of file descriptors (or another resource): the connection
    // stays in the backlog; try again shortly rather than spin.
    log::Warn("server", "accept failed", {{"err", ec.message()}});
    accept_retry_.expires_after(std::chrono::milliseconds(50));
    accept_retry_.async_wait([this](beast::error_code) { Accept(); });
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const bool over_limit =
      served_connections_.load() >=
      static_cast<size_t>(std::max(0, CurrentLimits()->max_connections));
  if (tls_) {
    auto session = std::make_shared<Session<TlsStream>>(
        this, TlsStream(std::move(socket), *tls_), over_limit);
    Register(session);
    session->Start();
  } else {
    auto session =
        std::make_shared<Session<tcp::socket>>(this, std::move(socket), over_limit);
    Register(session);
    session->Start();
  }
  Accept();
}

void Server::Impl::ScheduleSweep() {  // on control_
  sweep_timer_.expires_after(options_.sweep_interval);
  sweep_timer_.async_wait([this](beast::error_code ec) {
    // A sweep already due when BeginShutdown cancelled the timer still
    // runs, with no error: re-arming it then would keep the control loop
    // busy, and Run() from returning, for ever.
    if (ec || stopping_.load()) return;
    Sweep();
    ScheduleSweep();
  });
}

void Server::Impl::Sweep() {  // on control_
  const Clock::time_point now = Clock::now();
  std::vector<std::shared_ptr<SessionBase>> expired;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    for (auto& [ptr, weak] : sessions_) {
      if (!ptr->Expired(now)) continue;
      if (auto s = weak.lock()) expired.push_back(std::move(s));
    }
  }
  for (auto& s : expired) {
    net::post(s->executor(), [s] { s->CloseIfExpired(); });
  }
}

void Server::Impl::BeginShutdown() {  // on control_
  beast::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  sweep_timer_.cancel();
  stop_timer_.expires_after(kStopTimeout);
  stop_timer_.async_wait([this](beast::error_code ec) {
    if (ec) return;  // every connection finished in time
    log::Warn("server", "dropping connections still busy at stop",
              {{"connections", Connections()},
               {"waited", log::Seconds(kStopTimeout)}});
    for (auto& loop : loops_) loop->stop();
  });
  std::vector<std::shared_ptr<SessionBase>> sessions;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    for (auto& [ptr, weak] : sessions_) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  for (auto& s : sessions) {
    net::post(s->executor(), [s] { s->OnServerStop(); });
  }
  if (Connections() == 0) FinishShutdown();
}

void Server::Impl::FinishShutdown() {  // on control_
  stop_timer_.cancel();
  // Each loop's run() returns once it has nothing left to do.
  work_.clear();
}

void Server::Impl::Register(const std::shared_ptr<SessionBase>& s) {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  sessions_.emplace(s.get(), s);
  if (!s->over_limit()) served_connections_.fetch_add(1);
}

void Server::Impl::Unregister(SessionBase* s) {
  bool drained = false;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_.erase(s);
    if (!s->over_limit()) served_connections_.fetch_sub(1);
    drained = sessions_.empty() && stopping_.load();
  }
  // Once Run() has returned the loops run nothing more (and may be being
  // destroyed): nothing to finish.
  if (drained && io_running_.load()) {
    net::post(control_, [this] { FinishShutdown(); });
  }
}

Server::Server(ServerOptions options, db::Database* db,
               prometheus::Registry* registry)
    : impl_(std::make_unique<Impl>(std::move(options), db, registry)) {}
Server::~Server() = default;
Status Server::Bind() { return impl_->Bind(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }
int Server::port() const { return impl_->port(); }
void Server::SetReady(bool ready) { impl_->SetReady(ready); }
void Server::SetLimits(const ServerLimits& limits) { impl_->SetLimits(limits); }
void Server::AddCollectable(const prometheus::Collectable* collectable) {
  impl_->AddCollectable(collectable);
}
void Server::AddBlockingPostRoute(std::string prefix, std::string name,
                                  uint64_t max_body_bytes,
                                  BlockingHandler handler) {
  impl_->AddBlockingRoute(std::move(prefix), std::move(name), max_body_bytes,
                          std::move(handler), /*put_too=*/false);
}
void Server::AddBlockingPostPutRoute(std::string prefix, std::string name,
                                     uint64_t max_body_bytes,
                                     BlockingHandler handler) {
  impl_->AddBlockingRoute(std::move(prefix), std::move(name), max_body_bytes,
                          std::move(handler), /*put_too=*/true);
}

}  // namespace promewma::http
