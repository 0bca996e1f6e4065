#include "fcgi/service.h"

#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "core/answer.h"
#include "core/config_json.h"
#include "core/event.h"
#include "core/health.h"
#include "core/rules.h"
#include "core/select.h"
#include "core/state_codec.h"
#include "fcgi/log.h"

namespace popup {
namespace {

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Address redis_address(const Settings& s) {
  auto a = parse_address(s.redis);
  return a ? *a : Address{};
}

const UserState* find_state(const UserStates& states, int64_t id) {
  auto it = states.find(id);
  return it == states.end() ? nullptr : &it->second;
}

}  // namespace

Response error_response(const char* code, const std::string& message) {
  Error e{code, message};
  return Response{status_for(code), error_answer(e)};
}

Service::Service(const Settings& s, ConfigCache& cache, Metrics& metrics, WorkerSlot* slot,
                 Breaker* breaker, RedisRepairs* repairs)
    : s_(s),
      keys_{s.key_prefix},
      cache_(cache),
      metrics_(metrics),
      slot_(slot),
      redis_(redis_address(s), s.redis_timeout_ms),
      repairs_(repairs),
      mysql_(s),
      rng_(std::random_device{}() ^ (static_cast<uint64_t>(getpid()) << 32) ^ wall_us()) {
  redis_.set_breaker(breaker);
}

bool Service::redis_failed() {
  bool skipped = redis_.last_skipped();
  bump(slot_, skipped ? Counter::redis_skips : Counter::redis_errors);
  return !skipped;
}

void Service::warm_up() {
  if (!cache_.get()) refresh();
}

void Service::refresh() {
  RedisReply v;
  std::string err;
  if (!redis_.command({"GET", keys_.config_version()}, &v, &err)) {
    redis_failed();
    return;
  }
  if (auto cfg = refresh_config(&v, cache_.get())) cache_.set(cfg);
}

Event Service::make_event(const std::string& uid, int64_t popup_id, LastAction kind,
                          const UserState& st, int64_t now) {
  Event e;
  e.id = format_event_id(rng_(), rng_());
  e.uid = uid;
  e.popup_id = popup_id;
  e.kind = kind;
  e.ts = now;
  // Strictly increasing within this thread even if the clock repeats a value.
  last_order_ = std::max(last_order_ + 1, wall_us());
  e.order = last_order_;
  e.state = st;
  return e;
}

std::shared_ptr<const ConfigSet> Service::refresh_config(const RedisReply* version,
                                                         std::shared_ptr<const ConfigSet> cur) {
  if (version->type != RedisReply::kString) return reload_from_mysql(cur);
  if (cur && std::to_string(cur->version) == version->str) return cur;
  RedisReply set;
  std::string err;
  if (!redis_.command({"GET", keys_.config_set()}, &set, &err)) {
    redis_failed();
    return cur;
  }
  if (set.type != RedisReply::kString) return reload_from_mysql(cur);
  auto fresh = adopt_set(set.str);
  return fresh ? fresh : cur;
}

std::shared_ptr<const ConfigSet> Service::adopt_set(const std::string& text) {
  auto decoded = decode_config(text);
  if (!decoded.ok()) {
    log_error("config: set in Redis does not decode: %s", decoded.error().message.c_str());
    return nullptr;
  }
  auto fresh = std::make_shared<const ConfigSet>(std::move(decoded.value()));
  cache_.set(fresh);
  bump(slot_, Counter::config_redis_loads);
  return fresh;
}

// Why look again under the lock: this process read "no version" before
// another process published and released the lock; loading MySQL now would
// be a second load (seen in the suite as 2 loads after one FLUSHALL).
std::shared_ptr<const ConfigSet> Service::published_meanwhile() {
  std::vector<RedisReply> replies;
  std::string err;
  if (!redis_.pipeline({{"GET", keys_.config_version()}, {"GET", keys_.config_set()}}, &replies,
                       &err) ||
      replies[0].type != RedisReply::kString || replies[1].type != RedisReply::kString)
    return nullptr;
  return adopt_set(replies[1].str);
}

// Why a lock: when Redis loses the set (flush, restart), every worker notices
// within a second; only the lock holder reads MySQL, the others keep their
// last copy, so MySQL sees one load instead of a stampede.
std::shared_ptr<const ConfigSet> Service::reload_from_mysql(std::shared_ptr<const ConfigSet> cur) {
  std::string token = std::to_string(getpid()) + ":" + std::to_string(rng_());
  RedisReply r;
  std::string err;
  if (!redis_.command({"SET", keys_.config_lock(), token, "NX", "PX",
                       std::to_string(s_.config_lock_ms)},
                      &r, &err)) {
    redis_failed();
    return cur;
  }
  if (r.type != RedisReply::kStatus) return cur ? cur : wait_for_config();
  auto meanwhile = published_meanwhile();
  ConfigSet cfg;
  bool ok = meanwhile || mysql_.load_config(&cfg, &err);
  if (ok && !meanwhile) ok = publish_config(redis_, keys_, cfg, &err);
  std::string unlock_err;
  if (!redis_.command({"EVAL",
                       "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                       "return redis.call('DEL', KEYS[1]) end return 0",
                       "1", keys_.config_lock(), token},
                      &r, &unlock_err))
    log_warn("config: cannot release %s (%s); it expires after %d ms",
             keys_.config_lock().c_str(), unlock_err.c_str(), s_.config_lock_ms);
  if (meanwhile) return meanwhile;
  if (!ok) {
    log_error("config: reload from MySQL failed: %s", err.c_str());
    bump(slot_, Counter::mysql_errors);
    return cur;
  }
  bump(slot_, Counter::config_mysql_loads);
  log_info("config: version %lld (%zu popups) loaded from MySQL into Redis",
           static_cast<long long>(cfg.version), cfg.popups.size());
  auto fresh = std::make_shared<const ConfigSet>(std::move(cfg));
  cache_.set(fresh);
  return fresh;
}

// A process with no copy at all waits for the lock holder to publish.
std::shared_ptr<const ConfigSet> Service::wait_for_config() {
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    RedisReply v;
    std::string err;
    if (!redis_.command({"GET", keys_.config_version()}, &v, &err)) return nullptr;
    if (v.type == RedisReply::kString) return refresh_config(&v, nullptr);
  }
  return nullptr;
}

