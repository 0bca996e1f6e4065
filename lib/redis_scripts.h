// Every Lua script the programs send to Redis, in one place, each with its
// contract: the keys and arguments it takes, what it replies and what it
// guarantees. No rule logic lives here (core/ decides); a script exists
// only where several commands must happen atomically or in one round trip.
// The key names come from Keys (lib/store.h); a script never spells one.
//
// Users: the write-behind and the shared path (lib/store.cc's
// StatesAndEvents, fcgi/event_queue.cc), the repair copy
// (fcgi/service.cc), /api/healthz and /api/metrics (lib/store.cc), the
// configuration loader's lock (fcgi/config_source.cc) and the queue writer
// (writer/adapters.cc).
#pragma once

#include <string>

namespace popup {

// ---- A user's state ------------------------------------------------------
//
// Every script that writes a user's state keeps the newer one: a state
// replaces the stored one only when its order (UserState::order, the fifth
// field of core/state_codec's text) is larger, so a late write of an older
// decision (an owner's impression flushed after another process stored an
// action decided later) changes nothing but the impression count, which
// only grows: the state kept carries the larger count of the two. States
// of unknown order (0) are written as they come.

// Stores each state unless its field holds a newer one, and sets each
// hash's TTL.
//   KEYS: the user's hash of each state
//   ARGV: hash TTL s, then per state: popup id, core/state_codec text
// Reply: how many states were stored.
extern const std::string kStoreStatesScript;

// Copies one state written straight to MySQL into Redis (core/repair.h):
// only into a user hash that exists (a missing one is loaded from MySQL on
// the next read anyway), and only over an older state, or none, or one that
// does not decode. Older: a smaller order; between states of which one has
// no order, an older updated_at (a state of the same second stays: it may
// be newer, and a repair must never take a user back).
//   KEYS: the user's hash   ARGV: popup id, core/state_codec text, updated_at
// Reply: 1 copied, 0 left alone.
extern const std::string kRepairScript;

// Stores an action that carries an idempotency key, once: when the marker
// key is new (SET NX EX), stores the user's state (unless a newer one is
// stored), refreshes the hash's TTL and queues the event, all atomically;
// when the marker exists, changes nothing. A retry that nginx or the client
// sends after the first try was stored (its answer lost) therefore changes
// neither state nor queue.
//   KEYS: the marker, the user's hash, the queue
//   ARGV: marker TTL s, popup id, core/state_codec text, hash TTL s, event
// Reply: 1 stored, 0 stored before.
extern const std::string kStoreOnceScript;

// ---- The queue -----------------------------------------------------------

// What /api/healthz and /api/metrics need to know about the queue, in one
// round trip: the queue's depth, the events that wait longest (the item at
// the queue's consumer end and at the same end of each writer's processing
// list) and which writers have a live heartbeat (a fence, kClaimScript, is
// none). The writer keys are built
// in the script from the ids in <p>:writers (one Redis instance, no
// cluster: the keys need not be declared), from prefixes passed as ARGV so
// that Keys stays the one place that spells them.
//   KEYS: the queue, the writers set
//   ARGV: Keys::writer("") , ":alive" suffix, Keys::processing("")
// Reply {depth, oldest queued item or nil, {id, alive 0/1, oldest item in
// its processing list or nil, ...}}. Reads only.
extern const char* const kQueueHealthScript;

// The writer's take: moves the oldest ARGV[1] items of the queue, or the
// whole queue when it holds at most ARGV[2] (and the processing list at
// most 64), into the processing list, atomically and in one round trip.
// The processing list ends up as n LMOVEs RIGHT LEFT would leave it (the
// oldest moved at its right end, behind what it held). Taking the whole
// queue is a RENAME (the few items already in hand go back to the queue's
// consumer end first): O(1) however long it is. Copying is O(n) in Lua:
// every item passed through it costs Redis microseconds (interned, copied
// twice); the copy was 1.7 µs of Redis' time per warm GET in
// bench/bench.py's per-command table when a busy queue held more than one
// batch. ARGV[2] bounds what one writer takes, so that several writers
// (different writer_ids) still share a long backlog.
//   KEYS: the queue, the writer's processing list
//   ARGV: how many to take, the most taken whole
// Reply: how many items it moved (0: the queue was empty).
extern const char* const kMoveScript;

// Puts a processing list back on the consumer end of the queue, its oldest
// item moved last and so taken first: order is kept. The processing list is
// then gone.
//   KEYS: the processing list, the queue
// Reply: how many items it moved.
extern const char* const kReturnScript;

// ---- Leases --------------------------------------------------------------

// The writer's heartbeat lease (writer/writer.h): takes or extends the
// alive key for the owner and registers the writer id, atomically; never
// takes a key another owner holds, except a fence that a peer left when it
// took over the id's processing list (kClaimScript), and that only for a
// starting writer (ARGV[4] "1"), which holds no batch yet; a running one
// finds its lease lost.
//   KEYS: <p>:writer:<id>:alive, <p>:writers
//   ARGV: owner, expiry ms, id, "1" when starting else "0"
// Reply: 1 when the owner holds it now; else the other owner's name (or the
// fence).
extern const char* const kHeartbeatScript;

// The writer's acknowledgement of a committed batch: drops the processing
// list's oldest ARGV[2] items only while the lease is the caller's (or has
// expired untaken: a claim always leaves a fence), so a writer whose list a
// peer took over never trims what is no longer its own, and only if they
// still are the batch (its oldest and newest item in place), so a retry
// after a lost reply never trims the next batch unapplied.
//   KEYS: <p>:writer:<id>:alive, the processing list
//   ARGV: owner, n, the batch's oldest item, its newest
// Reply: 1 trimmed; 2 not there (trimmed before): nothing trimmed; else the
// other owner's name (or the fence): nothing trimmed.
extern const char* const kAcknowledgeScript;

// A peer's recovery of a dead writer's batch: takes over the processing
// list of one registered writer (other than the caller) whose heartbeat is
// missing, atomically with a fence in its alive key: only while the
// heartbeat is still absent, so of two writers that race for one list one
// gets it all and the other nothing, and the dead writer, should it only
// have been stalled, finds its lease lost (kHeartbeatScript,
// kAcknowledgeScript). The items go behind those the caller holds, order
// kept (a RENAME when it holds none). Writer keys are built in the script,
// as in kQueueHealthScript.
//   KEYS: the writers set, the caller's processing list
//   ARGV: Keys::writer(""), ":alive" suffix, Keys::processing(""), the
//         caller's id, the fence ('!' first), the fence's expiry ms
// Reply: {id, items taken} or {} when no list was left by a dead writer.
extern const char* const kClaimScript;

// Deletes a lock or lease only while it still holds the caller's token:
// the configuration loader's lock (<p>:config:lock) and the writer's
// heartbeat. A holder whose key expired and was taken by another never
// deletes the other's.
//   KEYS: the key   ARGV: the caller's token
// Reply: 1 deleted, 0 not the caller's (or gone).
extern const char* const kDeleteIfHeldScript;

}  // namespace popup
