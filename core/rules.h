// Re-display rules: whether a user's state allows a popup now, and the state
// an impression or an action leaves behind (SPEC "GET /api/popup" and
// "POST /api/popup/action").
#pragma once

#include <cstdint>

#include "core/popup.h"

namespace popup {

// True when the user may see the popup now: no state, or now >= next_show_at,
// next_show_at is not kNever and impressions < max_impressions (when set).
bool state_allows(const Popup& p, const UserState* st, int64_t now);

// The state after showing the popup: impressions + 1,
// next_show_at = now + show_cooldown_s, last_action = show, updated_at = now.
UserState after_impression(const Popup& p, const UserState* st, int64_t now);

// The state after a click (next_show_at = now + click_cooldown_s, or kNever
// when that is unset) or an ignore (now + ignore_cooldown_s). Impressions are
// kept; last_action and updated_at are set.
UserState after_action(const Popup& p, const UserState* st, Action a, int64_t now);

}  // namespace popup