bool Service::read_state(const std::string& uid, UserStates* states, bool* complete,
                         std::shared_ptr<const ConfigSet>* cfg) {
  // The version check lives in the refresher thread; a request reads the
  // version itself only while its process has no configuration at all.
  *cfg = cache_.get();
  bool check = !*cfg;
  std::vector<RedisCommand> cmds{{"HGETALL", keys_.user(uid)}};
  if (check) cmds.push_back({"GET", keys_.config_version()});
  std::vector<RedisReply> replies;
  std::string err;
  // A read is safe to repeat, and one failed read (a timeout while Redis
  // stalls on its disk, a connection dropped after an earlier timeout) must
  // not send the request to MySQL, whose copy lags by the writer's backlog.
  bool ok = redis_.pipeline(cmds, &replies, &err);
  if (!ok && !redis_.last_skipped()) {
    redis_failed();
    log_warn("redis: %s; reading again", err.c_str());
    ok = redis_.pipeline(cmds, &replies, &err);
  }
  if (!ok) {
    if (redis_failed()) log_warn("redis: %s", err.c_str());
    return false;
  }
  *complete = decode_user_hash(replies[0], states);
  bump(slot_, *complete ? Counter::state_hits : Counter::state_misses);
  if (check) *cfg = refresh_config(&replies[1], *cfg);
  if (*cfg) bump(slot_, Counter::config_hits);
  return true;
}

void Service::repair_redis() {
  if (!repairs_) return;
  std::vector<StateWrite> todo = latest_writes(repairs_->take());
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
      redis_failed();
      repairs_->give_back({std::make_move_iterator(todo.begin() + start),
                           std::make_move_iterator(todo.end())});
      return;
    }
    uint64_t copied = 0;
    for (const auto& r : replies) {
      if (r.is_error()) log_warn("redis repair: %s", r.str.c_str());
      copied += r.type == RedisReply::kInteger && r.integer == 1;
    }
    bump(slot_, Counter::redis_repairs, copied);
  }
}

