#include "lib/redis.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "lib/log.h"
#include "lib/clock.h"

namespace popup {

RedisTarget redis_address(const Settings& s) {
  RedisTarget t;
  t.password = s.redis_password;
  if (!s.redis_sentinels.empty()) {
    t.sentinels = parse_address_list(s.redis_sentinels);
    t.master_name = s.redis_master_name;
    if (!t.sentinels.empty()) return t;
  }
  auto a = parse_address(s.redis);
  t.fixed = a ? *a : Address{};
  return t;
}

namespace {

redisContext* connect_to(const Address& a, int timeout_ms, std::string* err) {
  timeval tv = to_timeval(timeout_ms);
  redisContext* c = a.is_unix ? redisConnectUnixWithTimeout(a.path.c_str(), tv)
                              : redisConnectWithTimeout(a.host.c_str(), a.port, tv);
  if (!c || c->err) {
    *err = c ? "redis connect " + format_address(a) + ": " + c->errstr
             : std::string("redis connect: out of memory");
    if (c) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, tv);
  return c;
}

redisReply* call(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }


RedisReply copy_reply(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
      break;
    default:
      out.type = RedisReply::kNil;
  }
  return out;
}

// True when the server has closed this idle connection (a restarted Redis
// closes every old one): EOF, or an error, is waiting on the socket. No
// data can be waiting, since every reply of a call is read within it.
bool peer_closed(int fd) {
  char b;
  ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

}  // namespace

bool discover_primary(RedisTarget& t, int timeout_ms, Address* primary, std::string* err) {
  if (!t.via_sentinel()) return *primary = t.fixed, true;
  std::string why;
  for (size_t i = 0; i < t.sentinels.size(); ++i) {
    size_t at = (t.first + i) % t.sentinels.size();
    const Address& sentinel = t.sentinels[at];
    std::string e;
    redisContext* c = connect_to(sentinel, timeout_ms, &e);
    if (!c) {
      why += (why.empty() ? "" : "; ") + e;
      continue;
    }
    redisReply* r = call(c, {"SENTINEL", "get-master-addr-by-name", t.master_name});
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
              r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING;
    if (ok) {
      primary->is_unix = false;
      primary->path.clear();
      primary->host.assign(r->element[0]->str, r->element[0]->len);
      primary->port = std::atoi(r->element[1]->str);
      ok = primary->port > 0 && primary->port <= 65535 && !primary->host.empty();
    }
    if (!ok)
      why += (why.empty() ? "" : "; ") + std::string("sentinel ") + format_address(sentinel) + ": " +
             (!r ? std::string(c->errstr[0] ? c->errstr : "no reply")
                 : r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len)
                                                : "does not know " + t.master_name);
    if (r) freeReplyObject(r);
    redisFree(c);
    if (ok) {
      t.first = at;
      return true;
    }
  }
  *err = "redis: no sentinel names a primary for " + t.master_name + " (" + why + ")";
  return false;
}

redisContext* connect_redis(RedisTarget& t, int timeout_ms, Address* at, std::string* err) {
  Address a;
  if (!discover_primary(t, timeout_ms, &a, err)) return nullptr;
  redisContext* c = connect_to(a, timeout_ms, err);
  if (!c) return nullptr;
  if (!t.password.empty()) {
    redisReply* r = call(c, {"AUTH", t.password});
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok)
      *err = "redis AUTH at " + format_address(a) + ": " +
             (r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len)
                                                : std::string(c->errstr[0] ? c->errstr : "no reply"));
    if (r) freeReplyObject(r);
    if (!ok) {
      redisFree(c);
      return nullptr;
    }
  }
  if (t.via_sentinel()) {
    redisReply* r = call(c, {"ROLE"});
    bool master = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                  r->element[0]->type == REDIS_REPLY_STRING &&
                  std::string(r->element[0]->str, r->element[0]->len) == "master";
    if (!master)
      *err = "redis: " + format_address(a) + ", named by the sentinels, is not a primary (" +
             (!r ? std::string(c->errstr[0] ? c->errstr : "no reply")
                 : r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                           r->element[0]->type == REDIS_REPLY_STRING
                       ? "ROLE " + std::string(r->element[0]->str, r->element[0]->len)
                       : std::string("unexpected ROLE reply")) +
             ")";
    if (r) freeReplyObject(r);
    if (!master) {
      redisFree(c);
      return nullptr;
    }
  }
  *at = std::move(a);
  return c;
}

namespace {

// The first reply, depth first, that says the node is not a usable primary.
const RedisReply* not_primary(const RedisReply& r) {
  if (r.is_error())
    return starts_with(r.str, "READONLY") || starts_with(r.str, "NOREPLICAS") ||
                   starts_with(r.str, "MASTERDOWN")
               ? &r
               : nullptr;
  for (const auto& e : r.elements)
    if (const RedisReply* found = not_primary(e)) return found;
  return nullptr;
}

}  // namespace

