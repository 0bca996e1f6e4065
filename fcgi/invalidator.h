// The owner's memory (core/user_cache.h) told of writes to its users by
// anyone else (another host's pool, an operator's tool, a direct HSET)
// through Redis's invalidation feed (lib/redis_feed.h), one thread per worker
// process.
//
// The feed reports every write under <key_prefix>:u:, this process's own
// write-behind included: Redis 7.0 counts a key written inside a script
// (every state store, lib/store.h) against the script, not the connection,
// so NOLOOP cannot leave the owner's own flushes out. So for a reported
// user this process holds in memory, the thread reads the hash back (one
// pipelined HGETALL per message, on its own connection, off the request
// path) and drops the entry unless it already holds everything Redis has
// (core/invalidation.h cache_covers): the owner's own flushes keep their
// entries, a foreign write drops them, and the next GET reads Redis.
// Users it does not hold cost nothing but the message.
//
// A nil message (FLUSHALL, FLUSHDB) drops everything. While the feed is down
// (not yet subscribed, the connection lost, Redis restarting) the memory
// trusts nothing (every owned GET reads Redis); once subscribed again it
// trusts only entries read after that moment. When Redis refuses tracking
// (before 6.0, CLIENT disallowed), entries are trusted for
// state_cache_stale_s as without a feed, and it asks again every 30 s.
#pragma once

#include <atomic>
#include <string>

#include "core/settings.h"
#include "core/user_cache.h"
#include "fcgi/metrics.h"
#include "lib/redis.h"
#include "lib/redis_feed.h"

namespace popup {

class Invalidator {
 public:
  Invalidator(const Settings& s, UserCache& users, WorkerSlot* slot);
  // The thread's body: until stop_fd becomes readable or *stopping is set.
  void run(int stop_fd, const std::atomic<bool>& stopping);

 private:
  // One message: the entries Redis's copy no longer matches are dropped.
  void apply(const RedisFeed::Keys& keys);
  void lost(const std::string& why);

  UserCache& users_;
  WorkerSlot* slot_;
  std::string key_prefix_;   // "<key_prefix>:u:"
  RedisFeed feed_;
  Redis check_;              // reads reported users back
  int ping_deadline_ms_;     // an unanswered heartbeat this old: the feed is lost
};

}  // namespace popup
