// The queue writer: drains <p>:events into MySQL in batches. Its logic is
// writer/drain.h, over the ports of writer/ports.h (Redis's lists, MySQL's
// transaction, the clock; the real ones in writer/adapters.h, fakes in
// tests/unit/writer_test.cc); its Redis scripts are in lib/redis_scripts.h.
//
// Reliable-queue pattern: items are moved atomically (BLMOVE, then one Lua
// script: RENAME of the whole queue when it fits in 16 batches, else a
// copy of the oldest batch) into this writer's own processing list and
// applied a batch at a time; a batch leaves the processing list only after
// the MySQL transaction that applies it has committed. A crash at any point
// leaves the events either in the queue or in the processing list; on start
// the processing list is applied first. Applying is idempotent
// (Mysql::apply_events), so the one window that repeats work, a crash
// between COMMIT and LTRIM, duplicates nothing. The LTRIM names the batch
// it drops (its oldest and newest item), so retrying it after a lost reply
// (a timeout, a Redis failover that promoted a replica which had already
// received it) never drops the next batch unapplied.
//
// Heartbeat: <p>:writer:<id>:alive holds the owner (its supervisor,
// "<host>:<pid>") and expires writer_heartbeat_ttl_ms after the last
// refresh; the writer refreshes it at least once a second (after each
// BLMOVE of up to 1 s, after each batch, and while it waits out MySQL),
// deletes it on a clean stop, and /api/healthz counts the live ones. It is
// also the lease on the processing list, which two writers with one id must
// never share: one writer's DEL would drop the other's batch in hand. That
// happens when a supervisor is killed and started again while its orphaned
// child still finishes its batch (it got SIGTERM from PR_SET_PDEATHSIG). So
// a writer touches the queue only once the key is missing or already holds
// its own owner (a predecessor its supervisor has reaped), and stops when
// it finds another owner in it. A writer that cannot refresh for longer
// than the expiry (Redis or MySQL stalled in one call) may lose the lease.
//
// Several writers (one per host, each its own writer_id) drain the one
// queue: each BLMOVE or move script hands an item to exactly one of them.
// A writer whose host dies leaves its processing list behind, and its id
// may never start again: every writer_recover_period_ms a live writer with
// an empty processing list looks through <p>:writers for an id whose
// heartbeat has expired and whose processing list holds events, and takes
// that list over in one script (kClaimScript): only while the heartbeat is
// still absent, it moves the list behind its own (RENAME when it holds
// none) and puts a fence ("!taken over by <id> (<owner>)", an hour) into
// the dead id's heartbeat key. Of two writers racing for one list one gets
// all of it and the other nothing; the taker applies it as its own batch
// (idempotently, so its own crash in between only replays), logs it and
// counts it (recovered_batches_total, popup_writer_recovered_batches_total).
// The fence stops a writer that was only stalled: its next heartbeat finds
// the lease lost, it checks the lease before each apply, and its
// acknowledgement trims only while the lease is its own (kAcknowledgeScript),
// so it neither applies nor acknowledges what it no longer owns; it exits
// 3, and its supervisor's next child, like a writer of that id started
// anew, takes the fence over at once (a starting writer holds no batch).
// An apply it was already inside when the list was taken is a replay:
// events by id (INSERT IGNORE), states by their order (the upsert keeps the
// newer (ev_order, event_id)), so MySQL ends the same whichever writer
// commits last. A writer stalled longer than the fence's hour retakes its
// lease and finds its processing list empty.
#pragma once

#include <csignal>
#include <string>

#include "core/settings.h"

namespace popup {

// Waits for the heartbeat lease (see above), then runs until *stop becomes
// non-zero; then finishes the batch in hand or, if MySQL is down, returns it
// to the queue, and deletes its heartbeat. Returns the exit code: 0 after a
// stop, 1 for an invalid Redis address, 3 when another owner took the lease.
int run_writer(const Settings& s, volatile sig_atomic_t* stop, const std::string& owner);

}  // namespace popup
