#include "fcgi/adapters.h"

#include <chrono>

#include "core/state_codec.h"
#include "lib/log.h"
#include "lib/clock.h"

namespace popup {

int64_t SteadyClock::steady_ms() { return popup::steady_ms(); }

RedisUserStore::RedisUserStore(const Settings& s, Redis& redis, ConfigLoader& config,
                               ConfigCache& cache, WorkerSlot* slot, MetricsShm* shm)
    : s_(s), keys_{s.key_prefix}, redis_(redis), config_(config), cache_(cache), slot_(slot),
      shm_(shm) {}

HashRead RedisUserStore::read(const std::string& uid, bool watch) {
  HashRead out;
  // The version check lives in the refresher thread; a request reads the
  // version itself only while its process has no configuration at all.
  out.cfg = cache_.get();
  bool check = !out.cfg;
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
    count_redis_failure(slot_, redis_);
    log_warn("redis: %s; reading again", err.c_str());
    ok = redis_.pipeline(cmds, &replies, &err);
  }
  if (!ok) {
    if (count_redis_failure(slot_, redis_)) log_warn("redis: %s", err.c_str());
    return out;
  }
  size_t at = watch ? 2 : 0;
  out.ok = true;
  out.complete = decode_user_hash(replies[at], &out.states);
  if (check) out.cfg = config_.after_version(replies[at + 1]);
  if (out.cfg) bump(slot_, Counter::config_hits);
  return out;
}

void RedisUserStore::fill(const std::string& uid, const UserStates& durable) {
  std::string key = keys_.user(uid);
  std::vector<RedisCommand> cmds;
  for (auto& [id, st] : durable)
    cmds.push_back({"HSETNX", key, std::to_string(id), encode_state(st)});
  cmds.push_back({"HSET", key, kLoadedField, "1"});
  cmds.push_back({"EXPIRE", key, std::to_string(s_.state_ttl_s)});
  // The copy in Redis is a cache: when it cannot be written, this request
  // still has MySQL's answer and the next one reads MySQL again.
  std::vector<RedisReply> replies;
  std::string err;
  if (!redis_.pipeline(cmds, &replies, &err)) {
    count_redis_failure(slot_, redis_);
    return;
  }
  for (const auto& r : replies)
    if (r.is_error()) {
      // The uid stays out of the log: logs keep no personal data (README).
      log_warn("redis: caching a user's state: %s", r.str.c_str());
      break;
    }
}

UserStore::Commit RedisUserStore::commit(const Event& ev) {
  // Under the WATCH of read(): the state replaced is the one the decision
  // read, unless another visit changed the hash first (then EXEC is nil).
  std::vector<RedisCommand> cmds{{"MULTI"}};
  StatesAndEvents write(keys_, s_.state_ttl_s, StatesAndEvents::Mode::replace);
  write.add(ev);
  write.append_to(&cmds);
  cmds.push_back({"EXEC"});
  std::vector<RedisReply> replies;
  std::string err;
  if (!redis_.pipeline(cmds, &replies, &err)) {
    if (count_redis_failure(slot_, redis_)) log_warn("redis: %s", err.c_str());
    return Commit::failed;
  }
  // A nil EXEC: another visit of this user wrote first.
  const RedisReply& exec = replies.back();
  if (exec.type == RedisReply::kArray) {
    count_popup_event(shm_, ev.popup_id, static_cast<int>(ev.kind));
    return Commit::stored;
  }
  if (exec.type == RedisReply::kNil) return Commit::conflict;
  log_warn("redis: storing an impression: %s", exec.str.c_str());
  return Commit::failed;
}

std::optional<UserStates> MysqlDurable::user_states(const std::string& uid) {
  UserStates out;
  std::string err;
  if (probe_ && probe_->verdict() != MysqlProbe::Verdict::ok) return std::nullopt;
  if (reader_.user_states(uid, &out, &err) != MysqlReader::Outcome::ok) {
    bump(slot_, Counter::mysql_errors);
    log_warn("%s", err.c_str());
    return std::nullopt;
  }
  return out;
}

}  // namespace popup
