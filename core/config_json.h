// The configuration set as one JSON document, as stored in Redis:
// {"version":N,"popups":[{...every Popup field...}]} with versions as text
// ("1.10") and absent optionals as null.
#pragma once

#include <string>
#include <string_view>

#include "core/popup.h"

namespace popup {

std::string encode_config(const ConfigSet& cfg);

// Error (bad_request) on invalid JSON or a field of the wrong type. The
// popups come back sorted for selection (sort_for_selection).
Result<ConfigSet> decode_config(std::string_view text);

}  // namespace popup
