// ClientConfig: where and how a remote-write client sends, with the keys
// and defaults of Prometheus' remote_write (url, remote_timeout, headers,
// basic_auth, authorization, tls_config, queue_config.retry_on_http_429).
//
// This is the one model of a target's connection: promewma.yml's
// write_back entries (writeback::TargetConfig) and csv2rw's flags fill it,
// ValidateClientConfig checks it, and RemoteWriteClient sends with it.
// Secrets and TLS material stay file paths here; the validator checks
// that the files load, and the client reads them when it is made.
//
// Thread-safety: plain values and pure functions (the validator reads the
// files the config names).

#ifndef PROMEWMA_REMOTE_CLIENT_CONFIG_H_
#define PROMEWMA_REMOTE_CLIENT_CONFIG_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promewma/status.h"

namespace promewma::remote {

// Prometheus' tls_config, for an https target.
struct TlsConfig {
  std::string ca_file;    // PEM CAs to verify the server; empty: the system's
  std::string cert_file;  // PEM client certificate (mutual TLS), with key_file
  std::string key_file;   // PEM private key of cert_file, unencrypted
  // Sent as SNI and checked against the server certificate instead of the
  // URL's host; the connection still goes to the URL's host.
  std::string server_name;
  bool insecure_skip_verify = false;  // no certificate checks at all
  enum class Version { kTls12, kTls13 };
  Version min_version = Version::kTls12;  // Prometheus' default
};

struct BasicAuth {
  std::string username;
  std::string password;       // at most one of password and password_file
  std::string password_file;  // read by the client, whitespace trimmed
};

// Sent as "Authorization: <type> <credentials>".
struct Authorization {
  std::string type = "Bearer";
  std::string credentials;       // at most one of credentials, credentials_file
  std::string credentials_file;  // read by the client, whitespace trimmed
};

struct ClientConfig {
  std::string url;  // http://host[:port]/path or https://...
  // Bounds connecting, writing the request and each wait for response
  // bytes (httplib has no single whole-request deadline).
  std::chrono::milliseconds remote_timeout{30000};  // Prometheus' default
  // Extra request headers, in order. None may be one the protocol, the
  // connection or the auth options own (see ValidateClientConfig).
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<BasicAuth> basic_auth;  // at most one of the two
  std::optional<Authorization> authorization;
  std::optional<TlsConfig> tls_config;  // https URLs only
  // 429 is retried like a 5xx; false: dropped like another 4xx. YAML sets
  // it as queue_config.retry_on_http_429, where Prometheus has it.
  bool retry_on_http_429 = true;
};

// Checks everything a client needs, so that a config that passes can be
// sent with: the URL (url.h), remote_timeout > 0, header names that are
// HTTP tokens, not reserved (the headers Prometheus refuses in
// remote_write.headers: Authorization, Host, Content-Encoding,
// Content-Length, Content-Type, User-Agent, Connection, Keep-Alive,
// Proxy-Authenticate, Proxy-Authorization, Www-Authenticate,
// Accept-Encoding, X-Prometheus-Remote-Write-Version,
// X-Prometheus-Remote-Read-Version) and not repeated, header values without
// line breaks; at most one of basic_auth and authorization, and of a secret
// and its file; an authorization type that is one word and not Basic;
// secret files that can be read; a tls_config only with an https URL,
// cert_file with key_file, a server_name that is a host name, and TLS files
// that load (CAs, certificate, key, and that the key is the certificate's).
//
// On failure, InvalidArgument "PATH.KEY: problem", KEY being the key path
// within the target as in YAML (url, headers.NAME, basic_auth.password_file,
// tls_config.ca_file, ...) and PATH the caller's `path` (e.g.
// "write_back[0]"; empty: no prefix), e.g.
//   write_back[0].url: port 99999 out of range
//   write_back[0].headers.Content-Encoding: is reserved: promewma sets it
//   tls_config.ca_file: cannot read ca.pem: No such file or directory
Status ValidateClientConfig(const ClientConfig& config,
                            std::string_view path = {});

// The content of a secret file with surrounding whitespace trimmed, as
// Prometheus reads password_file and credentials_file. InvalidArgument
// "cannot read PATH: <OS error>" when it cannot be read.
Result<std::string> ReadSecretFile(const std::string& path);

// Whether two configs have the same value for every key: a client built
// from one behaves as one built from the other.
bool SameClientConfig(const ClientConfig& a, const ClientConfig& b);

}  // namespace promewma::remote

#endif  // PROMEWMA_REMOTE_CLIENT_CONFIG_H_
