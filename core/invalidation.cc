#include "core/invalidation.h"

namespace popup {

Invalidation parse_invalidation(const std::optional<std::vector<std::string>>& keys,
                                std::string_view user_prefix) {
  Invalidation out;
  if (!keys) {
    out.all = true;
    return out;
  }
  for (const auto& k : *keys) {
    std::string_view v(k);
    if (v.size() <= user_prefix.size() || v.substr(0, user_prefix.size()) != user_prefix) continue;
    out.uids.emplace_back(v.substr(user_prefix.size()));
  }
  return out;
}

bool cache_covers(const UserStates& cached, const UserStates& stored) {
  for (const auto& [id, st] : stored) {
    auto it = cached.find(id);
    if (it == cached.end()) return false;
    const UserState& mine = it->second;
    if (mine.order > st.order && st.order != 0) continue;
    if (!(mine == st)) return false;
  }
  return true;
}

}  // namespace popup
