// Test helper: runs a program as a child process with its output captured
// to files, with bounded waits. Used to test the real binaries.

#ifndef PROMEWMA_TESTS_TESTING_SUBPROCESS_H_
#define PROMEWMA_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace promewma::testing {

// A fresh directory under the build tree, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string WriteFile(const std::string& name,
                        const std::string& content) const;

 private:
  std::string path_;
};

class Subprocess {
 public:
  // Starts argv[0] with the given arguments; stdout and stderr go to files
  // in `dir`. The child is killed if the test process dies first, so a
  // crashed or timed-out test leaves no server running.
  Subprocess(const std::vector<std::string>& argv, const std::string& dir);
  // Kills the child (SIGKILL) if it is still running.
  ~Subprocess();

  // Waits up to `timeout` for the child to exit; returns its exit status,
  // 128+signal when killed by a signal, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  void Signal(int sig);
  pid_t pid() const { return pid_; }
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string out_path_;
  std::string err_path_;
};

// Runs to completion (bounded) and returns the exit status.
int RunCommand(const std::vector<std::string>& argv, const std::string& dir,
               std::string* out, std::string* err,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A TCP port on 127.0.0.1 that refuses connections for as long as this
// object lives: a socket is bound to it and never listens, so no other
// process can start listening there meanwhile.
class RefusingLoopbackPort {
 public:
  RefusingLoopbackPort();
  ~RefusingLoopbackPort();
  RefusingLoopbackPort(const RefusingLoopbackPort&) = delete;
  RefusingLoopbackPort& operator=(const RefusingLoopbackPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A TCP port on 127.0.0.1 that takes connections and never answers: the
// socket listens and never accepts, so the kernel completes connections
// into its backlog and the requests sent there wait (a hanging peer).
class SilentLoopbackPort {
 public:
  SilentLoopbackPort();
  ~SilentLoopbackPort();
  SilentLoopbackPort(const SilentLoopbackPort&) = delete;
  SilentLoopbackPort& operator=(const SilentLoopbackPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace promewma::testing

#endif  // PROMEWMA_TESTS_TESTING_SUBPROCESS_H_
