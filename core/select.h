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

// The popups that are active now and target the visit, in selection order,
// whatever the user's state: select_popup's answer is the first of them whose
// state_allows. GET /api/popup hands this list to Redis, which applies the
// state rule and records the impression in one atomic step (fcgi/store.h).
std::vector<const Popup*> candidates(const ConfigSet& cfg, const Visit& visit, int64_t now);

// The show script's candidate argument (fcgi/store.h kShowScript): for each
// popup in list order "id,max,next;" with max = max impressions (-1 when
// unlimited, never below 0 otherwise) and next = next_show_at after an
// impression now (core/rules.h after_impression), all decimal integers.
std::string pack_candidates(const std::vector<const Popup*>& list, int64_t now);

// Sorts popups into selection order: priority descending, then id ascending.
void sort_for_selection(std::vector<Popup>& popups);

// The popup with this id, or nullptr.
const Popup* find_popup(const ConfigSet& cfg, int64_t id);

}  // namespace popup
