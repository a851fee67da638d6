// WebConfig: the web configuration file (`--web.config.file`), in the format
// of Prometheus' exporter-toolkit, so that one file serves node_exporter,
// Prometheus and promewma alike:
//
//   tls_server_config:
//     cert_file: server.crt          # PEM; the chain may follow the leaf
//     key_file: server.key           # PEM, unencrypted
//     client_ca_file: ca.crt         # CAs client certificates chain to
//     client_auth_type: RequireAndVerifyClientCert
//     min_version: TLS12             # TLS10 | TLS11 | TLS12 | TLS13
//     max_version: TLS13
//   basic_auth_users:                # user: bcrypt hash ($2a$, $2b$, $2y$)
//     prometheus: $2y$10$...
//
// As in exporter-toolkit: TLS is on once any of cert_file, key_file,
// client_ca_file or client_auth_type is set, and then cert_file and
// key_file are required; a client_ca_file with NoClientCert is refused;
// client_auth_type is one of NoClientCert (default), RequestClientCert,
// RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert
// (the last one is the one that authenticates clients; VerifyClientCertIfGiven
// and RequireAndVerifyClientCert without client_ca_file verify against the
// system's CAs, as Go does); basic_auth_users, when not empty, is required
// on every endpoint but /-/healthy. Relative file names are resolved
// against the web config file's directory.
//
// The keys exporter-toolkit has and promewma does not implement
// (inline cert/key/client_ca, cipher_suites, curve_preferences,
// prefer_server_cipher_suites, client_allowed_sans, http_server_config,
// rate_limit) are refused by name rather than ignored: a file that asks for
// a protection promewma would not give does not start. Unknown keys are
// refused too. Every error is one line, "<file>: <key path>: <problem>".
//
// Thread-safety: plain values; the functions read only the files named.

#ifndef PROMEWMA_WEB_WEB_CONFIG_H_
#define PROMEWMA_WEB_WEB_CONFIG_H_

#include <map>
#include <string>
#include <string_view>

#include "promewma/status.h"

namespace promewma::web {

// Go's crypto/tls ClientAuthType, under exporter-toolkit's names.
enum class ClientAuthType {
  kNoClientCert,                // no certificate asked for
  kRequestClientCert,           // asked for, not required, not verified
  kRequireAnyClientCert,        // required, not verified
  kVerifyClientCertIfGiven,     // not required; verified when sent
  kRequireAndVerifyClientCert,  // required and verified
};

// A protocol version as OpenSSL numbers it (TLS1_2_VERSION, ...).
using TlsVersion = int;

struct TlsServerConfig {
  // Resolved against the web config file's directory; empty: not set.
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  ClientAuthType client_auth_type = ClientAuthType::kNoClientCert;
  bool client_auth_type_set = false;  // written in the file
  TlsVersion min_version = 0x0303;    // TLS12, exporter-toolkit's default
  TlsVersion max_version = 0x0304;    // TLS13

  // Whether the section turns TLS on (exporter-toolkit's IsEnabled).
  bool enabled() const {
    return !cert_file.empty() || !key_file.empty() ||
           !client_ca_file.empty() || client_auth_type_set;
  }
};

struct WebConfig {
  TlsServerConfig tls_server_config;
  // user -> bcrypt hash; empty: no basic auth.
  std::map<std::string, std::string> basic_auth_users;
};

// The name of a client_auth_type, as written in the file.
std::string_view ClientAuthTypeName(ClientAuthType type);

// Parses the YAML text of a web config file and checks its keys and values
// (bcrypt hash syntax included) without reading the files it names.
// `source_name` (usually the path) starts every message and gives the
// directory relative file names are resolved against. Empty text is the
// default: plain HTTP, no auth.
Result<WebConfig> ParseWebConfig(std::string_view yaml_text,
                                 std::string_view source_name);

// Reads and parses the file at `path`, then loads its TLS files the way the
// server will (MakeServerTlsContext), so that a file that passes here
// starts. The one check --check-config and start-up both run.
Result<WebConfig> LoadWebConfigFile(const std::string& path);

}  // namespace promewma::web

#endif  // PROMEWMA_WEB_WEB_CONFIG_H_
