#include "fcgi/recorder.h"

#include <algorithm>

#include "core/state_codec.h"
#include "lib/log.h"

namespace popup {

Recorder::Recorder(const Settings& s, WorkerSlot* slot, MetricsShm* shm, Breaker* breaker,
                   RedisRepairs* repairs)
    : s_(s), keys_{s.key_prefix}, slot_(slot), shm_(shm), redis_(redis_address(s), s.redis_timeout_ms),
      mysql_(s), repairs_(repairs) {
  redis_.set_breaker(breaker);
}

bool Recorder::to_redis(const std::vector<Pending>& batch, bool past_breaker,
                        std::vector<Recorded>* out, std::string* err) {
  std::vector<RedisCommand> cmds{{"MULTI"}};
  std::vector<int> once_at(batch.size(), -1);  // index in EXEC's reply
  RedisCommand lpush{"LPUSH", keys_.events()};
  std::string ttl = std::to_string(s_.state_ttl_s);
  // The states go through one script that keeps the newer state (a late
  // impression never overwrites an action decided after it): its keys, then
  // its arguments.
  RedisCommand keys, args{ttl};
  int queued = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Event& ev = batch[i].event;
    std::string key = keys_.user(ev.uid), field = std::to_string(ev.popup_id);
    if (batch[i].once_ttl_s > 0) {
      cmds.push_back({"EVAL", kRecordOnceScript, "3", keys_.once(ev.id), key, keys_.events(),
                      std::to_string(batch[i].once_ttl_s), field, encode_state(ev.state), ttl,
                      encode_event(ev)});
      once_at[i] = queued++;
      continue;
    }
    keys.push_back(std::move(key));
    args.push_back(std::move(field));
    args.push_back(encode_state(ev.state));
    lpush.push_back(encode_event(ev));
  }
  if (!keys.empty()) {
    RedisCommand eval{"EVAL", kStoreStatesScript, std::to_string(keys.size())};
    eval.insert(eval.end(), std::make_move_iterator(keys.begin()), std::make_move_iterator(keys.end()));
    eval.insert(eval.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
    cmds.push_back(std::move(eval));
    ++queued;
  }
  if (lpush.size() > 2) cmds.push_back(std::move(lpush));
  cmds.push_back({"EXEC"});
  std::vector<RedisReply> replies;
  uint64_t before = redis_.round_trips();
  bool ok = redis_.pipeline(cmds, &replies, err, past_breaker);
  bump(slot_, Counter::flush_round_trips, redis_.round_trips() - before);
  if (!ok) return false;
  const RedisReply& exec = replies.back();
  if (exec.type != RedisReply::kArray || static_cast<int>(exec.elements.size()) < queued) {
    *err = "redis: " + (exec.str.empty() ? std::string("transaction failed") : exec.str);
    return false;
  }
  out->assign(batch.size(), Recorded::yes);
  uint64_t recorded = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (once_at[i] < 0) {
      ++recorded;
      continue;
    }
    const RedisReply& r = exec.elements[once_at[i]];
    if (r.type == RedisReply::kInteger) {
      (*out)[i] = r.integer == 1 ? Recorded::yes : Recorded::before;
      recorded += r.integer == 1;
    } else {
      (*out)[i] = Recorded::failed;
      log_warn("redis: recording event %s: %s", batch[i].event.id.c_str(), r.str.c_str());
    }
  }
  for (const auto& r : exec.elements)
    if (r.is_error()) log_warn("redis: in a write-behind batch: %s", r.str.c_str());
  bump(slot_, Counter::events_queued, recorded);
  for (size_t i = 0; i < batch.size(); ++i)
    if ((*out)[i] == Recorded::yes)
      count_popup_event(shm_, batch[i].event.popup_id, static_cast<int>(batch[i].event.kind));
  return true;
}

bool Recorder::to_mysql(const std::vector<Pending>& batch, std::string* err) {
  std::vector<Event> events;
  for (const auto& p : batch) events.push_back(p.event);
  // Replaying an event id is harmless in MySQL (INSERT IGNORE), so a keyed
  // action that reached Redis before is still recorded once.
  if (!mysql_.apply_events(events, err)) return false;
  bump(slot_, Counter::events_direct, events.size());
  for (const auto& e : events) count_popup_event(shm_, e.popup_id, static_cast<int>(e.kind));
  for (const auto& e : events)
    if (repairs_ && !repairs_->add({e.uid, e.popup_id, e.state}))
      log_warn("queue: more than %zu direct writes wait for Redis; dropping the oldest",
               RedisRepairs::kMax);
  return true;
}

std::vector<Recorded> Recorder::record(const std::vector<Pending>& batch) {
  std::vector<Recorded> out;
  if (batch.empty()) return out;
  bump(slot_, Counter::flush_batches);
  std::string err;
  if (to_redis(batch, false, &out, &err)) return out;
  bool skipped = redis_.last_skipped();
  bump(slot_, skipped ? Counter::redis_skips : Counter::redis_errors);
  if (!skipped)
    log_warn("queue: cannot queue %zu events (%s); writing them to MySQL", batch.size(),
             err.c_str());
  std::string mysql_err;
  if (to_mysql(batch, &mysql_err)) return std::vector<Recorded>(batch.size(), Recorded::yes);
  bump(slot_, Counter::mysql_errors);
  // The breaker skipped Redis because of earlier failures; Redis may well be
  // back. Before refusing a write, ask it once more.
  std::string again;
  if (skipped && to_redis(batch, true, &out, &again)) {
    log_info("queue: MySQL is down (%s); %zu events queued in Redis past the open breaker",
             mysql_err.c_str(), batch.size());
    return out;
  }
  log_error("queue: %zu events reached neither Redis nor MySQL: %s", batch.size(),
            mysql_err.c_str());
  return std::vector<Recorded>(batch.size(), Recorded::failed);
}

}  // namespace popup
