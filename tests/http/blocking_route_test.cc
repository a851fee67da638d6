// Server::AddBlockingPostRoute over real sockets: routing, limits, errors,
// and handlers that wait without holding up the event loop.

#include <httplib.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
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
  int port() const { return server_->port(); }

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

TEST_CASE(
    "A streamed answer's next piece is built while the one before is "
    "written, one piece ahead and no more",
    "[server]") {
  // More than loopback's socket buffers take, so that a piece's write
  // cannot end while the client reads nothing.
  constexpr size_t kPiece = 16 << 20;
  std::atomic<int> asked{0};
  ServerWithRoutes s({}, [&](Server* server) {
    server->AddBlockingPostRoute(
        "/stream", "stream", 100, [&](const BlockingRequest&) {
          HttpResponse r;
          r.content_type = "application/octet-stream";
          r.stream = [&asked, n = 0](std::string* piece) mutable {
            asked.fetch_add(1);
            if (n == 3) return false;
            piece->assign(kPiece, static_cast<char>('a' + n++));
            return true;
          };
          return r;
        });
  });

  // A client that asks and reads nothing yet.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(s.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  const std::string request =
      "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
  REQUIRE(send(fd, request.data(), request.size(), 0) ==
          static_cast<ssize_t>(request.size()));
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (asked.load() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // The second piece is built while the first waits for the client; the
  // third only once the first is written.
  CHECK(asked.load() == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(asked.load() == 2);
  close(fd);

  // Read whole, the pieces come in order.
  asked = 0;
  auto c = s.Client();
  auto r = c->Post("/stream", "", "text/plain");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  REQUIRE(r->body.size() == 3 * kPiece);
  for (int k = 0; k < 3; ++k) {
    INFO("piece " << k);
    CHECK(r->body.find_first_not_of(static_cast<char>('a' + k), k * kPiece) ==
          (k == 2 ? std::string::npos : (k + 1) * kPiece));
  }
}

}  // namespace
}  // namespace promewma::http
