#include "http/server.h"

#include <httplib.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

#include "http/federate_handler.h"
#include "http/self_metrics.h"

namespace promewma::http {

class Server::Impl {
 public:
  Impl(ServerOptions options, db::Database* db,
       prometheus::Registry* registry)
      : options_(std::move(options)),
        head_(db->head()),
        registry_(registry),
        write_metrics_(*registry),
        http_metrics_(*registry),
        write_handler_(db, &write_metrics_, options_.limits),
        read_handler_(db, options_.read_limits),
        federate_handler_(db->head()),
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
                            .Add({})) {
    const int threads = options_.worker_threads;
    server_.new_task_queue = [threads] {
      return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    // Senders keep connections open; httplib's default of 5 requests per
    // connection would make them reconnect constantly.
    server_.set_keep_alive_max_count(100000);
    server_.set_payload_max_length(options_.limits.max_request_bytes);
    // httplib's default also sets SO_REUSEPORT, which would let a second
    // promewma bind the same port and silently take half the traffic (and
    // half the series state). SO_REUSEADDR alone still allows fast restarts.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    Routes();
  }

  Status Bind() {
    if (options_.port == 0) {
      port_ = server_.bind_to_any_port(options_.host);
    } else {
      port_ = server_.bind_to_port(options_.host, options_.port) ? options_.port
                                                                 : -1;
    }
    if (port_ < 0) {
      return Status::Unavailable("cannot listen on " + options_.host + ":" +
                                 std::to_string(options_.port) +
                                 " (address in use or not local?)");
    }
    return Status::Ok();
  }

  void Run() { server_.listen_after_bind(); }
  void Stop() { server_.stop(); }
  int port() const { return port_; }
  void SetReady(bool ready) { ready_.store(ready); }
  void AddCollectable(const prometheus::Collectable* c) {
    extra_collectables_.push_back(c);
  }

 private:
  using Clock = std::chrono::steady_clock;

  static void Send(const HttpResponse& r, httplib::Response* res) {
    res->status = r.status;
    for (const auto& [k, v] : r.headers) res->set_header(k, v);
    if (r.stream) {
      // Chunked: httplib asks for the next piece as the socket takes them.
      auto next = r.stream;
      res->set_chunked_content_provider(
          r.content_type,
          [next, piece = std::string()](size_t,
                                        httplib::DataSink& sink) mutable {
            if (next(&piece)) return sink.write(piece.data(), piece.size());
            sink.done();
            return true;
          });
    } else if (!r.body.empty()) {
      res->set_content(r.body, r.content_type.c_str());
    }
  }

  // Wraps a handler with request counting, timing and a catch-all: an
  // unexpected exception becomes a one-line 500, never a dead worker.
  template <typename Fn>
  httplib::Server::Handler Instrument(std::string name, Fn fn) {
    return
        [this, name, fn](const httplib::Request& req, httplib::Response& res) {
          const auto start = Clock::now();
          try {
            Send(fn(req), &res);
          } catch (const std::exception& e) {
            spdlog::error("{} {}: internal error: {}", req.method, req.path,
                          e.what());
            Send(ErrorResponse(500, std::string("internal error: ") + e.what()),
                 &res);
          }
          http_metrics_.Observe(
              name, res.status,
              std::chrono::duration<double>(Clock::now() - start).count());
        };
  }

  static HttpResponse Text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }

  void Routes() {
    server_.Post(
        "/api/v1/write",
        Instrument("write", [this](const httplib::Request& req) {
          // get_header_value returns by value: keep the strings
          // alive while the view points at them.
          const std::string type = req.get_header_value("Content-Type");
          const std::string encoding = req.get_header_value("Content-Encoding");
          HttpRequest view{type, encoding, req.body};
          HttpResponse r = write_handler_.Handle(view);
          if (r.status >= 400 && r.status != 415) {
            spdlog::debug("remote write refused ({}): {}", r.status, r.body);
          }
          return r;
        }));
    server_.Post(
        "/api/v1/read", Instrument("read", [this](const httplib::Request& req) {
          const std::string type = req.get_header_value("Content-Type");
          const std::string encoding = req.get_header_value("Content-Encoding");
          HttpResponse r =
              read_handler_.Handle(HttpRequest{type, encoding, req.body});
          if (r.status >= 500) {
            spdlog::error("remote read failed: {}", r.body);
          }
          return r;
        }));
    server_.Get("/metrics",
                Instrument("metrics", [this](const httplib::Request&) {
                  return Metrics();
                }));
    server_.Get("/federate",
                Instrument("federate", [this](const httplib::Request& req) {
                  return Federate(req);
                }));
    server_.Get("/-/healthy",
                Instrument("healthy", [](const httplib::Request&) {
                  return Text(200, "promewma is Healthy.\n");
                }));
    server_.Get("/-/ready",
                Instrument("ready", [this](const httplib::Request&) {
                  return ready_.load() ? Text(200, "promewma is Ready.\n")
                                       : Text(503,
                                              "promewma is not ready: recovery "
                                              "has not finished.\n");
                }));
    server_.Get("/api/v1/write",
                [](const httplib::Request&, httplib::Response& res) {
                  Send(ErrorResponse(405, "use POST for /api/v1/write"), &res);
                });
    // httplib answers some failures itself (unknown path, body over the
    // payload limit, unreadable request) with an empty body: give them the
    // one line every other error has.
    server_.set_error_handler(
        [](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return;
          std::string msg;
          switch (res.status) {
            case 404:
              msg = "no such endpoint: " + req.method + " " + req.path;
              break;
            case 413:
              msg = "request body over the size limit";
              break;
            default:
              msg = "request failed: HTTP " + std::to_string(res.status);
          }
          Send(ErrorResponse(res.status, msg), &res);
        });
  }

  HttpResponse Metrics() {
    active_series_.Set(static_cast<double>(head_->active_series()));
    ignored_series_.Set(static_cast<double>(head_->ignored_series()));
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

  HttpResponse Federate(const httplib::Request& req) {
    std::vector<std::string> match;
    const size_t n = req.get_param_value_count("match[]");
    for (size_t i = 0; i < n; ++i) {
      match.push_back(req.get_param_value("match[]", i));
    }
    Result<std::unique_ptr<FederateBody>> body =
        federate_handler_.Select(match);
    if (!body.ok()) return ErrorResponse(body.status());
    HttpResponse r;
    r.content_type = kFederateContentType;
    std::shared_ptr<FederateBody> shared = std::move(body).value();
    r.stream = [shared](std::string* piece) { return shared->Next(piece); };
    return r;
  }

  const ServerOptions options_;
  const head::Head* const head_;
  prometheus::Registry* const registry_;
  WriteMetrics write_metrics_;
  HttpMetrics http_metrics_;
  RemoteWriteHandler write_handler_;
  RemoteReadHandler read_handler_;
  FederateHandler federate_handler_;
  // Set before Run.
  std::vector<const prometheus::Collectable*> extra_collectables_;
  prometheus::Gauge& active_series_;
  prometheus::Gauge& ignored_series_;
  httplib::Server server_;
  int port_ = -1;
  std::atomic<bool> ready_{false};
};

Server::Server(ServerOptions options, db::Database* db,
               prometheus::Registry* registry)
    : impl_(std::make_unique<Impl>(std::move(options), db, registry)) {}
Server::~Server() = default;
Status Server::Bind() { return impl_->Bind(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }
int Server::port() const { return impl_->port(); }
void Server::SetReady(bool ready) { impl_->SetReady(ready); }
void Server::AddCollectable(const prometheus::Collectable* collectable) {
  impl_->AddCollectable(collectable);
}

}  // namespace promewma::http