bool Service::load_state_from_mysql(const std::string& uid, UserStates* states,
                                    bool cache_in_redis) {
  UserStates durable;
  std::string err;
  if (!mysql_.load_user_states(uid, &durable, &err)) {
    bump(slot_, Counter::mysql_errors);
    log_warn("%s", err.c_str());
    return false;
  }
  // Fields already in Redis are newer than MySQL's copy (the writer lags).
  for (auto& [id, st] : durable) states->emplace(id, st);
  if (!cache_in_redis) return true;
  std::string key = keys_.user(uid);
  std::vector<RedisCommand> cmds;
  for (auto& [id, st] : durable) cmds.push_back({"HSETNX", key, std::to_string(id), encode_state(st)});
  cmds.push_back({"HSET", key, kLoadedField, "1"});
  cmds.push_back({"EXPIRE", key, std::to_string(s_.state_ttl_s)});
  // The copy in Redis is a cache: when it cannot be written, this request
  // still has MySQL's answer and the next one reads MySQL again.
  std::vector<RedisReply> replies;
  if (!redis_.pipeline(cmds, &replies, &err)) {
    redis_failed();
    return true;
  }
  for (const auto& r : replies)
    if (r.is_error()) {
      log_warn("redis: caching %s's state: %s", uid.c_str(), r.str.c_str());
      break;
    }
  return true;
}

// The commands that store an event's state and queue it atomically: one
// MULTI/EXEC, or kRecordOnceScript for an action whose id comes from its
// idempotency key.
std::vector<RedisCommand> Service::record_commands(const Event& ev, int64_t once_ttl_s) const {
  std::string key = keys_.user(ev.uid), field = std::to_string(ev.popup_id);
  std::string ttl = std::to_string(s_.state_ttl_s);
  if (once_ttl_s > 0)
    return {{"EVAL", kRecordOnceScript, "3", keys_.once(ev.id), key, keys_.events(),
             std::to_string(once_ttl_s), field, encode_state(ev.state), ttl,
             encode_event(ev)}};
  return {{"MULTI"},
          {"HSET", key, field, encode_state(ev.state)},
          {"EXPIRE", key, ttl},
          {"LPUSH", keys_.events(), encode_event(ev)},
          {"EXEC"}};
}

bool Service::queue_in_redis(const Event& ev, int64_t once_ttl_s, bool past_breaker,
                             std::string* err) {
  bool once = once_ttl_s > 0;
  std::vector<RedisReply> replies;
  if (!redis_.pipeline(record_commands(ev, once_ttl_s), &replies, err, past_breaker)) return false;
  const RedisReply& last = replies.back();
  if (once ? last.type == RedisReply::kInteger : last.type == RedisReply::kArray) {
    if (!once || last.integer == 1) bump(slot_, Counter::events_queued);
    return true;
  }
  *err = "redis: " + (last.str.empty() ? std::string("transaction failed") : last.str);
  return false;
}

bool Service::record(const Event& ev, int64_t once_ttl_s) {
  std::string err;
  if (queue_in_redis(ev, once_ttl_s, false, &err)) return true;
  bool skipped = redis_.last_skipped();
  if (redis_failed())
    log_warn("queue: cannot queue event %s (%s); writing it to MySQL", ev.id.c_str(), err.c_str());
  // Replaying an event id is harmless in MySQL (INSERT IGNORE), so a keyed
  // action that reached Redis before is still recorded once.
  if (mysql_.apply_events({ev}, &err)) {
    bump(slot_, Counter::events_direct);
    if (repairs_ && !repairs_->add({ev.uid, ev.popup_id, ev.state}))
      log_warn("queue: more than %zu direct writes wait for Redis; dropping the oldest",
               RedisRepairs::kMax);
    return true;
  }
  bump(slot_, Counter::mysql_errors);
  // The breaker skipped Redis because of earlier failures; Redis may well be
  // back. Before refusing a write, ask it once more.
  std::string again;
  if (skipped && queue_in_redis(ev, once_ttl_s, true, &again)) {
    log_info("queue: MySQL is down (%s); event %s queued in Redis past the open breaker",
             err.c_str(), ev.id.c_str());
    return true;
  }
  log_error("queue: event %s reached neither Redis nor MySQL, answering 503: %s", ev.id.c_str(),
            err.c_str());
  return false;
}

// How long a resend by nginx can follow the first try: its FastCGI
// connect and read timeouts (nginx/nginx.conf.in) are seconds.
constexpr int64_t kNginxRetryWindowS = 300;

// Beyond this, "now" would not be exact as a Lua number in kShowScript.
constexpr int64_t kScriptTimeLimit = 999'999'999'999'999;

