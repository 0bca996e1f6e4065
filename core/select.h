// Choosing the one popup to show.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/popup.h"

namespace popup {

// The eligible popup with the highest priority (ties: lowest id), or nullptr.
// Eligible = is_active, targets the visit, and state_allows for the user's
// state. Works whatever the order of cfg.popups. The pointer is into cfg.
const Popup* select_popup(const ConfigSet& cfg, const Visit& visit,
                          const UserStates& states, int64_t now);

// Sorts popups into selection order: priority descending, then id ascending.
void sort_for_selection(std::vector<Popup>& popups);

// The popup with this id, or nullptr.
const Popup* find_popup(const ConfigSet& cfg, int64_t id);

}  // namespace popup
