#include "testing/pki.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>
#include <vector>

namespace promewma::testing {

std::string FindOpenssl() {
  const char* env = std::getenv("PATH");
  std::string path = env != nullptr ? env : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const std::string candidate = path.substr(start, end - start) + "/openssl";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

const TestPki& GetTestPki() {
  static const std::unique_ptr<TestPki> pki = []() -> std::unique_ptr<TestPki> {
    const std::string openssl = FindOpenssl();
    if (openssl.empty()) return nullptr;
    auto p = std::make_unique<TestPki>();
    const std::string d = p->dir.path() + "/";
    p->ca = d + "ca.pem";
    p->server_cert = d + "server.pem";
    p->server_key = d + "server.key";
    p->client_cert = d + "client.pem";
    p->client_key = d + "client.key";
    p->stranger_cert = d + "stranger.pem";
    p->stranger_key = d + "stranger.key";
    // `req -x509 -CA` (OpenSSL 3) signs the new certificate with the CA.
    const std::vector<std::vector<std::string>> commands = {
        {openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         d + "ca.key", "-out", p->ca, "-days", "2", "-subj",
         "/CN=promewma test CA"},
        {openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         p->server_key, "-out", p->server_cert, "-days", "2", "-subj",
         "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext",
         "basicConstraints=CA:FALSE", "-CA", p->ca, "-CAkey", d + "ca.key"},
        {openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         p->client_key, "-out", p->client_cert, "-days", "2", "-subj",
         "/CN=promewma test client", "-addext", "basicConstraints=CA:FALSE",
         "-addext", "extendedKeyUsage=clientAuth", "-CA", p->ca, "-CAkey",
         d + "ca.key"},
        {openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         p->stranger_key, "-out", p->stranger_cert, "-days", "2", "-subj",
         "/CN=promewma stranger"},
    };
    for (const auto& argv : commands) {
      std::string out, err;
      const int rc = RunCommand(argv, p->dir.path(), &out, &err);
      INFO(argv[1] << ": " << err);
      REQUIRE(rc == 0);
    }
    return p;
  }();
  if (pki == nullptr) {
    FAIL("no openssl program on PATH: install the Debian package 'openssl' "
         "(tools/bootstrap.sh)");
  }
  return *pki;
}

}  // namespace promewma::testing
