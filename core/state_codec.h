// The Redis encoding of one (uid, popup) state: a hash field per popup id,
// value "next_show_at,impressions,last_action,updated_at" (next_show_at -1 =
// never), e.g. "1700003600,2,show,1700000000".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/popup.h"

namespace popup {

std::string encode_state(const UserState& s);

// nullopt on anything that is not exactly four well-formed fields.
std::optional<UserState> decode_state(std::string_view text);

}  // namespace popup
