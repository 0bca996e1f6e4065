#include "core/version.h"

namespace popup {

std::optional<Version> parse_version(std::string_view s) {
  Version v;
  size_t part = 0, digits = 0;
  uint64_t cur = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (digits == 0 || part >= v.parts.size()) return std::nullopt;
      v.parts[part++] = static_cast<uint32_t>(cur);
      cur = 0;
      digits = 0;
      continue;
    }
    if (s[i] < '0' || s[i] > '9' || ++digits > 9) return std::nullopt;
    cur = cur * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  return v;
}

std::string format_version(const Version& v) {
  size_t n = v.parts.size();
  while (n > 1 && v.parts[n - 1] == 0) --n;
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += '.';
    out += std::to_string(v.parts[i]);
  }
  return out;
}

}  // namespace popup
