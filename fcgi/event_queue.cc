#include "fcgi/event_queue.h"

#include <algorithm>

#include "lib/log.h"

namespace popup {

EventQueue::EventQueue(const Settings& s, WorkerSlot* slot, MetricsShm* shm, Breaker* breaker,
                       RedisRepairs* repairs)
    : s_(s), keys_{s.key_prefix}, slot_(slot), shm_(shm),
      redis_(redis_address(s), s.redis_timeout_ms), mysql_(s), repairs_(repairs) {
  redis_.set_breaker(breaker);
}

bool EventQueue::to_redis(const std::vector<Pending>& batch, bool past_breaker,
                          std::vector<Stored>* out, std::string* err, bool* replica) {
  std::vector<RedisCommand> cmds{{"MULTI"}};
  std::vector<int> once_at(batch.size(), -1);  // index in EXEC's reply
  // The states go through one script that keeps the newer state (a late
  // impression never overwrites an action decided after it), then one LPUSH.
  StatesAndEvents plain(keys_, s_.state_ttl_s);
  int queued = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Event& ev = batch[i].event;
    if (batch[i].once_ttl_s > 0) {
      cmds.push_back(store_once_command(keys_, ev, batch[i].once_ttl_s, s_.state_ttl_s));
      once_at[i] = queued++;
      continue;
    }
    plain.add(ev);
  }
  queued += static_cast<int>(plain.append_to(&cmds));
  cmds.push_back({"EXEC"});
  bool wait = redis_.via_sentinel() &&
              std::any_of(batch.begin(), batch.end(),
                          [](const Pending& p) { return p.event.kind != LastAction::show; });
  // WAIT blocks up to its bound: the read may take that long.
  if (wait) {
    cmds.push_back({"WAIT", "1", std::to_string(s_.redis_replica_wait_ms)});
    redis_.set_read_timeout_ms(s_.redis_timeout_ms + s_.redis_replica_wait_ms);
  }
  std::vector<RedisReply> replies;
  uint64_t before = redis_.round_trips();
  bool ok = redis_.pipeline(cmds, &replies, err, past_breaker);
  if (wait) redis_.set_read_timeout_ms(s_.redis_timeout_ms);
  bump(slot_, Counter::flush_round_trips, redis_.round_trips() - before);
  if (!ok) return false;
  *replica = !wait || (replies.back().type == RedisReply::kInteger && replies.back().integer >= 1);
  if (wait) replies.pop_back();
  const RedisReply& exec = replies.back();
  if (exec.type != RedisReply::kArray || static_cast<int>(exec.elements.size()) < queued) {
    *err = "redis: " + (exec.str.empty() ? std::string("transaction failed") : exec.str);
    return false;
  }
  out->assign(batch.size(), Stored::yes);
  uint64_t stored = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (once_at[i] < 0) {
      ++stored;
      continue;
    }
    const RedisReply& r = exec.elements[once_at[i]];
    if (r.type == RedisReply::kInteger) {
      (*out)[i] = r.integer == 1 ? Stored::yes : Stored::before;
      stored += r.integer == 1;
    } else {
      (*out)[i] = Stored::failed;
      log_warn("redis: storing event %s: %s", batch[i].event.id.c_str(), r.str.c_str());
    }
  }
  for (const auto& r : exec.elements)
    if (r.is_error()) log_warn("redis: in a write-behind batch: %s", r.str.c_str());
  bump(slot_, Counter::events_queued, stored);
  for (size_t i = 0; i < batch.size(); ++i)
    if ((*out)[i] == Stored::yes)
      count_popup_event(shm_, batch[i].event.popup_id, static_cast<int>(batch[i].event.kind));
  return true;
}

bool EventQueue::to_mysql(const std::vector<Pending>& batch, std::string* err) {
  std::vector<Event> events;
  for (const auto& p : batch) events.push_back(p.event);
  // Replaying an event id is harmless in MySQL (INSERT IGNORE), so a keyed
  // action that reached Redis before is still stored once.
  if (!mysql_.apply_events(events, err)) return false;
  bump(slot_, Counter::events_direct, events.size());
  for (const auto& e : events) count_popup_event(shm_, e.popup_id, static_cast<int>(e.kind));
  for (const auto& e : events)
    if (repairs_ && !repairs_->add({e.uid, e.popup_id, e.state}))
      log_warn("queue: more than %zu direct writes wait for Redis; dropping the oldest",
               RedisRepairs::kMax);
  return true;
}

void EventQueue::keep_actions(const std::vector<Pending>& batch, std::vector<Stored>* out) {
  std::vector<Event> actions;
  std::vector<size_t> at;
  for (size_t i = 0; i < batch.size(); ++i)
    if (batch[i].event.kind != LastAction::show && (*out)[i] != Stored::failed) {
      actions.push_back(batch[i].event);
      at.push_back(i);
    }
  if (actions.empty()) return;
  bump(slot_, Counter::replica_wait_misses);
  log_warn("queue: %zu actions are in the Redis primary only (no replica acknowledged within "
           "%d ms); writing them to MySQL",
           actions.size(), s_.redis_replica_wait_ms);
  std::string mysql_err;
  if (mysql_.apply_events(actions, &mysql_err)) return;
  bump(slot_, Counter::mysql_errors);
  log_error("queue: %zu actions are neither on a Redis replica nor in MySQL (%s); refused",
            actions.size(), mysql_err.c_str());
  for (size_t i : at) (*out)[i] = Stored::failed;
}

std::vector<Stored> EventQueue::store(const std::vector<Pending>& batch) {
  std::vector<Stored> out;
  if (batch.empty()) return out;
  bump(slot_, Counter::flush_batches);
  std::string err;
  bool replica = true;
  if (to_redis(batch, false, &out, &err, &replica)) {
    if (!replica) keep_actions(batch, &out);
    return out;
  }
  bool skipped = redis_.last_skipped();
  bump(slot_, skipped ? Counter::redis_skips : Counter::redis_errors);
  if (!skipped)
    log_warn("queue: cannot queue %zu events (%s); writing them to MySQL", batch.size(),
             err.c_str());
  std::string mysql_err;
  if (to_mysql(batch, &mysql_err)) return std::vector<Stored>(batch.size(), Stored::yes);
  bump(slot_, Counter::mysql_errors);
  // The breaker skipped Redis because of earlier failures; Redis may well be
  // back. Before refusing a write, ask it once more.
  std::string again;
  if (skipped && to_redis(batch, true, &out, &again, &replica)) {
    if (!replica) keep_actions(batch, &out);
    log_info("queue: MySQL is down (%s); %zu events queued in Redis past the open breaker",
             mysql_err.c_str(), batch.size());
    return out;
  }
  log_error("queue: %zu events reached neither Redis nor MySQL: %s", batch.size(),
            mysql_err.c_str());
  return std::vector<Stored>(batch.size(), Stored::failed);
}

}  // namespace popup
