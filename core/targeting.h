// Who a popup is for: activity window, platform, version range, language and
// the rollout bucket. Pure functions of (popup, visit, now).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/popup.h"

namespace popup {

// CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320, init and final xor
// 0xFFFFFFFF): the same value as zlib's crc32(0, data, len).
uint32_t crc32_ieee(std::string_view data);

// The user's rollout bucket for a popup: crc32_ieee("<uid>:<popup_id>") % 100.
// Stable across processes, restarts, machines and languages.
int rollout_bucket(std::string_view uid, int64_t popup_id);

// True when the popup is enabled and starts_at <= now < ends_at (either bound
// may be absent).
bool is_active(const Popup& p, int64_t now);

// True when platform, version range, language and rollout all admit the visit.
// A visit without a version matches only popups with no version bounds; a
// visit without a lang matches only popups with an empty language set.
bool targets(const Popup& p, const Visit& v);

}  // namespace popup
