#include "web/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

#include "common/openssl_error.h"

namespace promewma::web {
namespace {

// Accepts any certificate the client sends (RequestClientCert,
// RequireAnyClientCert): asked for, not verified.
int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

Status FileProblem(const char* key, const std::string& file,
                   const char* what) {
  return Status::InvalidArgument(std::string("tls_server_config.") + key +
                                 ": " + file + ": " + what + " (" +
                                 OpenSslError() + ")");
}

}  // namespace

void SslCtxFree::operator()(ssl_ctx_st* ctx) const { SSL_CTX_free(ctx); }

Result<SslCtxPtr> MakeServerTlsContext(const TlsServerConfig& tls) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return Status::Internal("tls: " + OpenSslError());
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, tls.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(c, tls.max_version) != 1) {
    return Status::InvalidArgument(
        "tls_server_config: min_version/max_version: " + OpenSslError());
  }
  // No compression (CRIME), no renegotiation (a CPU cost a client could
  // drive), and the server's order of ciphers (OpenSSL's defaults).
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(c, tls.cert_file.c_str()) != 1) {
    return FileProblem("cert_file", tls.cert_file,
                       "cannot load a PEM certificate");
  }
  if (SSL_CTX_use_PrivateKey_file(c, tls.key_file.c_str(), SSL_FILETYPE_PEM) !=
      1) {
    // OpenSSL compares the key with the certificate as it loads it.
    const unsigned long err = ERR_peek_last_error();  // NOLINT(runtime/int)
    const bool mismatch = ERR_GET_LIB(err) == ERR_LIB_X509 &&
                          ERR_GET_REASON(err) == X509_R_KEY_VALUES_MISMATCH;
    return FileProblem("key_file", tls.key_file,
                       mismatch ? "does not match the certificate of cert_file"
                                : "cannot load an unencrypted PEM private key");
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return FileProblem("key_file", tls.key_file,
                       "does not match the certificate of cert_file");
  }
  const ClientAuthType auth = tls.client_auth_type;
  const bool verify = auth == ClientAuthType::kVerifyClientCertIfGiven ||
                      auth == ClientAuthType::kRequireAndVerifyClientCert;
  if (!tls.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(c, tls.client_ca_file.c_str(),
                                      nullptr) != 1) {
      return FileProblem("client_ca_file", tls.client_ca_file,
                         "cannot load PEM CA certificates");
    }
    // The CAs named in the CertificateRequest, so that a client with
    // several certificates picks the right one.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
    if (names == nullptr) {
      return FileProblem("client_ca_file", tls.client_ca_file,
                         "holds no CA certificate");
    }
    SSL_CTX_set_client_CA_list(c, names);
  } else if (verify && SSL_CTX_set_default_verify_paths(c) != 1) {
    return Status::InvalidArgument(
        "tls_server_config: cannot load the system's CA certificates to "
        "verify clients with (set client_ca_file): " +
        OpenSslError());
  }
  switch (auth) {
    case ClientAuthType::kNoClientCert:
      SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuthType::kRequestClientCert:
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER, AcceptAnyCertificate);
      break;
    case ClientAuthType::kRequireAnyClientCert:
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         AcceptAnyCertificate);
      break;
    case ClientAuthType::kVerifyClientCertIfGiven:
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuthType::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         nullptr);
      break;
  }
  // Client certificates are checked with the session's context: a session
  // id context is required for resumption with them.
  static const unsigned char kSessionContext[] = "promewma";
  SSL_CTX_set_session_id_context(c, kSessionContext,
                                 sizeof(kSessionContext) - 1);
  return ctx;
}

}  // namespace promewma::web
