// OpenSSL's reason for the call that just failed, for one-line messages.
//
// Thread-safety: OpenSSL queues errors per thread; this reads the calling
// thread's queue.

#ifndef PROMEWMA_COMMON_OPENSSL_ERROR_H_
#define PROMEWMA_COMMON_OPENSSL_ERROR_H_

#include <string>

namespace promewma {

// The reason of the oldest queued OpenSSL error, and clears the queue. A
// system error (fopen's) is described by the OS, since OpenSSL has no text
// for it.
std::string OpenSslError();

}  // namespace promewma

#endif  // PROMEWMA_COMMON_OPENSSL_ERROR_H_
