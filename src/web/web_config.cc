#include "web/web_config.h"

#include <openssl/ssl.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "common/key_path.h"
#include "common/one_line.h"
#include "web/basic_auth.h"
#include "web/tls_context.h"

namespace promewma::web {
namespace {

using Entries = std::vector<std::pair<std::string, YAML::Node>>;

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return QuotedOneLine(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// A map's entries in file order; a null node is an empty map (as for Go's
// YAML decoder), a duplicate key is refused.
Result<Entries> MapEntries(const YAML::Node& node, const std::string& path) {
  Entries entries;
  if (node.IsNull()) return entries;
  if (!node.IsMap()) {
    return ProblemAt(path, "expected a map, got " + Describe(node));
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) {
      return ProblemAt(path, "keys must be strings, got " + Describe(it->first));
    }
    std::string key = it->first.Scalar();
    for (const auto& [seen, unused] : entries) {
      if (seen == key) return ProblemAt(JoinKeyPath(path, key), "duplicate key");
    }
    entries.emplace_back(std::move(key), it->second);
  }
  return entries;
}

Result<std::string> Scalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) {
    return ProblemAt(path, "expected a string, got " + Describe(node));
  }
  return node.Scalar();
}

// exporter-toolkit's keys that promewma does not implement: refused by
// name, so that nobody believes they apply.
bool UnsupportedTlsKey(std::string_view key) {
  for (std::string_view k :
       {"cert", "key", "client_ca", "cipher_suites", "curve_preferences",
        "prefer_server_cipher_suites", "client_allowed_sans"}) {
    if (key == k) return true;
  }
  return false;
}

Result<TlsVersion> ParseTlsVersion(const YAML::Node& node,
                                   const std::string& path) {
  Result<std::string> text = Scalar(node, path);
  if (!text.ok()) return text.status();
  if (*text == "TLS10") return TLS1_VERSION;
  if (*text == "TLS11") return TLS1_1_VERSION;
  if (*text == "TLS12") return TLS1_2_VERSION;
  if (*text == "TLS13") return TLS1_3_VERSION;
  return ProblemAt(path, "unknown TLS version " + QuotedOneLine(*text) +
                             " (TLS10, TLS11, TLS12 or TLS13)");
}

Result<ClientAuthType> ParseClientAuthType(const YAML::Node& node,
                                           const std::string& path) {
  Result<std::string> text = Scalar(node, path);
  if (!text.ok()) return text.status();
  for (ClientAuthType t :
       {ClientAuthType::kNoClientCert, ClientAuthType::kRequestClientCert,
        ClientAuthType::kRequireAnyClientCert,
        ClientAuthType::kVerifyClientCertIfGiven,
        ClientAuthType::kRequireAndVerifyClientCert}) {
    if (*text == ClientAuthTypeName(t)) return t;
  }
  // exporter-toolkit's older name, kept there for compatibility.
  if (*text == "RequireClientCert") return ClientAuthType::kRequireAnyClientCert;
  return ProblemAt(path,
                   "invalid client auth type " + QuotedOneLine(*text) +
                       " (NoClientCert, RequestClientCert, "
                       "RequireAnyClientCert, VerifyClientCertIfGiven or "
                       "RequireAndVerifyClientCert)");
}

// As Prometheus: a relative file name is relative to the config file.
std::string Resolve(const std::string& file, std::string_view source_name) {
  if (file.empty() || file[0] == '/') return file;
  const std::filesystem::path dir =
      std::filesystem::path(std::string(source_name)).parent_path();
  return dir.empty() ? file : (dir / file).string();
}