bool reply_says_not_primary(const RedisReply& r) { return not_primary(r) != nullptr; }

Redis::Redis(RedisTarget target, int timeout_ms)
    : target_(std::move(target)), timeout_ms_(timeout_ms), read_timeout_ms_(timeout_ms) {}

std::string Redis::connected_to() const { return ctx_ ? format_address(at_) : ""; }

Redis::~Redis() { drop(); }

void Redis::drop() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

void Redis::set_read_timeout_ms(int ms) {
  read_timeout_ms_ = ms;
  if (ctx_) redisSetTimeout(ctx_, to_timeval(ms));
}

bool Redis::ensure_connected(std::string* err) {
  if (ctx_) return true;
  int64_t now = steady_ms();
  if (target_.via_sentinel() && now < next_try_ms_) {
    *err = "redis: no primary known; asking the sentinels again in " +
           std::to_string(next_try_ms_ - now) + " ms";
    return false;
  }
  ctx_ = connect_redis(target_, timeout_ms_, &at_, err);
  if (!ctx_) {
    // Bounded retries: each failed discovery doubles the wait before the next.
    backoff_ms_ = backoff_ms_ ? std::min(2 * backoff_ms_, kMaxBackoffMs) : kMinBackoffMs;
    next_try_ms_ = steady_ms() + backoff_ms_;
    return false;
  }
  backoff_ms_ = 0;
  checked_ms_ = steady_ms();
  redisSetTimeout(ctx_, to_timeval(read_timeout_ms_));
  return true;
}

// A connection or protocol failure: the context is dropped, and the breaker
// counts it.
bool Redis::failed(std::string* err, std::string what) {
  *err = std::move(what);
  drop();
  if (breaker_ && breaker_->failure(steady_ms()))
    log_warn("redis: %s; skipping Redis for a while (circuit breaker open)", err->c_str());
  return false;
}

bool Redis::pipeline(const std::vector<RedisCommand>& cmds, std::vector<RedisReply>* replies,
                     std::string* err, bool past_breaker) {
  replies->clear();
  last_skipped_ = false;
  if (breaker_ && !past_breaker && !breaker_->allow(steady_ms())) {
    last_skipped_ = true;
    *err = "redis: skipped, circuit breaker open after repeated failures";
    return false;
  }
  ++round_trips_;
  // Why check: a thread that was idle while Redis restarted still holds a
  // connection to the old server. Its first call would fail on it and count
  // towards the breaker although Redis is up; reconnect instead, as nginx
  // checks a cached upstream connection before it reuses it.
  if (ctx_ && peer_closed(ctx_->fd)) drop();
  if (ctx_ && target_.via_sentinel() && steady_ms() - checked_ms_ >= kRecheckMs) {
    // Sentinels that cannot be asked leave the connection as it is.
    Address now_primary;
    std::string e;
    if (discover_primary(target_, timeout_ms_, &now_primary, &e) &&
        format_address(now_primary) != format_address(at_)) {
      log_info("redis: the sentinels name %s as the primary now; leaving %s",
               format_address(now_primary).c_str(), format_address(at_).c_str());
      drop();
    }
    checked_ms_ = steady_ms();
  }
  if (!ctx_) {
    std::string e;
    if (!ensure_connected(&e)) return failed(err, e);
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& cmd : cmds) {
    argv.clear();
    lens.clear();
    for (const auto& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK)
      return failed(err, std::string("redis append: ") + ctx_->errstr);
  }
  replies->reserve(cmds.size());
  for (size_t i = 0; i < cmds.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      std::string e = std::string("redis: ") + (ctx_->errstr[0] ? ctx_->errstr : "no reply");
      if (raw) freeReplyObject(raw);
      replies->clear();
      return failed(err, e);
    }
    replies->push_back(copy_reply(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  // The replies stand (the callers see the errors), but the next call looks
  // for the primary again.
  if (target_.via_sentinel())
    for (const auto& r : *replies)
      if (const RedisReply* e = not_primary(r)) {
        log_warn("redis: %s answers %s; asking the sentinels for the primary",
                 format_address(at_).c_str(), e->str.c_str());
        drop();
        break;
      }
  if (breaker_) breaker_->success();
  return true;
}

bool Redis::command(const RedisCommand& cmd, RedisReply* reply, std::string* err) {
  std::vector<RedisReply> replies;
  if (!pipeline({cmd}, &replies, err)) return false;
  *reply = std::move(replies[0]);
  if (reply->is_error()) {
    *err = "redis: " + reply->str;
    return false;
  }
  return true;
}

}  // namespace popup
