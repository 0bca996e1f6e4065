// A small synchronous Redis client over hiredis with pipelining.
// hiredis documents that a context with `err` set cannot be reused, so after
// any error the context is freed and the next call reconnects.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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

class Redis {
 public:
  explicit Redis(Address addr, int timeout_ms);
  ~Redis();
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;

  // Sends all commands in one write and reads all replies: one round trip.
  // Returns false (and sets *err) on a connection or protocol failure; then
  // nothing is known about which commands ran. Redis error replies are not
  // failures: they come back as kError elements.
  bool pipeline(const std::vector<RedisCommand>& cmds,
                std::vector<RedisReply>* replies, std::string* err);

  // One command; false on connection failure or an error reply.
  bool command(const RedisCommand& cmd, RedisReply* reply, std::string* err);

  // Blocking commands (BLMOVE) need a longer read timeout than the default.
  void set_read_timeout_ms(int ms);

  // Round trips attempted so far (one per pipeline or command call).
  uint64_t round_trips() const { return round_trips_; }

 private:
  bool ensure_connected(std::string* err);
  void drop();

  Address addr_;
  int timeout_ms_;
  int read_timeout_ms_;
  redisContext* ctx_ = nullptr;
  uint64_t round_trips_ = 0;
};

}  // namespace popup
