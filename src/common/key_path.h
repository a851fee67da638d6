// Key paths: where in a configuration a problem is, written as in the
// YAML file ("write_back[0].tls_config.ca_file"), so that every error says
// which key to fix. A validator takes the path of the section it checks
// and puts it in front of its problems; an empty path is the top level.
//
// Thread-safety: pure functions.

#ifndef PROMEWMA_COMMON_KEY_PATH_H_
#define PROMEWMA_COMMON_KEY_PATH_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "promewma/status.h"

namespace promewma {

// "parent.key", or "key" when `parent` is empty.
inline std::string JoinKeyPath(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

// "parent[index]".
inline std::string IndexKeyPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

// InvalidArgument "path: problem", or just "problem" when `path` is empty.
inline Status ProblemAt(std::string_view path, std::string_view problem) {
  std::string message(path);
  if (!message.empty()) message += ": ";
  message += problem;
  return Status::InvalidArgument(std::move(message));
}

}  // namespace promewma

#endif  // PROMEWMA_COMMON_KEY_PATH_H_
