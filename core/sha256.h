// SHA-256 (FIPS 180-4), for ids that must be the same in every process and
// on every machine and that nobody can steer into another user's id: an
// action's event id is derived from (uid, idempotency key) with it
// (core/event.h action_event_id).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace popup {

// The 32-byte digest of `data`.
std::array<uint8_t, 32> sha256(std::string_view data);

}  // namespace popup
