#include "core/user_cache.h"

#include <functional>

namespace popup {

UserCache::UserCache(size_t budget_bytes, int64_t stale_ms, size_t stripes)
    : stripe_budget_(budget_bytes / (stripes ? stripes : 1)), stale_ms_(stale_ms) {
  for (size_t i = 0; i < (stripes ? stripes : 1); ++i) stripes_.push_back(std::make_unique<Stripe>());
}

size_t UserCache::entry_bytes(std::string_view uid, const UserStates& states) {
  // Measured shapes on libstdc++ x86_64: a list node with Node ~ 160 bytes,
  // an index slot ~ 48, a hash node with its bucket ~ 64 per state.
  return 224 + uid.size() + 64 * states.size();
}

UserCache::Handle UserCache::lock(std::string_view uid) {
  size_t h = std::hash<std::string_view>{}(uid);
  return Handle(*this, *stripes_[h % stripes_.size()], uid);
}

void UserCache::erase(Stripe& s, std::list<Node>::iterator it) {
  s.bytes -= it->bytes;
  bytes_.fetch_sub(it->bytes, std::memory_order_relaxed);
  entries_.fetch_sub(1, std::memory_order_relaxed);
  s.index.erase(std::string_view(it->uid));
  s.lru.erase(it);
}

// Drops least recently used entries beyond the stripe's share, never the
// most recent one (the entry a caller is working on).
void UserCache::trim(Stripe& s) {
  while (s.bytes > stripe_budget_ && s.lru.size() > 1) {
    erase(s, std::prev(s.lru.end()));
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

void UserCache::clear() {
  for (auto& s : stripes_) {
    std::lock_guard<std::mutex> l(s->mu);
    while (!s->lru.empty()) erase(*s, s->lru.begin());
  }
}

CachedUser* UserCache::Handle::find(int64_t now_ms, uint64_t gen) {
  auto it = stripe_.index.find(uid_);
  if (it == stripe_.index.end()) return nullptr;
  auto node = it->second;
  const CachedUser& u = node->user;
  if (cache_.stale_ms_ <= 0 || now_ms - u.filled_ms >= cache_.stale_ms_ ||
      now_ms < u.filled_ms || u.generation != gen ||
      u.filled_ms < cache_.trusted_since_.load(std::memory_order_acquire)) {
    cache_.erase(stripe_, node);
    return nullptr;
  }
  stripe_.lru.splice(stripe_.lru.begin(), stripe_.lru, node);
  return &node->user;
}

CachedUser& UserCache::Handle::fill(UserStates states, int64_t now_ms, uint64_t gen) {
  drop();
  stripe_.lru.push_front(Node{uid_, CachedUser{std::move(states), now_ms, gen}, 0});
  auto node = stripe_.lru.begin();
  stripe_.index.emplace(std::string_view(node->uid), node);
  cache_.entries_.fetch_add(1, std::memory_order_relaxed);
  changed();
  return node->user;
}

void UserCache::Handle::changed() {
  auto it = stripe_.index.find(uid_);
  if (it == stripe_.index.end()) return;
  Node& n = *it->second;
  size_t now = entry_bytes(n.uid, n.user.states);
  stripe_.bytes += now;
  stripe_.bytes -= n.bytes;
  cache_.bytes_.fetch_add(now, std::memory_order_relaxed);
  cache_.bytes_.fetch_sub(n.bytes, std::memory_order_relaxed);
  n.bytes = now;
  // Keep the changed entry at the front so trimming spares it.
  stripe_.lru.splice(stripe_.lru.begin(), stripe_.lru, it->second);
  cache_.trim(stripe_);
}

CachedUser* UserCache::Handle::entry() {
  auto it = stripe_.index.find(uid_);
  return it == stripe_.index.end() ? nullptr : &it->second->user;
}

void UserCache::Handle::drop() {
  auto it = stripe_.index.find(uid_);
  if (it != stripe_.index.end()) cache_.erase(stripe_, it->second);
}

}  // namespace popup
