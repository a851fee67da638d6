// Error messages are one line: they end up verbatim in HTTP bodies, log
// lines and --check-config output. EscapeToOneLine shows control
// characters that user input may carry (newlines from a YAML block scalar,
// a tab in a selector) as escapes instead.

#ifndef PROMEWMA_COMMON_ONE_LINE_H_
#define PROMEWMA_COMMON_ONE_LINE_H_

#include <cstdio>
#include <string>
#include <string_view>

namespace promewma {

// Appends "\xNN".
inline void AppendHexByte(std::string* out, unsigned char c) {
  char buf[5];
  std::snprintf(buf, sizeof(buf), "\\x%02x", c);
  out->append(buf, 4);
}

// \n, \r and \t become their escapes; other control bytes become \xNN.
inline std::string EscapeToOneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      AppendHexByte(&out, c);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

// `text` in double quotes, escaped to one line: how a message shows a value
// the user gave.
inline std::string QuotedOneLine(std::string_view text) {
  return "\"" + EscapeToOneLine(text) + "\"";
}

// ASCII lower case, for names compared case-insensitively (URL schemes,
// HTTP header names).
inline std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace promewma

#endif  // PROMEWMA_COMMON_ONE_LINE_H_
