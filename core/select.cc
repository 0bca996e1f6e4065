#include "core/select.h"

#include <algorithm>

#include "core/rules.h"
#include "core/targeting.h"

namespace popup {
namespace {

bool before(const Popup& a, const Popup& b) {
  return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
}

}  // namespace

const Popup* select_popup(const ConfigSet& cfg, const Visit& visit, const UserStates& states,
                          int64_t now) {
  const Popup* best = nullptr;
  for (const auto& p : cfg.popups) {
    if (best && !before(p, *best)) continue;
    if (!is_active(p, now) || !targets(p, visit)) continue;
    auto it = states.find(p.id);
    if (!state_allows(p, it == states.end() ? nullptr : &it->second, now)) continue;
    best = &p;
  }
  return best;
}

void sort_for_selection(std::vector<Popup>& popups) {
  std::sort(popups.begin(), popups.end(), before);
}

const Popup* find_popup(const ConfigSet& cfg, int64_t id) {
  for (const auto& p : cfg.popups)
    if (p.id == id) return &p;
  return nullptr;
}

}  // namespace popup
