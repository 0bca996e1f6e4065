#include "fcgi/handlers.h"

#include <algorithm>

#include "core/answer.h"
#include "core/rules.h"
#include "core/select.h"

namespace popup {
namespace {

const UserState* find_state(const UserStates& states, int64_t id) {
  auto it = states.find(id);
  return it == states.end() ? nullptr : &it->second;
}

// How long a resend by nginx can follow the first try: its FastCGI connect
// and read timeouts (nginx/nginx.conf.in) are seconds.
constexpr int64_t kNginxRetryWindowS = 300;

// The shared GET's optimistic transaction is tried this often before the
// request falls back to the plain path.
constexpr int kSharedAttempts = 4;

Response nothing() { return Response{200, popup_answer(nullptr)}; }

// The user's state cannot be known now (docs/design.md "Unknown is not empty"): no popup,
// and no impression recorded, rather than a decision as if there were none.
Response unknown_state() { return nothing(); }

}  // namespace

Handlers::Handlers(const Settings& s, ConfigCache& cache, Flusher& flusher, UserCache* users,
                   WorkerSlot* slot, Ports ports)
    : s_(s), cache_(cache), flusher_(flusher), users_(users), slot_(slot), io_(ports) {}

bool Handlers::owner_path(bool owner, const ConfigSet* cfg) const {
  return owner && users_ && s_.state_cache_stale_s > 0 && cfg;
}

Handlers::Read Handlers::read_user(const std::string& uid, bool cache_in_redis) {
  Read r;
  HashRead h = io_.redis.read(uid, false);
  r.cfg = h.cfg;
  r.from_redis = h.ok;
  if (h.ok) bump(slot_, h.complete ? Counter::state_hits : Counter::state_misses);
  if (!r.cfg && !h.ok) r.cfg = io_.mysql.config();
  if (h.complete) {
    r.states = std::move(h.states);
    return r;
  }
  auto durable = io_.mysql.user_states(uid);
  if (!durable) {
    // MySQL is down and Redis has no complete copy of this user: the state
    // is unknown, not empty. Deciding without it could show a popup the
    // user clicked away for good, and the impression would then overwrite
    // that click in MySQL.
    r.unknown = h.ok;
    return r;
  }
  // Fields already in Redis are newer than MySQL's copy (the writer lags).
  for (auto& [id, st] : *durable) h.states.emplace(id, st);
  if (h.ok && cache_in_redis) io_.redis.fill(uid, *durable);
  r.states = std::move(h.states);
  return r;
}

CachedUser* Handlers::owned(UserCache::Handle& h, const std::string& uid,
                            std::optional<UserStates>* uncached, bool* unknown) {
  int64_t now_ms = io_.clock.steady_ms();
  uint64_t gen = io_.neighbours.generation(uid);
  if (CachedUser* u = h.find(now_ms, gen)) {
    bump(slot_, Counter::memory_hits);
    return u;
  }
  bump(slot_, Counter::memory_misses);
  // The user may have had another owner a moment ago (a reload, a request
  // sent to this socket directly), or this process's own impressions of an
  // evicted entry may still be on their way: Redis is read once they are
  // stored. Until then what Redis holds may lack them: unknown.
  if (!io_.neighbours.wait_stored(uid)) {
    *unknown = true;
    return nullptr;
  }
  Read r = read_user(uid, true);
  *unknown = r.unknown;
  // Only a copy Redis vouched for is kept: MySQL's alone lags the queue.
  if (r.states && r.from_redis) return &h.fill(std::move(*r.states), now_ms, gen);
  *uncached = std::move(r.states);
  return nullptr;
}

Response Handlers::popup(const Visit& v, int64_t now, bool owner) {
  auto cfg = cache_.get();
  if (owner_path(owner, cfg.get())) return popup_owned(v, now, *cfg);
  return popup_shared(v, now);
}

Response Handlers::popup_owned(const Visit& v, int64_t now, const ConfigSet& cfg) {
  bump(slot_, Counter::config_hits);
  auto h = users_->lock(v.uid);
  std::optional<UserStates> uncached;
  bool unknown = false;
  CachedUser* u = owned(h, v.uid, &uncached, &unknown);
  if (unknown) return unknown_state();
  if (!u && !uncached) return error_response("unavailable", "neither Redis nor MySQL answers");
  UserStates& states = u ? u->states : *uncached;
  const Popup* p = select_popup(cfg, v, states, now);
  if (!p) return nothing();
  const UserState* base = find_state(states, p->id);
  Event ev = stamper_.make(v.uid, p->id, LastAction::show, after_impression(*p, base, now), now,
                           base);
  states[p->id] = ev.state;
  if (u) {
    // Any other process that kept a copy of this user (a request nginx
    // retried on another worker's socket) reads it again.
    u->generation = io_.neighbours.changed(v.uid);
    h.changed();
  }
  io_.neighbours.queued(v.uid);
  flusher_.queue(Pending{std::move(ev), 0});
  return Response{200, popup_answer(p)};
}

std::optional<Response> Handlers::try_shared(const Visit& v, int64_t now, bool* failed) {
  HashRead h = io_.redis.read(v.uid, true);
  if (!h.ok || !h.cfg) return *failed = true, std::nullopt;
  bump(slot_, Counter::config_hits);
  if (!h.complete) {
    // Copying MySQL's state in changes the watched hash: try again after.
    bump(slot_, Counter::state_misses);
    auto durable = io_.mysql.user_states(v.uid);
    if (!durable) return *failed = true, std::nullopt;
    io_.redis.fill(v.uid, *durable);
    return std::nullopt;
  }
  bump(slot_, Counter::state_hits);
  const Popup* p = select_popup(*h.cfg, v, h.states, now);
  if (!p) return nothing();
  const UserState* base = find_state(h.states, p->id);
  switch (io_.redis.commit(
      stamper_.make(v.uid, p->id, LastAction::show, after_impression(*p, base, now), now, base))) {
    case UserStore::Commit::stored:
      bump(slot_, Counter::events_queued);
      io_.neighbours.changed(v.uid);
      return Response{200, popup_answer(p)};
    case UserStore::Commit::conflict:
      return std::nullopt;
    case UserStore::Commit::failed:
      break;
  }
  *failed = true;
  return std::nullopt;
}

Response Handlers::popup_shared(const Visit& v, int64_t now) {
  bump(slot_, Counter::shared_gets);
  // The owner's impressions not yet stored are not in Redis: deciding
  // without them could show the popup again.
  if (!io_.neighbours.wait_stored(v.uid)) return unknown_state();
  bool failed = false;
  for (int i = 0; i < kSharedAttempts && !failed; ++i)
    if (auto r = try_shared(v, now, &failed)) return *r;
  return popup_fallback(v, now);
}

Response Handlers::popup_fallback(const Visit& v, int64_t now) {
  Read r = read_user(v.uid, true);
  if (!r.cfg) return error_response("unavailable", "popup configuration is not available");
  if (r.unknown) return unknown_state();
  if (!r.states) return error_response("unavailable", "neither Redis nor MySQL answers");
  const Popup* p = select_popup(*r.cfg, v, *r.states, now);
  if (!p) return nothing();
  const UserState* base = find_state(*r.states, p->id);
  Pending ev{stamper_.make(v.uid, p->id, LastAction::show, after_impression(*p, base, now), now,
                           base),
             0};
  if (flusher_.store(ev) == Stored::failed)
    return error_response("unavailable", "the impression cannot be recorded; retry later");
  io_.neighbours.changed(v.uid);
  return Response{200, popup_answer(p)};
}

Response Handlers::peek(const Visit& v, int64_t now, bool owner) {
  auto cfg = cache_.get();
  if (owner_path(owner, cfg.get())) {
    auto h = users_->lock(v.uid);
    CachedUser* u = h.find(io_.clock.steady_ms(), io_.neighbours.generation(v.uid));
    if (u) return Response{200, popup_answer(select_popup(*cfg, v, u->states, now))};
  }
  Read r = read_user(v.uid, false);
  if (!r.cfg) return error_response("unavailable", "popup configuration is not available");
  if (r.unknown) return unknown_state();
  if (!r.states) return error_response("unavailable", "neither Redis nor MySQL answers");
  return Response{200, popup_answer(select_popup(*r.cfg, v, *r.states, now))};
}

Stored Handlers::store_action(const ActionRequest& a, const Popup& p, const UserStates& states,
                                 const std::string& request_id, int64_t now, UserState* next) {
  const UserState* base = find_state(states, p.id);
  LastAction kind = a.action == Action::click ? LastAction::click : LastAction::ignore;
  Pending ev{stamper_.make(a.uid, p.id, kind, after_action(p, base, a.action, now), now, base), 0};
  *next = ev.event.state;
  // A key makes the event id a function of (uid, key), so a resend is the
  // same event. Without the client's key, nginx's $request_id covers the
  // resends nginx itself makes (fastcgi_next_upstream), which come within
  // its timeouts: a few minutes of marker are enough there, and a day of
  // one per action would fill Redis.
  if (!a.key.empty()) {
    ev.event.id = action_event_id(a.uid, "client", a.key);
    ev.once_ttl_s = s_.idempotency_ttl_s;
  } else if (!request_id.empty()) {
    ev.event.id = action_event_id(a.uid, "nginx", request_id);
    ev.once_ttl_s = std::min<int64_t>(s_.idempotency_ttl_s, kNginxRetryWindowS);
  }
  return flusher_.store(ev);
}

Response Handlers::action(const ActionRequest& a, const std::string& request_id, int64_t now,
                          bool owner) {
  auto not_found = [&a] {
    return error_response("not_found", "popup " + std::to_string(a.popup_id) + " does not exist");
  };
  auto refused = [] {
    return error_response("unavailable", "the action cannot be recorded; retry later");
  };
  UserState next;
  auto cfg = cache_.get();
  if (!owner_path(owner, cfg.get())) {
    // No wait for the owner's impressions not yet stored: they are older,
    // so they cannot overwrite this action, and the stores keep the larger
    // impression count of the two (lib/store.h). A client that sends the
    // uid in the body only costs one read of Redis more than one that
    // sends ?uid=.
    Read r = read_user(a.uid, true);
    if (!r.cfg) return error_response("unavailable", "popup configuration is not available");
    // The set holds every popup in MySQL, disabled and expired ones too.
    const Popup* p = find_popup(*r.cfg, a.popup_id);
    if (!p) return not_found();
    // Without any copy of the state the impression count may be low; the
    // action's cooldown does not depend on it, so the action is recorded.
    if (store_action(a, *p, r.states ? *r.states : UserStates{}, request_id, now, &next) ==
        Stored::failed)
      return refused();
    io_.neighbours.changed(a.uid);
    return Response{202, ok_answer()};
  }
  const Popup* p = find_popup(*cfg, a.popup_id);
  if (!p) return not_found();
  auto h = users_->lock(a.uid);
  std::optional<UserStates> uncached;
  bool unknown = false;  // the action is recorded all the same (its cooldown needs no state)
  CachedUser* u = owned(h, a.uid, &uncached, &unknown);
  static const UserStates kNone;
  const UserStates& states = u ? u->states : uncached ? *uncached : kNone;
  Stored how = store_action(a, *p, states, request_id, now, &next);
  if (how == Stored::failed) return refused();
  if (how == Stored::before) {
    h.drop();  // the first try's state is in Redis: read it next time
  } else if (u) {
    u->states[p->id] = next;
    u->generation = io_.neighbours.changed(a.uid);
    h.changed();
  } else {
    io_.neighbours.changed(a.uid);
  }
  return Response{202, ok_answer()};
}

}  // namespace popup
