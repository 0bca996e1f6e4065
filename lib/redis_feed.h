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

struct redisContext;

namespace popup {

class RedisFeed {
 public:
  // One message's payload: the changed keys, or nullopt (a nil payload:
  // everything, after FLUSHALL or FLUSHDB).
  using Keys = std::optional<std::vector<std::string>>;
  enum class Open { ok, unreachable, refused };  // refused: Redis answered with an error

  RedisFeed(Address addr, int timeout_ms);
  ~RedisFeed();
  RedisFeed(const RedisFeed&) = delete;
  RedisFeed& operator=(const RedisFeed&) = delete;

  // Connects, tracks `prefix` and subscribes; on failure the connection is
  // closed and *err says why.
  Open open(const std::string& prefix, std::string* err);
  void close();
  int fd() const;  // -1 when closed

  // Appends the messages that arrived to *out: from_socket reads the socket
  // once (call it when fd() is readable), otherwise only what an earlier
  // read left buffered. False when the connection was lost (then closed,
  // with *err; *out still holds what came before).
  bool read(bool from_socket, std::vector<Keys>* out, std::string* err);

 private:
  Address addr_;
  int timeout_ms_;
  redisContext* ctx_ = nullptr;
};

}  // namespace popup