std::optional<Response> Service::show_in_redis(const Visit& v, int64_t now, ShowMiss* miss) {
  *miss = ShowMiss::unusable;
  auto cfg = cache_.get();
  if (!cfg || now < 0 || now > kScriptTimeLimit) return std::nullopt;
  std::vector<const Popup*> list = candidates(*cfg, v, now);
  bump(slot_, Counter::config_hits);
  if (list.empty()) return Response{200, popup_answer(nullptr)};
  Event ev = make_event(v.uid, 0, LastAction::show, UserState{}, now);
  RedisCommand cmd{"EVALSHA", "", "2", keys_.user(v.uid), keys_.events(), std::to_string(now),
                   std::to_string(s_.state_ttl_s),
                   encode_show_event_head(ev.id, ev.uid, ev.ts, ev.order),
                   pack_candidates(list, now)};
  RedisReply r;
  std::string err;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (show_sha_.empty()) {
      RedisReply sha;
      if (!redis_.command({"SCRIPT", "LOAD", kShowScript}, &sha, &err)) break;
      show_sha_ = sha.str;
    }
    cmd[1] = show_sha_;
    std::vector<RedisReply> replies;
    if (!redis_.pipeline({cmd}, &replies, &err)) break;
    r = std::move(replies[0]);
    // Redis restarted or SCRIPT FLUSH: load it again, once.
    if (r.is_error() && r.str.rfind("NOSCRIPT", 0) == 0) {
      show_sha_.clear();
      continue;
    }
    if (r.is_error()) err = "redis: " + r.str;
    break;
  }
  if (r.type != RedisReply::kArray || r.elements.size() != 2) {
    if (redis_failed())
      log_warn("show script: %s", err.empty() ? "unexpected reply" : err.c_str());
    return std::nullopt;
  }
  int64_t status = r.elements[0].integer, id = r.elements[1].integer;
  if (status < 0) {
    if (status == -1) *miss = ShowMiss::not_loaded;
    return std::nullopt;
  }
  bump(slot_, Counter::state_hits);
  if (status == 0) return Response{200, popup_answer(nullptr)};
  bump(slot_, Counter::events_queued);
  for (const Popup* p : list)
    if (p->id == id) return Response{200, popup_answer(p)};
  log_error("show script: recorded popup %lld, which is not a candidate", static_cast<long long>(id));
  return Response{200, popup_answer(nullptr)};
}

Response Service::popup(const Visit& v, int64_t now) {
  // Counts this request's Redis round trips whatever path it leaves by.
  struct RoundTrips {
    WorkerSlot* slot;
    const Redis& redis;
    uint64_t start = redis.round_trips();
    ~RoundTrips() {
      bump(slot, Counter::popup_requests);
      bump(slot, Counter::redis_round_trips, redis.round_trips() - start);
    }
  } counted{slot_, redis_};
  ShowMiss miss = ShowMiss::none;
  if (auto shown = show_in_redis(v, now, &miss)) return *shown;
  // Redis lacks MySQL's copy of this user: put it there and decide in Redis
  // again. Deciding here instead, on a copy read from Redis, would race with
  // a concurrent visit that the script already answered.
  if (miss == ShowMiss::not_loaded) {
    UserStates durable;
    if (load_state_from_mysql(v.uid, &durable, true))
      if (auto shown = show_in_redis(v, now, &miss)) return *shown;
  }
  // The general path: the state read into C++, MySQL when Redis lacks it,
  // the impression written in a second round trip (or to MySQL).
  Decision d = decide(v, now, /*cache_in_redis=*/true);
  if (d.refusal) return *d.refusal;
  if (!d.popup) return Response{200, popup_answer(nullptr)};
  UserState next = after_impression(*d.popup, find_state(d.states, d.popup->id), now);
  if (!record(make_event(v.uid, d.popup->id, LastAction::show, next, now), 0))
    return error_response("unavailable", "the impression cannot be recorded; retry later");
  return Response{200, popup_answer(d.popup)};
}

Service::Decision Service::decide(const Visit& v, int64_t now, bool cache_in_redis) {
  Decision d;
  bool complete = false;
  bool redis_ok = read_state(v.uid, &d.states, &complete, &d.cfg);
  if (!d.cfg && !redis_ok) {
    ConfigSet fresh;
    std::string err;
    if (mysql_.load_config(&fresh, &err)) {
      d.cfg = std::make_shared<const ConfigSet>(std::move(fresh));
      cache_.set(d.cfg);
    }
  }
  if (!d.cfg) {
    d.refusal = error_response("unavailable", "popup configuration is not available");
    return d;
  }
  if (!complete && !load_state_from_mysql(v.uid, &d.states, redis_ok && cache_in_redis)) {
    // MySQL is down and Redis has no complete copy of this user: showing
    // something could break a cooldown we cannot see, so show nothing.
    if (!redis_ok) d.refusal = error_response("unavailable", "neither Redis nor MySQL answers");
    return d;
  }
  d.popup = select_popup(*d.cfg, v, d.states, now);
  return d;
}