Status ParseTls(const YAML::Node& node, std::string_view source_name,
                TlsServerConfig* tls) {
  const std::string section = "tls_server_config";
  Result<Entries> entries = MapEntries(node, section);
  if (!entries.ok()) return entries.status();
  for (const auto& [key, value] : *entries) {
    const std::string path = JoinKeyPath(section, key);
    if (key == "cert_file" || key == "key_file" || key == "client_ca_file") {
      Result<std::string> file = Scalar(value, path);
      if (!file.ok()) return file.status();
      std::string resolved = Resolve(*file, source_name);
      if (key == "cert_file") tls->cert_file = std::move(resolved);
      if (key == "key_file") tls->key_file = std::move(resolved);
      if (key == "client_ca_file") tls->client_ca_file = std::move(resolved);
    } else if (key == "client_auth_type") {
      Result<ClientAuthType> type = ParseClientAuthType(value, path);
      if (!type.ok()) return type.status();
      tls->client_auth_type = *type;
      tls->client_auth_type_set = true;
    } else if (key == "min_version" || key == "max_version") {
      Result<TlsVersion> version = ParseTlsVersion(value, path);
      if (!version.ok()) return version.status();
      (key == "min_version" ? tls->min_version : tls->max_version) = *version;
    } else if (UnsupportedTlsKey(key)) {
      return ProblemAt(path, "not supported by promewma (use the *_file keys "
                             "and OpenSSL's default ciphers and curves)");
    } else {
      return ProblemAt(path, "unknown key");
    }
  }
  if (!tls->enabled()) return Status::Ok();
  if (tls->cert_file.empty()) return ProblemAt(section, "missing cert_file");
  if (tls->key_file.empty()) return ProblemAt(section, "missing key_file");
  if (!tls->client_ca_file.empty() &&
      tls->client_auth_type == ClientAuthType::kNoClientCert) {
    return ProblemAt(section,
                     "client_ca_file is set but client_auth_type is "
                     "NoClientCert (client certificates would not be "
                     "asked for; use RequireAndVerifyClientCert)");
  }
  if (tls->min_version > tls->max_version) {
    return ProblemAt(section, "min_version is above max_version");
  }
  return Status::Ok();
}

Status ParseUsers(const YAML::Node& node,
                  std::map<std::string, std::string>* users) {
  const std::string section = "basic_auth_users";
  Result<Entries> entries = MapEntries(node, section);
  if (!entries.ok()) return entries.status();
  for (const auto& [user, value] : *entries) {
    const std::string path = JoinKeyPath(section, user);
    if (user.find(':') != std::string::npos) {
      // Basic auth splits user and password at the first ':'.
      return ProblemAt(path, "a user name cannot contain ':'");
    }
    Result<std::string> hash = Scalar(value, path);
    if (!hash.ok()) return hash.status();
    Status s = CheckBcryptHash(*hash);
    if (!s.ok()) return ProblemAt(path, s.message());
    users->emplace(user, *hash);
  }
  return Status::Ok();
}

}  // namespace

std::string_view ClientAuthTypeName(ClientAuthType type) {
  switch (type) {
    case ClientAuthType::kNoClientCert:
      return "NoClientCert";
    case ClientAuthType::kRequestClientCert:
      return "RequestClientCert";
    case ClientAuthType::kRequireAnyClientCert:
      return "RequireAnyClientCert";
    case ClientAuthType::kVerifyClientCertIfGiven:
      return "VerifyClientCertIfGiven";
    case ClientAuthType::kRequireAndVerifyClientCert:
      return "RequireAndVerifyClientCert";
  }
  return "?";
}

Result<WebConfig> ParseWebConfig(std::string_view yaml_text,
                                 std::string_view source_name) {
  const std::string source(source_name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(source + ": line " +
                                   std::to_string(e.mark.line + 1) + ": " +
                                   EscapeToOneLine(e.msg));
  }
  WebConfig config;
  Result<Entries> entries = MapEntries(root, "");
  Status s = entries.status();
  if (s.ok()) {
    for (const auto& [key, value] : *entries) {
      if (key == "tls_server_config") {
        s = ParseTls(value, source_name, &config.tls_server_config);
      } else if (key == "basic_auth_users") {
        s = ParseUsers(value, &config.basic_auth_users);
      } else if (key == "http_server_config" || key == "rate_limit") {
        s = ProblemAt(key, "not supported by promewma");
      } else {
        s = ProblemAt(key, "unknown key");
      }
      if (!s.ok()) break;
    }
  }
  if (!s.ok()) return Status::InvalidArgument(source + ": " + s.message());
  return config;
}

Result<WebConfig> LoadWebConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string message =
        path + ": cannot read the web config file: " + std::strerror(err);
    return err == ENOENT ? Status::NotFound(message)
                         : Status::InvalidArgument(message);
  }
  std::ostringstream text;
  text << in.rdbuf();
  Result<WebConfig> config = ParseWebConfig(text.str(), path);
  if (!config.ok() || !config->tls_server_config.enabled()) return config;
  Result<SslCtxPtr> ctx = MakeServerTlsContext(config->tls_server_config);
  if (!ctx.ok()) {
    return Status::InvalidArgument(path + ": " + ctx.status().message());
  }
  return config;
}

}  // namespace promewma::web
