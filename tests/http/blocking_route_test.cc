// Server::AddBlockingPostRoute over real sockets: routing, limits, errors,
// and handlers that wait without holding up the event loop.

#include <httplib.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "http/server.h"

namespace promewma::http {
namespace {

// A server with routes added before it runs, on a free port.
class ServerWithRoutes {
 public:
  ServerWithRoutes(ServerOptions options,
                   const std::function<void(Server*)>& add_routes)
      : db_(head::HeadOptions{}) {
    options.port = 0;
    server_ = std::make_unique<Server>(options, &db_, &registry_);
    add_routes(server_.get());
    REQUIRE(server_->Bind().ok());
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~ServerWithRoutes() {
    server_->Stop();
    thread_.join();
  }
  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    c->set_read_timeout(10, 0);
    return c;
  }
  std::string Metrics() {
    return prometheus::TextSerializer().Serialize(registry_.Collect());
  }

 private:
  db::Database db_;
  prometheus::Registry registry_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

HttpResponse Echo(const BlockingRequest& r) {
  HttpResponse out;
  out.body = std::string(r.path) + " " + std::string(r.content_type) + " " +
             std::string(r.body);
  return out;
}

TEST_CASE("A blocking route serves POST to its path and below it only",
          "[server]") {
  ServerWithRoutes s({}, [](Server* server) {
    server->AddBlockingPostRoute("/api/v1/hook", "hook", 100, Echo);
  });
  auto c = s.Client();
  auto r = c->Post("/api/v1/hook?x=1", "hello", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "/api/v1/hook application/json hello");
  r = c->Post("/api/v1/hook/team-a", "hi", "text/plain");
  REQUIRE(r);
  CHECK(r->body == "/api/v1/hook/team-a text/plain hi");
  r = c->Post("/api/v1/hookx", "hi", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 404);
  auto g = c->Get("/api/v1/hook/team-a");
  REQUIRE(g);
  CHECK(g->status == 405);
  CHECK(g->body == "use POST for /api/v1/hook/team-a\n");
  CHECK(g->get_header_value("Allow") == "POST");
  r = c->Post("/api/v1/hook", std::string(101, 'x'), "application/json");
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(r->body == "request body over the size limit of 100 bytes\n");
  const std::string metrics = s.Metrics();
  CHECK_THAT(metrics, Catch::Contains("promewma_http_requests_total{code="
                                      "\"200\",handler=\"hook\"} 2"));
  CHECK_THAT(metrics, Catch::Contains("promewma_http_requests_total{code="
                                      "\"413\",handler=\"hook\"} 1"));
}

TEST_CASE("An exception in a blocking handler is a one-line 500", "[server]") {
  ServerWithRoutes s({}, [](Server* server) {
    server->AddBlockingPostRoute("/hook", "hook", 100,
                                 [](const BlockingRequest&) -> HttpResponse {
                                   throw std::runtime_error("broken\nhandler");
                                 });
  });
  auto c = s.Client();
  auto r = c->Post("/hook", "x", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(r->body == "internal error: broken handler\n");
  // The server goes on serving.
  auto h = c->Get("/-/healthy");
  REQUIRE(h);
  CHECK(h->status == 200);
}

TEST_CASE(
    "A waiting blocking handler holds up no other request, even with "
    "one event loop",
    "[server]") {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false;
  bool released = false;
  ServerOptions options;
  options.threads = 1;  // a handler on the loop would stop everything
  ServerWithRoutes s(options, [&](Server* server) {
    server->AddBlockingPostRoute(
        "/slow", "slow", 100, [&](const BlockingRequest&) {
          std::unique_lock<std::mutex> lock(mu);
          entered = true;
          cv.notify_all();
          cv.wait_for(lock, std::chrono::seconds(30), [&] { return released; });
          HttpResponse r;
          r.body = "done";
          return r;
        });
  });
  auto slow = std::async(std::launch::async, [&] {
    auto r = s.Client()->Post("/slow", "x", "text/plain");
    return r ? r->status : -1;
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return entered; }));
  }
  auto c = s.Client();
  c->set_read_timeout(5, 0);
  auto h = c->Get("/-/healthy");
  REQUIRE(h);
  CHECK(h->status == 200);
  auto m = c->Get("/metrics");
  REQUIRE(m);
  CHECK(m->status == 200);
  {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
  }
  cv.notify_all();
  CHECK(slow.get() == 200);
}

}  // namespace
}  // namespace promewma::http
