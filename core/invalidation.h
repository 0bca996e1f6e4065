// What Redis's invalidation feed (server-assisted client-side caching,
// CLIENT TRACKING ... BCAST, fcgi/invalidator.h) means for the owner's
// memory (core/user_cache.h). No IO here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/popup.h"

namespace popup {

struct Invalidation {
  bool all = false;               // every key may have changed (FLUSHALL, FLUSHDB)
  std::vector<std::string> uids;  // the users whose hash changed
};

// One message of the __redis__:invalidate channel. keys: its payload, the
// changed keys, or nullopt for a nil payload (a flush: everything).
// user_prefix: what precedes the uid in a user's key ("popup:u:"); keys
// without it (or with nothing after it) name no user and are left out.
Invalidation parse_invalidation(const std::optional<std::vector<std::string>>& keys,
                                std::string_view user_prefix);

// Whether a memory entry (`cached`) already holds everything the store now
// has (`stored`, complete: the hash read back after the invalidation): then
// the write Redis reported was this process's own (its write-behind's) or
// older than what the entry has, and the entry stays. Every stored state
// must be in the entry with a larger order, or be equal to the entry's
// (same order, same fields). States only the entry has are kept: they are
// this process's impressions its write-behind has not stored yet.
bool cache_covers(const UserStates& cached, const UserStates& stored);

}  // namespace popup
