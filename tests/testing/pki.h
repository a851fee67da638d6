// TestPki: certificates made for this test process with the openssl
// program, once, in a temporary directory removed at exit: a CA, a server
// certificate for 127.0.0.1 and localhost signed by it, a client
// certificate signed by it, and a self-signed client certificate no CA
// vouches for. Without the openssl program (Debian package openssl,
// installed by tools/bootstrap.sh) the running test fails and says so.

#ifndef PROMEWMA_TESTS_TESTING_PKI_H_
#define PROMEWMA_TESTS_TESTING_PKI_H_

#include <string>

#include "testing/subprocess.h"

namespace promewma::testing {

struct TestPki {
  TempDir dir;
  std::string ca;  // PEM files, full paths
  std::string server_cert, server_key;
  std::string client_cert, client_key;
  std::string stranger_cert, stranger_key;  // self-signed client
};

// The certificates of this run.
const TestPki& GetTestPki();

// The openssl program on PATH, or "" (Subprocess needs a full path).
std::string FindOpenssl();

}  // namespace promewma::testing

#endif  // PROMEWMA_TESTS_TESTING_PKI_H_
