#include "fcgi/invalidator.h"

#include <poll.h>

#include <algorithm>

#include <climits>

#include "core/invalidation.h"
#include "lib/log.h"
#include "lib/store.h"
#include "lib/clock.h"

namespace popup {
namespace {

// Waits until fd (when >= 0) is readable, stop_fd is, or ms passed; true when
// stop_fd is.
bool wait(int stop_fd, int fd, int ms, bool* readable) {
  pollfd p[2] = {{stop_fd, POLLIN, 0}, {fd, POLLIN, 0}};
  int n = poll(p, fd >= 0 ? 2 : 1, ms);
  *readable = n > 0 && fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR));
  return n > 0 && (p[0].revents & POLLIN);
}

constexpr int kRetryMs = 200;       // after a failed connect
constexpr int kRefusedMs = 30000;   // after Redis refused tracking
constexpr int kPingEveryMs = 250;   // the subscription's heartbeat (RedisFeed::alive)

}  // namespace

Invalidator::Invalidator(const Settings& s, UserCache& users, WorkerSlot* slot)
    : users_(users), slot_(slot), key_prefix_(Keys{s.key_prefix}.user("")),
      feed_(redis_address(s), s.redis_timeout_ms), check_(redis_address(s), s.redis_timeout_ms),
      ping_deadline_ms_(std::max(1000, 2 * s.redis_timeout_ms)) {}

void Invalidator::lost(const std::string& why) {
  // Whatever was written meanwhile went unreported: nothing read before the
  // next subscription can be trusted.
  users_.distrust_before(INT64_MAX);
  users_.clear();
  bump(slot_, Counter::invalidation_feed_losses);
  log_warn("invalidation: feed lost (%s); owned users are read from Redis until it is back",
           why.c_str());
}

void Invalidator::apply(const RedisFeed::Keys& keys) {
  Invalidation inv = parse_invalidation(keys, key_prefix_);
  if (inv.all) {
    uint64_t n = users_.entries();
    users_.clear();
    bump(slot_, Counter::invalidations, n);
    return;
  }
  // Only the users this process holds are read back. A fill that is under
  // way holds the user's lock, so it is seen here once it is done.
  std::vector<std::string> held;
  for (auto& uid : inv.uids)
    if (users_.lock(uid).entry()) held.push_back(std::move(uid));
  if (held.empty()) return;
  std::vector<RedisCommand> cmds;
  for (const auto& uid : held) cmds.push_back({"HGETALL", key_prefix_ + uid});
  std::vector<RedisReply> replies;
  std::string err;
  bool read = check_.pipeline(cmds, &replies, &err);
  if (!read) log_warn("invalidation: %s; dropping %zu reported users", err.c_str(), held.size());
  bump(slot_, Counter::invalidation_checks, held.size());
  uint64_t dropped = 0;
  for (size_t i = 0; i < held.size(); ++i) {
    UserStates stored;
    bool complete = read && decode_user_hash(replies[i], &stored);
    // Read after the write Redis reported: if the entry covers it, the write
    // was this process's own (or older than what it holds). The entry may
    // have changed since the read; its states only move forward, so it still
    // covers what was read.
    auto h = users_.lock(held[i]);
    CachedUser* u = h.entry();
    if (u && !(complete && cache_covers(u->states, stored))) {
      h.drop();
      ++dropped;
    }
  }
  bump(slot_, Counter::invalidations, dropped);
}

void Invalidator::run(int stop_fd, const std::atomic<bool>& stopping) {
  users_.distrust_before(INT64_MAX);  // nothing is trusted before the feed is up
  bool had_feed = false, warned_refused = false;
  std::vector<RedisFeed::Keys> messages;
  while (!stopping.load(std::memory_order_relaxed)) {
    bool readable = false;
    if (feed_.fd() < 0) {
      std::string err;
      switch (feed_.open(key_prefix_, &err)) {
        case RedisFeed::Open::ok:
          // A fill reads after taking its now_ms: those from the next
          // millisecond on were read while Redis reports every later write.
          users_.distrust_before(steady_ms() + 1);
          if (had_feed || warned_refused) log_info("invalidation: feed subscribed again");
          had_feed = true;
          warned_refused = false;
          break;
        case RedisFeed::Open::refused:
          if (!warned_refused)
            log_warn("invalidation: Redis refuses tracking (%s); writes by other hosts are "
                     "seen within state_cache_stale_s",
                     err.c_str());
          warned_refused = true;
          users_.distrust_before(0);
          if (wait(stop_fd, -1, kRefusedMs, &readable)) return;
          continue;
        case RedisFeed::Open::unreachable:
          if (wait(stop_fd, -1, kRetryMs, &readable)) return;
          continue;
      }
    }
    messages.clear();
    std::string err;
    bool up = feed_.read(false, &messages, &err);  // what open left buffered
    if (up && messages.empty()) {
      if (wait(stop_fd, feed_.fd(), kPingEveryMs, &readable)) return;
      if (readable) up = feed_.read(true, &messages, &err);
    }
    for (const auto& m : messages) apply(m);
    // A failover that left this subscription open reports nothing of the
    // new primary's writes: lost, like a dropped connection.
    if (up && feed_.primary_moved(&err)) {
      feed_.close();
      up = false;
    }
    // A host cut off from Redis (no reset, the socket stays open) hears
    // nothing: silence past the heartbeat's deadline is a loss too.
    if (up && !feed_.alive(steady_ms(), kPingEveryMs, ping_deadline_ms_, &err)) up = false;
    if (!up) lost(err);
  }
}

}  // namespace popup
