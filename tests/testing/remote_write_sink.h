// RemoteWriteSink: a local remote-write receiver that a test can make
// faulty. It listens on a free loopback port and serves each connection in
// a thread of its own, with plain sockets, so that it can do what an HTTP
// server library will not: hold a request without ever answering, or reset
// the connection. What it does with a request is chosen by its mode when
// the request has been read whole:
//
//   kAccept      decode it and keep its samples (in arrival order), 204
//   kHang        never answer; the connection is closed once the mode changes
//   kStatus500   answer 500 (retryable)
//   kStatus400Once  answer 400 (final) to this one request, keep its samples
//                as rejected, and switch to kAccept
//   kReset       close the connection with a TCP reset, no answer
//
//   testing::RemoteWriteSink sink(testing::RemoteWriteSink::Mode::kStatus500);
//   ... config: url: sink.url() + "/api/v1/write" ...
//   sink.SetMode(testing::RemoteWriteSink::Mode::kAccept);
//   ... sink.accepted() ...
//
// Thread-safety: every method may be called from any thread.

#ifndef PROMEWMA_TESTS_TESTING_REMOTE_WRITE_SINK_H_
#define PROMEWMA_TESTS_TESTING_REMOTE_WRITE_SINK_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace promewma::testing {

class RemoteWriteSink {
 public:
  enum class Mode { kAccept, kHang, kStatus500, kStatus400Once, kReset };

  struct Sample {
    std::string series;  // NAME{label="value",...}, labels in request order
    int64_t timestamp_ms = 0;
    double value = 0;
  };

  explicit RemoteWriteSink(Mode mode);
  // Closes every connection and joins the threads.
  ~RemoteWriteSink();
  RemoteWriteSink(const RemoteWriteSink&) = delete;
  RemoteWriteSink& operator=(const RemoteWriteSink&) = delete;

  std::string url() const;  // http://127.0.0.1:PORT
  void SetMode(Mode mode);

  // Samples of the requests answered 204, in the order they arrived.
  std::vector<Sample> accepted() const;
  // Samples of the request answered 400 (kStatus400Once).
  std::vector<Sample> rejected() const;
  // Requests read whole, whatever their answer.
  int requests() const;

 private:
  void AcceptLoop();
  void Serve(int fd);
  // Decodes a snappy-compressed WriteRequest; false when it does not decode.
  static bool Decode(const std::string& body, std::vector<Sample>* out);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;

  mutable std::mutex mu_;  // guards everything below
  Mode mode_;
  std::vector<Sample> accepted_;
  std::vector<Sample> rejected_;
  int requests_ = 0;
  std::vector<std::thread> connections_;
};

}  // namespace promewma::testing

#endif  // PROMEWMA_TESTS_TESTING_REMOTE_WRITE_SINK_H_
