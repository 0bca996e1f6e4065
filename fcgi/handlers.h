// What GET /api/popup, HEAD and POST /api/popup/action do, over the ports
// of fcgi/ports.h (no IO of its own). Two paths (docs/design.md "User affinity"):
// - the owner's: the request was routed here by its uid, so this process
//   owns the user. It decides from memory (core/user_cache.h; one Redis
//   read on a miss) and hands the impression to the write-behind
//   (fcgi/flusher.h): no Redis round trip when warm.
// - the shared one (spawn-fcgi, the shared socket, an escaped uid): it
//   decides in Redis with native commands (WATCH + HGETALL, then
//   MULTI/EXEC), so concurrent visits of one user in different processes
//   still show at most one popup, and tells the host's owners.
// Both fall back the same way: Redis, else MySQL (SPEC).
#pragma once

#include <optional>
#include <string>

#include "core/popup.h"
#include "core/settings.h"
#include "core/user_cache.h"
#include "core/config_cache.h"
#include "fcgi/flusher.h"
#include "fcgi/metrics.h"
#include "fcgi/ports.h"
#include "fcgi/response.h"
#include "fcgi/stamper.h"

namespace popup {

struct Ports {
  UserStore& redis;
  DurableStore& mysql;
  Neighbours& neighbours;
  Clock& clock;
};

class Handlers {
 public:
  // users: nullptr, or state_cache_stale_s = 0: no owner path. slot: the
  // process's metrics (nullptr: none).
  Handlers(const Settings& s, ConfigCache& cache, Flusher& flusher, UserCache* users,
           WorkerSlot* slot, Ports ports);

  // GET /api/popup. owner: the request was routed here by its uid.
  Response popup(const Visit& v, int64_t now, bool owner);
  // HEAD /api/popup: the answer GET would give, recording nothing.
  Response peek(const Visit& v, int64_t now, bool owner);
  // POST /api/popup/action: the new state is visible at once (in this
  // process's memory when it owns the user, in Redis for every process);
  // 202 only once the event is stored (Redis) or written (MySQL).
  // request_id: nginx's $request_id ("" when absent), the idempotency key
  // of an action sent without one.
  Response action(const ActionRequest& a, const std::string& request_id, int64_t now, bool owner);

 private:
  // The user's states: Redis, with MySQL's copy merged in (and cached in
  // Redis when cache_in_redis) when Redis lacks it. states nullopt: neither
  // answered, or (unknown) Redis answered with an incomplete copy and MySQL
  // did not. from_redis: Redis vouched for them, so memory may keep them.
  struct Read {
    std::shared_ptr<const ConfigSet> cfg;
    std::optional<UserStates> states;
    bool from_redis = false;
    bool unknown = false;
  };
  Read read_user(const std::string& uid, bool cache_in_redis);
  // The owner's entry for the user, read on a miss; nullptr when Redis did
  // not answer (then *uncached holds what MySQL gave, if anything) or when
  // the state cannot be known now (*unknown: another owner's impressions
  // were not stored in time, or Redis's copy is incomplete and MySQL fails).
  CachedUser* owned(UserCache::Handle& h, const std::string& uid,
                    std::optional<UserStates>* uncached, bool* unknown);
  Response popup_owned(const Visit& v, int64_t now, const ConfigSet& cfg);
  Response popup_shared(const Visit& v, int64_t now);
  // One try of the shared GET's transaction; nullopt: try again (another
  // visit wrote first, or MySQL's copy was just cached) or, with *failed,
  // give up on Redis.
  std::optional<Response> try_shared(const Visit& v, int64_t now, bool* failed);
  // Decides from a plain read and stores through the write-behind,
  // waiting: the last resort when Redis cannot decide.
  Response popup_fallback(const Visit& v, int64_t now);
  // Stores an action's event; *next is the state it leaves.
  Stored store_action(const ActionRequest& a, const Popup& p, const UserStates& states,
                         const std::string& request_id, int64_t now, UserState* next);
  // Whether this request decides from memory: routed here, memory on, and a
  // configuration in hand (cfg, read once per request).
  bool owner_path(bool owner, const ConfigSet* cfg) const;

  const Settings& s_;
  ConfigCache& cache_;
  Flusher& flusher_;
  UserCache* users_;
  WorkerSlot* slot_;
  Ports io_;
  EventStamper stamper_;
};

}  // namespace popup
