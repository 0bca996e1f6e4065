// States that went straight to MySQL while Redis failed. Redis reloads a
// user from MySQL only when the user's hash is missing, so a hash that
// survived the outage would keep the older state until its TTL runs out
// (up to state_ttl_s): each process therefore keeps these writes and copies
// them into Redis once it answers again (lib/store.h kRepairScript).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/popup.h"

namespace popup {

struct StateWrite {
  std::string uid;
  int64_t popup_id = 0;
  UserState state;
};

// The last write per (uid, popup id), in the order of those last writes:
// within one process a later direct write is the newer one even in the same
// second, which updated_at alone cannot tell.
std::vector<StateWrite> latest_writes(const std::vector<StateWrite>& writes);

}  // namespace popup
