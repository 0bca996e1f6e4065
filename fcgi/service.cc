#include "fcgi/service.h"

#include "core/answer.h"
#include "core/repair.h"
#include "core/state_codec.h"
#include "lib/log.h"
#include "lib/redis_scripts.h"
#include "fcgi/status.h"

namespace popup {
Service::Service(const WorkerContext& c)
    : s_(c.s),
      c_(c),
      keys_{c.s.key_prefix},
      redis_(redis_address(c.s), c.s.redis_timeout_ms),
      mysql_(c.s, Mysql::kRequestTimeoutS),
      reader_(c.s),
      config_source_(keys_, redis_, mysql_),
      config_(c.s, c.cache, c.slot, config_source_),
      user_store_(c.s, redis_, config_, c.cache, c.slot, &c.metrics.shm()),
      durable_(reader_, config_, c.slot, c.mysql_probe),
      neighbours_(c.generations, c.owner_slot, HostNeighbours::bound_ms(c.s)) {
  redis_.set_breaker(c.breaker);
  if (c.flusher)
    handlers_.emplace(c.s, c.cache, *c.flusher, c.users, c.slot,
                      Ports{user_store_, durable_, neighbours_, clock_});
}

Response Service::counted_get(const Visit& v, int64_t now, bool owner) {
  uint64_t start = redis_.round_trips();
  Response r = handlers_->popup(v, now, owner);
  bump(c_.slot, Counter::popup_requests);
  bump(c_.slot, Counter::redis_round_trips, redis_.round_trips() - start);
  return r;
}

Response Service::popup(const Visit& v, int64_t now, bool owner) {
  if (!handlers_) return error_response("internal", "this thread serves no requests");
  return counted_get(v, now, owner);
}

Response Service::peek(const Visit& v, int64_t now, bool owner) {
  if (!handlers_) return error_response("internal", "this thread serves no requests");
  return handlers_->peek(v, now, owner);
}

Response Service::action(const ActionRequest& a, const std::string& request_id, int64_t now,
                         bool owner) {
  if (!handlers_) return error_response("internal", "this thread serves no requests");
  return handlers_->action(a, request_id, now, owner);
}

Response Service::healthz() {
  return health_page(s_, keys_, redis_, mysql_, c_.mysql_probe, c_.cache, config_);
}

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
