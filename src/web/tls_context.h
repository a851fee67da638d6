// The server's TLS context, made from tls_server_config (web_config.h) with
// OpenSSL: the certificate chain and its key (checked to match), the
// protocol versions, and client certificates as client_auth_type asks:
//
//   client_auth_type             certificate asked  required  verified
//   NoClientCert                 no                 -         -
//   RequestClientCert            yes                no        no
//   RequireAnyClientCert         yes                yes       no
//   VerifyClientCertIfGiven      yes                no        when sent
//   RequireAndVerifyClientCert   yes                yes       yes
//
// Verification is against client_ca_file, or the system's CAs without one
// (as Go's crypto/tls does). The files are read once, here: a renewed
// certificate is picked up by a restart.
//
// Thread-safety: the function reads the files named and nothing else. An
// SSL_CTX may be shared by connections on several threads.

#ifndef PROMEWMA_WEB_TLS_CONTEXT_H_
#define PROMEWMA_WEB_TLS_CONTEXT_H_

#include <memory>

#include "promewma/status.h"
#include "web/web_config.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace promewma::web {

struct SslCtxFree {
  void operator()(ssl_ctx_st* ctx) const;
};
using SslCtxPtr = std::unique_ptr<ssl_ctx_st, SslCtxFree>;

// REQUIRES: tls.enabled(). Messages name the key and the file:
// "tls_server_config.cert_file: /etc/x.crt: no such file".
Result<SslCtxPtr> MakeServerTlsContext(const TlsServerConfig& tls);

}  // namespace promewma::web

#endif  // PROMEWMA_WEB_TLS_CONTEXT_H_
