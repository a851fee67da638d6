// The promewma release this binary was built from (CMake's project version).

#ifndef PROMEWMA_VERSION_H_
#define PROMEWMA_VERSION_H_

#ifndef PROMEWMA_VERSION
#define PROMEWMA_VERSION "0.0.0-dev"
#endif

namespace promewma {
inline constexpr const char* kVersion = PROMEWMA_VERSION;
}  // namespace promewma

#endif  // PROMEWMA_VERSION_H_
