#include "core/state_codec.h"

#include <charconv>

namespace popup {

std::string encode_state(const UserState& s) {
  return std::to_string(s.next_show_at) + "," + std::to_string(s.impressions) + "," +
         to_string(s.last_action) + "," + std::to_string(s.updated_at);
}

std::optional<UserState> decode_state(std::string_view text) {
  std::string_view parts[4];
  for (int i = 0; i < 4; ++i) {
    auto comma = text.find(',');
    if ((i < 3) == (comma == std::string_view::npos)) return std::nullopt;
    parts[i] = text.substr(0, comma);
    text = i < 3 ? text.substr(comma + 1) : std::string_view{};
  }
  auto num = [](std::string_view s, int64_t* out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  UserState st;
  auto action = parse_last_action(parts[2]);
  if (!num(parts[0], &st.next_show_at) || !num(parts[1], &st.impressions) || !action ||
      !num(parts[3], &st.updated_at))
    return std::nullopt;
  if (st.next_show_at < kNever || st.impressions < 0 || st.updated_at < 0) return std::nullopt;
  st.last_action = *action;
  return st;
}

}  // namespace popup
