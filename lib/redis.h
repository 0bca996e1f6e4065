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

// Where a program's Redis is: one fixed address, or the primary that Redis
// Sentinel names (docs/deployment.md "Redis through Sentinel").
struct RedisTarget {
  Address fixed;                   // without sentinels
  std::vector<Address> sentinels;  // non-empty: ask them for the primary
  std::string master_name;
  std::string password;  // non-empty: AUTH on each connection to the primary
  size_t first = 0;  // the sentinel asked first: the last one that answered
  RedisTarget() = default;
  RedisTarget(Address a) : fixed(std::move(a)) {}  // NOLINT: a fixed address converts
  bool via_sentinel() const { return !sentinels.empty(); }
};

// The settings' Redis: `redis_sentinels` and `redis_master_name` when the
// sentinels are set, else the `redis` address (both checked when the
// settings were parsed; an empty Address if it somehow does not parse, which
// then fails to connect).
RedisTarget redis_address(const Settings& s);

// The one way every program connects to Redis. A fixed address: connects.
// Via Sentinel: asks the sentinels in turn (SENTINEL
// get-master-addr-by-name) for the primary, connects to it and checks that
// its ROLE says master (a sentinel that has not yet seen a failover names a
// node that is now a replica). Every step is bounded by timeout_ms. On
// success returns the connection (with timeout_ms as its read timeout) and
// sets *at to the address connected; else nullptr and *err.
redisContext* connect_redis(RedisTarget& t, int timeout_ms, Address* at, std::string* err);

// Via Sentinel: the primary the sentinels name now (the first that
// answers, starting with t.first, which becomes the one that answered: a
// sentinel host that is down costs its timeout once, not on every call);
// false with *err when none does. A fixed target: its address.
bool discover_primary(RedisTarget& t, int timeout_ms, Address* primary, std::string* err);

// A reply that says this connection is not (or no longer) on a usable
// primary: READONLY (a former primary that became a replica), NOREPLICAS
// (a primary cut off from its replicas, min-replicas-to-write), MASTERDOWN.
bool reply_says_not_primary(const RedisReply& r);

class Redis {
 public:
  explicit Redis(RedisTarget target, int timeout_ms);
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

  // The address of the connected Redis ("" while not connected): via
  // Sentinel, the primary in use.
  std::string connected_to() const;
  bool via_sentinel() const { return target_.via_sentinel(); }

 private:
  bool ensure_connected(std::string* err);
  void drop();
  // Via Sentinel, a connection older than kRecheckMs is checked against the
  // sentinels before use: a primary cut off from them (and replaced) may
  // still answer, and its answers are no longer the service's data.
  static constexpr int64_t kRecheckMs = 2000;
  // After a failed discovery the next one waits this long, doubling up to
  // kMaxBackoffMs (calls meanwhile fail at once): bounded, no restart needed.
  static constexpr int64_t kMinBackoffMs = 50, kMaxBackoffMs = 1000;

  RedisTarget target_;
  Address at_;
  int64_t checked_ms_ = 0;
  int64_t backoff_ms_ = 0;
  int64_t next_try_ms_ = 0;
  int timeout_ms_;
  int read_timeout_ms_;
  bool failed(std::string* err, std::string what);

  redisContext* ctx_ = nullptr;
  uint64_t round_trips_ = 0;
  Breaker* breaker_ = nullptr;
  bool last_skipped_ = false;
};

}  // namespace popup
