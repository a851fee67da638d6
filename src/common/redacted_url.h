// RedactedUrl: how a secret-bearing URL is shown. A Power Automate
// workflow URL carries its own signature (`sig=` in the query), so whoever
// reads the full URL can post to the channel: logs, error messages and
// metrics show only the scheme and the host, never the path or query.
//
//   RedactedUrl("https://prod-1.westeurope.logic.azure.com:443/workflows/"
//               "abc/triggers/manual/paths/invoke?sig=XYZ")
//     == "https://prod-1.westeurope.logic.azure.com:443/…"
//
// Thread-safety: pure function.

#ifndef PROMEWMA_COMMON_REDACTED_URL_H_
#define PROMEWMA_COMMON_REDACTED_URL_H_

#include <string>
#include <string_view>

namespace promewma {

// "scheme://host[:port]/…" for a URL with a scheme; "(not a URL)" for text
// without "://". User info (user:password@) is dropped too. Control bytes
// are escaped, so the result is one line.
std::string RedactedUrl(std::string_view url);

}  // namespace promewma

#endif  // PROMEWMA_COMMON_REDACTED_URL_H_
