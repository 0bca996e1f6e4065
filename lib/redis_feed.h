// Redis's invalidation messages for the keys under one prefix
// (server-assisted client-side caching, Redis >= 6, over RESP2): one
// connection takes its CLIENT ID, turns tracking on in broadcast mode with
// the messages redirected to itself (CLIENT TRACKING on REDIRECT <own id>
// BCAST PREFIX <prefix>), then subscribes to __redis__:invalidate. Tracking
// lives and dies with this one connection, so a reconnect (open again)
// re-establishes both.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/settings.h"
#include "lib/redis.h"

struct redisContext;

namespace popup {

class RedisFeed {
 public:
  // One message's payload: the changed keys, or nullopt (a nil payload:
  // everything, after FLUSHALL or FLUSHDB).
  using Keys = std::optional<std::vector<std::string>>;
  enum class Open { ok, unreachable, refused };  // refused: Redis answered with an error

  // Connects through connect_redis (lib/redis.h): via Sentinel, to the
  // primary the sentinels name.
  RedisFeed(RedisTarget target, int timeout_ms);
  ~RedisFeed();
  RedisFeed(const RedisFeed&) = delete;
  RedisFeed& operator=(const RedisFeed&) = delete;

  // Connects, tracks `prefix` and subscribes; on failure the connection is
  // closed and *err says why.
  Open open(const std::string& prefix, std::string* err);
  void close();
  int fd() const;  // -1 when closed

  // Via Sentinel, at most once per kRecheckMs: whether the sentinels now
  // name another primary than the one subscribed to (a failover that left
  // this connection open: the old primary cut off or stopped, not dead).
  // Then the feed reports nothing of the new primary's writes; the caller
  // closes it and subscribes again. False when it cannot tell.
  bool primary_moved(std::string* why);
  static constexpr int64_t kRecheckMs = 1000;

  // Appends the messages that arrived to *out: from_socket reads the socket
  // once (call it when fd() is readable), otherwise only what an earlier
  // read left buffered. False when the connection was lost (then closed,
  // with *err; *out still holds what came before).
  bool read(bool from_socket, std::vector<Keys>* out, std::string* err);

  // The subscription's heartbeat, called at least every every_ms: sends a
  // PING once every_ms passed since the last answer, and closes the
  // connection (false, why set) when a PING sent deadline_ms ago is still
  // unanswered. A link cut without a reset leaves the socket open and
  // silent; Redis' reports made meanwhile arrive late or never, so the
  // subscription is as good as lost.
  bool alive(int64_t now_ms, int every_ms, int deadline_ms, std::string* why);

 private:
  RedisTarget target_;
  int timeout_ms_;
  Address at_;
  int64_t checked_ms_ = 0;
  int64_t ping_sent_ms_ = 0;  // a PING is unanswered since then (0: none)
  int64_t pong_ms_ = 0;       // last answer (or the subscription)
  redisContext* ctx_ = nullptr;
};

}  // namespace popup
