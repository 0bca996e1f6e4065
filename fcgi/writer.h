// The queue writer: drains <p>:events into MySQL in batches.
//
// Reliable-queue pattern: items are moved atomically (BLMOVE, then a Lua
// loop of LMOVE) into this writer's own processing list and deleted from it
// only after the MySQL transaction that applies them has committed. A crash
// at any point leaves them either in the queue or in the processing list;
// on start the processing list is applied first. Applying is idempotent
// (Mysql::apply_events), so the one window that repeats work, a crash
// between COMMIT and DEL, duplicates nothing.
#pragma once

#include <csignal>

#include "core/settings.h"

namespace popup {

// Runs until *stop becomes non-zero; then finishes the batch in hand or, if
// MySQL is down, returns it to the queue. Returns the exit code.
int run_writer(const Settings& s, volatile sig_atomic_t* stop);

}  // namespace popup
