#include "lib/redis_feed.h"
#include "lib/clock.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

namespace popup {
namespace {

bool is_str(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

// A pushed ["message", channel, payload]; false for anything else (the
// subscription's confirmation).
bool message_keys(const redisReply* r, RedisFeed::Keys* out) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !is_str(r->element[0]) ||
      std::string(r->element[0]->str, r->element[0]->len) != "message")
    return false;
  const redisReply* p = r->element[2];
  if (p->type == REDIS_REPLY_NIL) {
    out->reset();
    return true;
  }
  out->emplace();
  if (p->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < p->elements; ++i)
      if (is_str(p->element[i])) (*out)->emplace_back(p->element[i]->str, p->element[i]->len);
  } else if (is_str(p)) {
    (*out)->emplace_back(p->str, p->len);
  }
  return true;
}

// The subscribed connection's answer to PING (RESP2): ["pong", ""].
bool is_pong(const redisReply* r) {
  return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && is_str(r->element[0]) &&
         std::string(r->element[0]->str, r->element[0]->len) == "pong";
}

}  // namespace

RedisFeed::RedisFeed(RedisTarget target, int timeout_ms)
    : target_(std::move(target)), timeout_ms_(timeout_ms) {}

RedisFeed::~RedisFeed() { close(); }

void RedisFeed::close() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
  ping_sent_ms_ = 0;
}

bool RedisFeed::alive(int64_t now_ms, int every_ms, int deadline_ms, std::string* why) {
  if (!ctx_) return false;
  if (ping_sent_ms_ > 0) {
    if (now_ms - ping_sent_ms_ <= deadline_ms) return true;
    *why = "redis: no answer to PING on the subscription for " +
           std::to_string(now_ms - ping_sent_ms_) + " ms";
    close();
    return false;
  }
  if (now_ms - pong_ms_ < every_ms) return true;
  int done = 0;
  if (redisAppendCommand(ctx_, "PING") != REDIS_OK) done = -1;
  while (done == 0)
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) done = -1;
  if (done < 0) {
    *why = std::string("redis: ") + (ctx_->errstr[0] ? ctx_->errstr : "cannot send PING");
    close();
    return false;
  }
  ping_sent_ms_ = now_ms;
  return true;
}

int RedisFeed::fd() const { return ctx_ ? ctx_->fd : -1; }

bool RedisFeed::primary_moved(std::string* why) {
  if (!ctx_ || !target_.via_sentinel() || steady_ms() - checked_ms_ < kRecheckMs) return false;
  checked_ms_ = steady_ms();
  Address now;
  std::string err;
  if (!discover_primary(target_, timeout_ms_, &now, &err)) return false;
  if (format_address(now) == format_address(at_)) return false;
  *why = "the sentinels name " + format_address(now) + " as the primary, no longer " +
         format_address(at_);
  return true;
}

RedisFeed::Open RedisFeed::open(const std::string& prefix, std::string* err) {
  close();
  ctx_ = connect_redis(target_, timeout_ms_, &at_, err);
  if (!ctx_) return Open::unreachable;
  checked_ms_ = pong_ms_ = steady_ms();
  auto call = [&](std::vector<std::string> args, redisReply** out) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    *out = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    return *out != nullptr;
  };
  redisReply* r = nullptr;
  Open result = Open::ok;
  std::string id;
  if (!call({"CLIENT", "ID"}, &r)) {
    result = Open::unreachable;
  } else if (r->type != REDIS_REPLY_INTEGER) {
    result = Open::refused;
  } else {
    id = std::to_string(r->integer);
  }
  if (result == Open::ok) {
    freeReplyObject(r);
    if (!call({"CLIENT", "TRACKING", "on", "REDIRECT", id, "BCAST", "PREFIX", prefix}, &r))
      result = Open::unreachable;
    else if (r->type == REDIS_REPLY_ERROR)
      result = Open::refused;
  }
  if (result == Open::ok) {
    freeReplyObject(r);
    if (!call({"SUBSCRIBE", "__redis__:invalidate"}, &r))
      result = Open::unreachable;
    else if (r->type != REDIS_REPLY_ARRAY)
      result = Open::refused;
  }
  if (result == Open::refused)
    *err = std::string("redis: ") + (r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len)
                                                                  : "unexpected reply");
  else if (result == Open::unreachable)
    *err = std::string("redis: ") + (ctx_->errstr[0] ? ctx_->errstr : "no reply");
  if (r) freeReplyObject(r);
  if (result != Open::ok) close();
  return result;
}

bool RedisFeed::read(bool from_socket, std::vector<Keys>* out, std::string* err) {
  if (!ctx_) {
    *err = "redis: not connected";
    return false;
  }
  bool ok = !from_socket || redisBufferRead(ctx_) == REDIS_OK;
  while (ok) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx_, &raw) != REDIS_OK) {
      ok = false;
      break;
    }
    if (!raw) break;
    Keys k;
    if (message_keys(static_cast<redisReply*>(raw), &k)) {
      out->push_back(std::move(k));
    } else if (is_pong(static_cast<redisReply*>(raw))) {
      ping_sent_ms_ = 0;
      pong_ms_ = steady_ms();
    }
    freeReplyObject(raw);
  }
  if (!ok) {
    *err = std::string("redis: ") + (ctx_->errstr[0] ? ctx_->errstr : "connection lost");
    close();
  }
  return ok;
}

}  // namespace popup
