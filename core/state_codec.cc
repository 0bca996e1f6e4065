// The state codec is read on every visit, so it is a hand-written, strict
// parser: four or five comma-separated fields, plain decimal numbers (no sign
// except next_show_at's "-1" for never, no spaces), a known action name.
// Anything else is treated as "no usable state" by the caller.
#include "core/state_codec.h"

#include <charconv>

namespace popup {
namespace {

// Non-negative decimal: digits only, fits in int64_t.
bool parse_count(std::string_view s, int64_t* out) {
  if (s.empty() || s.front() < '0' || s.front() > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_show_at(std::string_view s, int64_t* out) {
  if (s == "-1") return *out = kNever, true;
  return parse_count(s, out);
}

}  // namespace

std::string encode_state(const UserState& s) {
  std::string out = std::to_string(s.next_show_at) + "," + std::to_string(s.impressions) + "," +
                    to_string(s.last_action) + "," + std::to_string(s.updated_at);
  if (s.order != 0) out += "," + std::to_string(s.order);
  return out;
}

std::optional<UserState> decode_state(std::string_view text) {
  std::string_view parts[5];
  int n = 0;
  for (;;) {
    if (n == 5) return std::nullopt;
    auto comma = text.find(',');
    parts[n++] = text.substr(0, comma);
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
  }
  if (n < 4) return std::nullopt;
  UserState st;
  if (n == 5 && (!parse_count(parts[4], &st.order) || st.order == 0)) return std::nullopt;
  auto action = parse_last_action(parts[2]);
  if (!parse_show_at(parts[0], &st.next_show_at) || !parse_count(parts[1], &st.impressions) ||
      !action || !parse_count(parts[3], &st.updated_at))
    return std::nullopt;
  st.last_action = *action;
  return st;
}

}  // namespace popup
