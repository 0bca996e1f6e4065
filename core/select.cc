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

std::vector<const Popup*> candidates(const ConfigSet& cfg, const Visit& visit, int64_t now) {
  std::vector<const Popup*> out;
  for (const auto& p : cfg.popups)
    if (is_active(p, now) && targets(p, visit)) out.push_back(&p);
  std::sort(out.begin(), out.end(), [](const Popup* a, const Popup* b) { return before(*a, *b); });
  return out;
}

std::string pack_candidates(const std::vector<const Popup*>& list, int64_t now) {
  std::string out;
  out.reserve(list.size() * 32);
  for (const Popup* p : list) {
    out += std::to_string(p->id);
    out += ',';
    out += p->max_impressions ? std::to_string(std::max<int64_t>(0, *p->max_impressions)) : "-1";
    out += ',';
    out += std::to_string(after_impression(*p, nullptr, now).next_show_at);
    out += ';';
  }
  return out;
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
