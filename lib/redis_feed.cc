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

}  // namespace

RedisFeed::RedisFeed(Address addr, int timeout_ms) : addr_(std::move(addr)), timeout_ms_(timeout_ms) {}

RedisFeed::~RedisFeed() { close(); }

void RedisFeed::close() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

int RedisFeed::fd() const { return ctx_ ? ctx_->fd : -1; }

RedisFeed::Open RedisFeed::open(const std::string& prefix, std::string* err) {
  close();
  timeval tv = to_timeval(timeout_ms_);
  ctx_ = addr_.is_unix ? redisConnectUnixWithTimeout(addr_.path.c_str(), tv)
                       : redisConnectWithTimeout(addr_.host.c_str(), addr_.port, tv);
  if (!ctx_ || ctx_->err) {
    *err = ctx_ ? std::string("redis connect: ") + ctx_->errstr : "redis connect: out of memory";
    close();
    return Open::unreachable;
  }
  redisSetTimeout(ctx_, tv);
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
    if (message_keys(static_cast<redisReply*>(raw), &k)) out->push_back(std::move(k));
    freeReplyObject(raw);
  }
  if (!ok) {
    *err = std::string("redis: ") + (ctx_->errstr[0] ? ctx_->errstr : "connection lost");
    close();
  }
  return ok;
}

}  // namespace popup
