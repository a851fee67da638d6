#include "common/redacted_url.h"

#include "common/one_line.h"

namespace promewma {

std::string RedactedUrl(std::string_view url) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return "(not a URL)";
  std::string_view rest = url.substr(sep + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  return EscapeToOneLine(url.substr(0, sep)) + "://" +
         EscapeToOneLine(authority) + "/…";
}

}  // namespace promewma