Response Service::peek(const Visit& v, int64_t now) {
  Decision d = decide(v, now, /*cache_in_redis=*/false);
  if (d.refusal) return *d.refusal;
  return Response{200, popup_answer(d.popup)};
}

Response Service::action(const ActionRequest& a, const std::string& request_id, int64_t now) {
  UserStates states;
  bool complete = false;
  std::shared_ptr<const ConfigSet> cfg;
  bool redis_ok = read_state(a.uid, &states, &complete, &cfg);
  if (!cfg) return error_response("unavailable", "popup configuration is not available");
  // The set holds every popup in MySQL, disabled and expired ones too.
  const Popup* p = find_popup(*cfg, a.popup_id);
  if (!p) return error_response("not_found", "popup " + std::to_string(a.popup_id) + " does not exist");
  // Without the durable copy the impression count may be low; the action's
  // cooldown does not depend on it, so the action is still recorded.
  if (!complete) load_state_from_mysql(a.uid, &states, redis_ok);
  UserState next = after_action(*p, find_state(states, p->id), a.action, now);
  LastAction kind = a.action == Action::click ? LastAction::click : LastAction::ignore;
  Event ev = make_event(a.uid, p->id, kind, next, now);
  // A key makes the event id a function of (uid, key), so a resend is the
  // same event. Without the client's key, nginx's $request_id covers the
  // resends nginx itself makes (fastcgi_next_upstream), which come within
  // its timeouts: a few minutes of marker are enough there, and a day of
  // one per action would fill Redis.
  int64_t once_ttl_s = 0;
  if (!a.key.empty()) {
    ev.id = action_event_id(a.uid, "client", a.key);
    once_ttl_s = s_.idempotency_ttl_s;
  } else if (!request_id.empty()) {
    ev.id = action_event_id(a.uid, "nginx", request_id);
    once_ttl_s = std::min<int64_t>(s_.idempotency_ttl_s, kNginxRetryWindowS);
  }
  if (!record(ev, once_ttl_s))
    return error_response("unavailable", "the action cannot be recorded; retry later");
  return Response{202, ok_answer()};
}

// One Redis round trip (PING and kQueueHealthScript) and one MySQL query.
Response Service::healthz() {
  std::vector<RedisReply> replies;
  std::string err;
  // The health check always asks Redis itself, past an open breaker (and
  // closes it when Redis answers): it is the probe operators use.
  bool redis_ok = redis_.pipeline({{"PING"}, queue_health_command(keys_)}, &replies, &err,
                                  /*past_breaker=*/true) &&
                  !replies[0].is_error();
  QueueHealth q;
  bool queue_known = redis_ok && parse_queue_health(replies[1], &q);
  int64_t one = 0;
  bool mysql_ok = mysql_.query_int("SELECT 1", &one, &err);
  auto cfg = cache_.get();
  if (!cfg && redis_ok) {
    warm_up();
    cfg = cache_.get();
  }
  HealthFacts f;
  f.config = cfg != nullptr;
  f.redis = redis_ok;
  f.mysql = mysql_ok;
  f.writers_alive = queue_known ? q.writers_alive() : -1;
  f.queue_oldest_age_s = queue_known ? oldest_event_age_us(q.oldest, wall_us()) / 1000000 : -1;
  HealthVerdict v = judge_health(f, s_.queue_age_degraded_s);
  boost::json::object o;
  o["status"] = v.status;
  o["redis"] = redis_ok ? "ok" : "down";
  o["mysql"] = mysql_ok ? "ok" : "down";
  o["queue_depth"] = queue_known ? q.depth : -1;
  o["queue_oldest_age_s"] = f.queue_oldest_age_s;
  o["writers_alive"] = f.writers_alive;
  o["config_version"] = cfg ? cfg->version : -1;
  o["popups"] = cfg ? static_cast<int64_t>(cfg->popups.size()) : 0;
  return Response{v.http_status, boost::json::serialize(o)};
}

// The queue's figures are the same from every host: only hosts with
// queue_metrics = on report them (add_queue_metrics, fcgi/metrics.h).
Response Service::metrics() {
  MetricsText t;
  if (s_.queue_metrics) add_queue_metrics(&t, redis_, keys_);
  return Response{200, metrics_.render(&t)};
}

}  // namespace popup
