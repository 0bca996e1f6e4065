// The Redis encoding of one (uid, popup) state: a hash field per popup id,
// value "next_show_at,impressions,last_action,updated_at,order" (next_show_at
// -1 = never; order: UserState::order, the state's version, left out when it
// is 0), e.g. "1700003600,2,show,1700000000,1700000000123456". The writes'
// scripts (lib/store.h) read the fifth field to keep the newer state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/popup.h"

namespace popup {

std::string encode_state(const UserState& s);

// nullopt on anything that is not four or five well-formed fields (four:
// order 0).
std::optional<UserState> decode_state(std::string_view text);

}  // namespace popup
