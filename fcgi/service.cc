#include "fcgi/service.h"

#include <chrono>

#include "core/answer.h"
#include "core/rules.h"
#include "core/select.h"
#include "core/state_codec.h"
#include "fcgi/log.h"
#include "fcgi/status.h"

namespace popup {
namespace {

Address redis_address(const Settings& s) {
  auto a = parse_address(s.redis);
  return a ? *a : Address{};
}

const UserState* find_state(const UserStates& states, int64_t id) {
  auto it = states.find(id);
  return it == states.end() ? nullptr : &it->second;
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// How a resend by nginx can follow the first try: its FastCGI connect and
// read timeouts (nginx/nginx.conf.in) are seconds.
constexpr int64_t kNginxRetryWindowS = 300;

// The shared GET's optimistic transaction is tried this often before the
// request falls back to the plain path.
constexpr int kSharedAttempts = 4;

// How long a process that writes a user it does not own waits for the
// owner's queued impressions of that user to be stored (a few flushes).
constexpr int kWaitForOwnerMs = 50;

}  // namespace

Response error_response(const char* code, const std::string& message) {
  Error e{code, message};
  return Response{status_for(code), error_answer(e)};
}

Service::Service(const WorkerContext& c)
    : s_(c.s),
      c_(c),
      keys_{c.s.key_prefix},
      redis_(redis_address(c.s), c.s.redis_timeout_ms),
      mysql_(c.s),
      config_(c.s, c.cache, c.slot, redis_, mysql_) {
  redis_.set_breaker(c.breaker);
}

bool Service::read_hash(const std::string& uid, bool watch, RedisReply* hash,
                        std::shared_ptr<const ConfigSet>* cfg) {
  // The version check lives in the refresher thread; a request reads the
  // version itself only while its process has no configuration at all.
  *cfg = c_.cache.get();
  bool check = !*cfg;
  std::vector<RedisCommand> cmds;
  // A WATCH left by a shared GET that showed nothing ends here.
  if (watch) cmds = {{"UNWATCH"}, {"WATCH", keys_.user(uid)}};
  cmds.push_back({"HGETALL", keys_.user(uid)});
  if (check) cmds.push_back({"GET", keys_.config_version()});
  std::vector<RedisReply> replies;
  std::string err;
  // A read is safe to repeat, and one failed read (a timeout while Redis
  // stalls on its disk, a connection dropped after an earlier timeout) must
  // not send the request to MySQL, whose copy lags by the writer's backlog.
  bool ok = redis_.pipeline(cmds, &replies, &err);
  if (!ok && !redis_.last_skipped()) {
    count_redis_failure(c_.slot, redis_);
    log_warn("redis: %s; reading again", err.c_str());
    ok = redis_.pipeline(cmds, &replies, &err);
  }
  if (!ok) {
    if (count_redis_failure(c_.slot, redis_)) log_warn("redis: %s", err.c_str());
    return false;
  }
  size_t at = watch ? 2 : 0;
  *hash = std::move(replies[at]);
  if (check) *cfg = config_.after_version(replies[at + 1]);
  if (*cfg) bump(c_.slot, Counter::config_hits);
  return true;
}

Service::Read Service::read_user(const std::string& uid, bool cache_in_redis) {
  Read r;
  RedisReply hash;
  UserStates states;
  r.from_redis = read_hash(uid, false, &hash, &r.cfg);
  bool complete = r.from_redis && decode_user_hash(hash, &states);
  if (r.from_redis) bump(c_.slot, complete ? Counter::state_hits : Counter::state_misses);
  if (!r.cfg && !r.from_redis) r.cfg = config_.from_mysql_only();
  if (!complete && !load_state_from_mysql(uid, &states, r.from_redis && cache_in_redis)) {
    // MySQL is down and Redis has no complete copy of this user: showing
    // something could break a cooldown we cannot see. With Redis up, what
    // it holds is the best copy there is.
    if (!r.from_redis) return r;
  }
  r.states = std::move(states);
  return r;
}

bool Service::load_state_from_mysql(const std::string& uid, UserStates* states,
                                    bool cache_in_redis) {
  UserStates durable;
  std::string err;
  if (!mysql_.load_user_states(uid, &durable, &err)) {
    bump(c_.slot, Counter::mysql_errors);
    log_warn("%s", err.c_str());
    return false;
  }
  // Fields already in Redis are newer than MySQL's copy (the writer lags).
  for (auto& [id, st] : durable) states->emplace(id, st);
  if (!cache_in_redis) return true;
  std::string key = keys_.user(uid);
  std::vector<RedisCommand> cmds;
  for (auto& [id, st] : durable)
    cmds.push_back({"HSETNX", key, std::to_string(id), encode_state(st)});
  cmds.push_back({"HSET", key, kLoadedField, "1"});
  cmds.push_back({"EXPIRE", key, std::to_string(s_.state_ttl_s)});
  // The copy in Redis is a cache: when it cannot be written, this request
  // still has MySQL's answer and the next one reads MySQL again.
  std::vector<RedisReply> replies;
  if (!redis_.pipeline(cmds, &replies, &err)) {
    count_redis_failure(c_.slot, redis_);
    return true;
  }
  for (const auto& r : replies)
    if (r.is_error()) {
      log_warn("redis: caching %s's state: %s", uid.c_str(), r.str.c_str());
      break;
    }
  return true;
}

Response Service::popup(const Visit& v, int64_t now, bool owner) {
  // Counts this request's own Redis round trips whatever path it leaves by
  // (the write-behind's are counted apart: flush_round_trips).
  struct RoundTrips {
    WorkerSlot* slot;
    const Redis& redis;
    uint64_t start = redis.round_trips();
    ~RoundTrips() {
      bump(slot, Counter::popup_requests);
      bump(slot, Counter::redis_round_trips, redis.round_trips() - start);
    }
  } counted{c_.slot, redis_};
  auto cfg = c_.cache.get();
  if (owner && c_.users && c_.flusher && s_.state_cache_stale_s > 0 && cfg)
    return popup_owned(v, now, *cfg);
  return popup_shared(v, now);
}

Response Service::popup_owned(const Visit& v, int64_t now, const ConfigSet& cfg) {
  bump(c_.slot, Counter::config_hits);
  auto h = c_.users->lock(v.uid);
  int64_t now_ms = steady_ms();
  uint64_t gen = c_.generations ? c_.generations->get(v.uid) : 0;
  CachedUser* u = h.find(now_ms, gen);
  UserStates uncached;
  if (u) {
    bump(c_.slot, Counter::memory_hits);
  } else {
    bump(c_.slot, Counter::memory_misses);
    // The user may have had another owner a moment ago (a reload, a request
    // sent to this socket directly), or this process's own impressions of
    // an evicted entry may still be on their way: Redis is read once they
    // are stored.
    if (c_.generations) c_.generations->wait_stored(v.uid, kWaitForOwnerMs);
    Read r = read_user(v.uid, true);
    if (!r.states) return error_response("unavailable", "neither Redis nor MySQL answers");
    // Only a copy Redis vouched for is kept: MySQL's alone lags the queue.
    if (r.from_redis)
      u = &h.fill(std::move(*r.states), now_ms, gen);
    else
      uncached = std::move(*r.states);
  }
  UserStates& states = u ? u->states : uncached;
  const Popup* p = select_popup(cfg, v, states, now);
  if (!p) return Response{200, popup_answer(nullptr)};
  UserState next = after_impression(*p, find_state(states, p->id), now);
  states[p->id] = next;
  if (u) h.changed();
  if (c_.generations) c_.generations->pending_add(c_.owner_slot, v.uid);
  c_.flusher->queue(Pending{stamper_.make(v.uid, p->id, LastAction::show, next, now), 0});
  return Response{200, popup_answer(p)};
}

std::optional<Response> Service::try_shared(const Visit& v, int64_t now, bool* failed) {
  RedisReply hash;
  std::shared_ptr<const ConfigSet> cfg;
  if (!read_hash(v.uid, true, &hash, &cfg) || !cfg) return *failed = true, std::nullopt;
  UserStates states;
  if (!decode_user_hash(hash, &states)) {
    // Copying MySQL's state in changes the watched hash: try again after.
    bump(c_.slot, Counter::state_misses);
    if (!load_state_from_mysql(v.uid, &states, true)) *failed = true;
    return std::nullopt;
  }
  bump(c_.slot, Counter::state_hits);
  const Popup* p = select_popup(*cfg, v, states, now);
  if (!p) return Response{200, popup_answer(nullptr)};
  UserState next = after_impression(*p, find_state(states, p->id), now);
  Event ev = stamper_.make(v.uid, p->id, LastAction::show, next, now);
  std::string key = keys_.user(v.uid);
  std::vector<RedisReply> replies;
  std::string err;
  if (!redis_.pipeline({{"MULTI"},
                        {"HSET", key, std::to_string(p->id), encode_state(next)},
                        {"EXPIRE", key, std::to_string(s_.state_ttl_s)},
                        {"LPUSH", keys_.events(), encode_event(ev)},
                        {"EXEC"}},
                       &replies, &err)) {
    if (count_redis_failure(c_.slot, redis_)) log_warn("redis: %s", err.c_str());
    return *failed = true, std::nullopt;
  }
  // A nil EXEC: another visit of this user wrote first.
  if (replies.back().type != RedisReply::kArray) return std::nullopt;
  bump(c_.slot, Counter::events_queued);
  if (c_.generations) c_.generations->bump(v.uid);
  return Response{200, popup_answer(p)};
}

Response Service::popup_shared(const Visit& v, int64_t now) {
  bump(c_.slot, Counter::shared_gets);
  if (c_.generations) c_.generations->wait_stored(v.uid, kWaitForOwnerMs);
  bool failed = false;
  for (int i = 0; i < kSharedAttempts && !failed; ++i)
    if (auto r = try_shared(v, now, &failed)) return *r;
  return popup_fallback(v, now);
}

Response Service::popup_fallback(const Visit& v, int64_t now) {
  Read r = read_user(v.uid, true);
  if (!r.cfg) return error_response("unavailable", "popup configuration is not available");
  if (!r.states) return error_response("unavailable", "neither Redis nor MySQL answers");
  const Popup* p = select_popup(*r.cfg, v, *r.states, now);
  if (!p) return Response{200, popup_answer(nullptr)};
  UserState next = after_impression(*p, find_state(*r.states, p->id), now);
  Pending ev{stamper_.make(v.uid, p->id, LastAction::show, next, now), 0};
  bool ok = c_.flusher ? c_.flusher->record(ev) != Recorded::failed
                       : Recorder(s_, c_.slot, c_.breaker, c_.repairs).record({ev})[0] !=
                             Recorded::failed;
  if (!ok) return error_response("unavailable", "the impression cannot be recorded; retry later");
  if (c_.generations) c_.generations->bump(v.uid);
  return Response{200, popup_answer(p)};
}

Response Service::peek(const Visit& v, int64_t now, bool owner) {
  if (owner && c_.users && s_.state_cache_stale_s > 0) {
    auto h = c_.users->lock(v.uid);
    auto cfg = c_.cache.get();
    CachedUser* u = h.find(steady_ms(), c_.generations ? c_.generations->get(v.uid) : 0);
    if (u && cfg) return Response{200, popup_answer(select_popup(*cfg, v, u->states, now))};
  }
  Read r = read_user(v.uid, false);
  if (!r.cfg) return error_response("unavailable", "popup configuration is not available");
  if (!r.states) return error_response("unavailable", "neither Redis nor MySQL answers");
  return Response{200, popup_answer(select_popup(*r.cfg, v, *r.states, now))};
}

Response Service::record_action(const ActionRequest& a, const Popup& p, const UserStates& states,
                                const std::string& request_id, int64_t now, Recorded* how) {
  UserState next = after_action(p, find_state(states, p.id), a.action, now);
  LastAction kind = a.action == Action::click ? LastAction::click : LastAction::ignore;
  Pending ev{stamper_.make(a.uid, p.id, kind, next, now), 0};
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
  *how = c_.flusher ? c_.flusher->record(ev)
                    : Recorder(s_, c_.slot, c_.breaker, c_.repairs).record({ev})[0];
  if (*how == Recorded::failed)
    return error_response("unavailable", "the action cannot be recorded; retry later");
  return Response{202, ok_answer()};
}

Response Service::action(const ActionRequest& a, const std::string& request_id, int64_t now,
                         bool owner) {
  auto cfg = c_.cache.get();
  bool use_memory = owner && c_.users && c_.flusher && s_.state_cache_stale_s > 0 && cfg;
  if (!use_memory) {
    if (c_.generations) c_.generations->wait_stored(a.uid, kWaitForOwnerMs);
    Read r = read_user(a.uid, true);
    if (!r.cfg) return error_response("unavailable", "popup configuration is not available");
    // The set holds every popup in MySQL, disabled and expired ones too.
    const Popup* p = find_popup(*r.cfg, a.popup_id);
    if (!p)
      return error_response("not_found", "popup " + std::to_string(a.popup_id) + " does not exist");
    // Without any copy of the state the impression count may be low; the
    // action's cooldown does not depend on it, so the action is recorded.
    Recorded how;
    Response resp = record_action(a, *p, r.states ? *r.states : UserStates{}, request_id, now, &how);
    if (how != Recorded::failed && c_.generations) c_.generations->bump(a.uid);
    return resp;
  }
  const Popup* p = find_popup(*cfg, a.popup_id);
  if (!p) return error_response("not_found", "popup " + std::to_string(a.popup_id) + " does not exist");
  auto h = c_.users->lock(a.uid);
  int64_t now_ms = steady_ms();
  uint64_t gen = c_.generations ? c_.generations->get(a.uid) : 0;
  CachedUser* u = h.find(now_ms, gen);
  UserStates uncached;
  if (!u) {
    if (c_.generations) c_.generations->wait_stored(a.uid, kWaitForOwnerMs);
    Read r = read_user(a.uid, true);
    if (r.states && r.from_redis) u = &h.fill(std::move(*r.states), now_ms, gen);
    else if (r.states) uncached = std::move(*r.states);
  }
  UserStates& states = u ? u->states : uncached;
  Recorded how;
  Response resp = record_action(a, *p, states, request_id, now, &how);
  if (how == Recorded::yes && u) {
    states[p->id] = after_action(*p, find_state(states, p->id), a.action, now);
    h.changed();
  } else if (how == Recorded::before) {
    h.drop();  // the first try's state is in Redis: read it next time
  }
  return resp;
}

Response Service::healthz() { return health_page(s_, keys_, redis_, mysql_, c_.cache, config_); }

Response Service::metrics() { return metrics_page(s_, keys_, redis_, c_.metrics); }

void Service::repair_redis() {
  if (!c_.repairs) return;
  std::vector<StateWrite> todo = latest_writes(c_.repairs->take());
  constexpr size_t kChunk = 500;
  for (size_t start = 0; start < todo.size(); start += kChunk) {
    size_t end = std::min(todo.size(), start + kChunk);
    std::vector<RedisCommand> cmds;
    for (size_t i = start; i < end; ++i)
      cmds.push_back({"EVAL", kRepairScript, "1", keys_.user(todo[i].uid),
                      std::to_string(todo[i].popup_id), encode_state(todo[i].state),
                      std::to_string(todo[i].state.updated_at)});
    std::vector<RedisReply> replies;
    std::string err;
    if (!redis_.pipeline(cmds, &replies, &err)) {
      count_redis_failure(c_.slot, redis_);
      c_.repairs->give_back({std::make_move_iterator(todo.begin() + start),
                             std::make_move_iterator(todo.end())});
      return;
    }
    uint64_t copied = 0;
    for (const auto& r : replies) {
      if (r.is_error()) log_warn("redis repair: %s", r.str.c_str());
      copied += r.type == RedisReply::kInteger && r.integer == 1;
    }
    bump(c_.slot, Counter::redis_repairs, copied);
  }
}

}  // namespace popup
