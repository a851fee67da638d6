#include "testing/subprocess.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace promewma::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl =
      std::filesystem::temp_directory_path() / "promewma-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::WriteFile(const std::string& name,
                               const std::string& content) const {
  std::string p = path_ + "/" + name;
  std::ofstream(p) << content;
  return p;
}

Subprocess::Subprocess(const std::vector<std::string>& argv,
                       const std::string& dir) {
  static int counter = 0;
  const std::string base = dir + "/proc" + std::to_string(counter++);
  out_path_ = base + ".out";
  err_path_ = base + ".err";
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && status_ < 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

int Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (status_ >= 0) return status_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Subprocess::Signal(int sig) {
  if (status_ < 0) kill(pid_, sig);
}

std::string Subprocess::Stdout() const { return ReadAll(out_path_); }
std::string Subprocess::Stderr() const { return ReadAll(err_path_); }

int RunCommand(const std::vector<std::string>& argv, const std::string& dir,
               std::string* out, std::string* err,
               std::chrono::milliseconds timeout) {
  Subprocess p(argv, dir);
  int status = p.Wait(timeout);
  if (out) *out = p.Stdout();
  if (err) *err = p.Stderr();
  return status;
}

namespace {

// A socket bound to an ephemeral port of 127.0.0.1; *port set.
int BindLoopback(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error("bind to 127.0.0.1:0 failed");
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

// In the bodies: port_'s default member initializer runs after fd_'s.
RefusingLoopbackPort::RefusingLoopbackPort() { fd_ = BindLoopback(&port_); }

RefusingLoopbackPort::~RefusingLoopbackPort() { close(fd_); }

SilentLoopbackPort::SilentLoopbackPort() {
  fd_ = BindLoopback(&port_);
  if (listen(fd_, 64) != 0) {
    close(fd_);
    throw std::runtime_error("listen on 127.0.0.1 failed");
  }
}

SilentLoopbackPort::~SilentLoopbackPort() { close(fd_); }

}  // namespace promewma::testing
