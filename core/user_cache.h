// The states of the users a worker process owns, in memory (the
// hot GET decides from here and makes no Redis round trip).
//
// Bounded by a budget in bytes, split evenly over lock stripes; each stripe
// drops its least recently used users beyond its share. An entry is trusted
// for stale_ms after it was read from Redis (or MySQL), and only while the
// user's invalidation generation (bumped by any process that writes the
// user's state outside the owner, fcgi/user_generations.h) is the one it was
// read under.
//
// Threads serialize on a user through its stripe's lock: a Handle holds it
// from lookup to the last change, so two concurrent visits of one user are
// decided one after the other. No IO here.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/popup.h"

namespace popup {

struct CachedUser {
  UserStates states;
  int64_t filled_ms = 0;    // when it was read (a monotonic clock, ms)
  uint64_t generation = 0;  // the user's generation when it was read
};

class UserCache {
  struct Node {
    std::string uid;
    CachedUser user;
    size_t bytes = 0;
  };
  struct Stripe {
    std::mutex mu;
    std::list<Node> lru;  // front: most recently used
    std::unordered_map<std::string_view, std::list<Node>::iterator> index;
    size_t bytes = 0;
  };

 public:
  // budget_bytes: the whole cache's limit; stale_ms: how long an entry is
  // trusted (<= 0: never, every lookup misses).
  UserCache(size_t budget_bytes, int64_t stale_ms, size_t stripes = 64);
  UserCache(const UserCache&) = delete;
  UserCache& operator=(const UserCache&) = delete;

  // Holds one user's stripe lock while it lives.
  class Handle {
   public:
    // The user's entry when it is present, was filled at most stale_ms
    // before now_ms and under generation `gen`; otherwise nullptr (an entry
    // that is too old or invalidated is dropped). A hit makes it the most
    // recently used.
    CachedUser* find(int64_t now_ms, uint64_t gen);
    // Stores the user's entry (replacing any) and returns it.
    CachedUser& fill(UserStates states, int64_t now_ms, uint64_t gen);
    // Call after changing the states of the entry find/fill returned: its
    // size is counted again and the stripe trimmed to its budget.
    void changed();
    // Forgets the user.
    void drop();

   private:
    friend class UserCache;
    Handle(UserCache& c, Stripe& s, std::string_view uid)
        : cache_(c), stripe_(s), lock_(s.mu), uid_(uid) {}
    UserCache& cache_;
    Stripe& stripe_;
    std::unique_lock<std::mutex> lock_;
    std::string uid_;
  };

  Handle lock(std::string_view uid);

  // Drops every entry (the invalidation feed was lost, say).
  void clear();

  size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  size_t entries() const { return entries_.load(std::memory_order_relaxed); }
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
  size_t budget() const { return stripe_budget_ * stripes_.size(); }

  // What one entry is counted as: its uid, its states and the bookkeeping
  // around them (list node, index slot, hash nodes), rounded up.
  static size_t entry_bytes(std::string_view uid, const UserStates& states);

 private:
  void erase(Stripe& s, std::list<Node>::iterator it);
  void trim(Stripe& s);

  std::vector<std::unique_ptr<Stripe>> stripes_;
  size_t stripe_budget_;
  int64_t stale_ms_;
  std::atomic<size_t> bytes_{0};
  std::atomic<size_t> entries_{0};
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace popup
