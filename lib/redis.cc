#include "lib/redis.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>

#include "lib/log.h"
#include "lib/clock.h"

namespace popup {

Address redis_address(const Settings& s) {
  auto a = parse_address(s.redis);
  return a ? *a : Address{};
}
namespace {

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

Redis::Redis(Address addr, int timeout_ms)
    : addr_(std::move(addr)), timeout_ms_(timeout_ms), read_timeout_ms_(timeout_ms) {}

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
  timeval tv = to_timeval(timeout_ms_);
  ctx_ = addr_.is_unix ? redisConnectUnixWithTimeout(addr_.path.c_str(), tv)
                       : redisConnectWithTimeout(addr_.host.c_str(), addr_.port, tv);
  if (!ctx_ || ctx_->err) {
    *err = ctx_ ? std::string("redis connect: ") + ctx_->errstr : "redis connect: out of memory";
    drop();
    return false;
  }
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
