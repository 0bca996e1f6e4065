// A small synchronous Redis client over hiredis with pipelining.
// hiredis documents that a context with `err` set cannot be reused, so after
// any error the context is freed and the next call reconnects.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/breaker.h"
#include "core/settings.h"

struct redisContext;

namespace popup {

// An owned copy of a hiredis reply.
struct RedisReply {
  enum Type { kNil, kString, kInteger, kArray, kStatus, kError } type = kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;
  bool is_error() const { return type == kError; }
};

using RedisCommand = std::vector<std::string>;

// The settings' `redis` address (checked when the settings were parsed; an
// empty Address if it somehow does not parse, which then fails to connect).
Address redis_address(const Settings& s);

class Redis {
 public:
  explicit Redis(Address addr, int timeout_ms);
  ~Redis();
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;

  // Sends all commands in one write and reads all replies: one round trip.
  // Returns false (and sets *err) on a connection or protocol failure; then
  // nothing is known about which commands ran. Redis error replies are not
  // failures: they come back as kError elements. past_breaker: go to Redis
  // even while the breaker is open (a health probe); a success closes it.
  bool pipeline(const std::vector<RedisCommand>& cmds,
                std::vector<RedisReply>* replies, std::string* err, bool past_breaker = false);

  // One command; false on connection failure or an error reply.
  bool command(const RedisCommand& cmd, RedisReply* reply, std::string* err);

  // Blocking commands (BLMOVE) need a longer read timeout than the default.
  void set_read_timeout_ms(int ms);

  // Round trips attempted so far (one per pipeline or command call).
  uint64_t round_trips() const { return round_trips_; }

  // Shares a process-wide breaker (nullptr: none). While it is open, calls
  // fail at once without touching the network and last_skipped() is true.
  void set_breaker(Breaker* b) { breaker_ = b; }
  // Whether the last failed call was skipped by the breaker.
  bool last_skipped() const { return last_skipped_; }

 private:
  bool ensure_connected(std::string* err);
  void drop();

  Address addr_;
  int timeout_ms_;
  int read_timeout_ms_;
  bool failed(std::string* err, std::string what);

  redisContext* ctx_ = nullptr;
  uint64_t round_trips_ = 0;
  Breaker* breaker_ = nullptr;
  bool last_skipped_ = false;
};

}  // namespace popup
