// The invalidation feed between the processes of one host: a
// table of generation counters in shared memory (state_dir/users.shm),
// indexed by a hash of the uid. A process that writes a user's state
// without owning the user (an action sent without ?uid=, a GET under
// spawn-fcgi or on the shared socket) bumps the user's counter before it
// answers; the owner compares the counter with the one its memory entry
// was read under (core/user_cache.h) and reads Redis again when they
// differ. Two users that share a counter only cost each other a re-read.
//
// The second table counts, per worker slot and uid hash, the impressions
// an owner has decided but its write-behind has not yet stored. A process
// that must write a user it does not own waits (briefly, bounded) until
// they are stored before it reads the user's state from Redis: otherwise
// its write would be based on a state without them, and the owner's late
// flush would then overwrite the newer state it wrote.
//
// Processes on other hosts do not see these tables: there an owner sees such
// a write within state_cache_stale_s, and an owner's unflushed impression
// can outlive a foreign action's state (docs/design.md "User affinity"); clients
// that send ?uid= with their actions never take that path.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace popup {

class UserGenerations {
 public:
  // 2M counters (16 MiB, mapped sparse): an owner bumps its users' counters
  // on every impression, so a bucket shared with an active user costs a
  // re-read; with 1<<16, 8.5 % of a 10,000-user warm set missed memory.
  static constexpr size_t kSize = 1 << 21;
  static constexpr int kSlots = 256;            // worker slots (workers <= 256)
  static constexpr size_t kPendingSize = 4096;  // buckets per slot

  // Maps state_dir/users.shm (created when missing); with an empty
  // state_dir, or when it cannot be mapped, private memory (this process
  // only).
  // slots: how many worker slots the pool has (wait_stored looks at those).
  UserGenerations(const std::string& state_dir, int slots);
  ~UserGenerations();
  UserGenerations(const UserGenerations&) = delete;
  UserGenerations& operator=(const UserGenerations&) = delete;

  uint64_t get(std::string_view uid) const {
    return table_[index(uid)].load(std::memory_order_acquire);
  }
  // Returns the new generation.
  uint64_t bump(std::string_view uid) {
    return table_[index(uid)].fetch_add(1, std::memory_order_acq_rel) + 1;
  }
  bool shared() const { return mapped_; }

  // The owner of worker slot `slot` queued / stored an impression of uid.
  void pending_add(int slot, std::string_view uid) {
    if (slot >= 0 && slot < kSlots) pending(slot, uid).fetch_add(1, std::memory_order_acq_rel);
  }
  // Never below zero: a reload's new worker resets the slot while the old
  // one may still count down what it stored (a wrapped count would make
  // every process wait the full bound for that bucket).
  void pending_done(int slot, std::string_view uid) {
    if (slot < 0 || slot >= kSlots) return;
    auto& a = pending(slot, uid);
    uint32_t v = a.load(std::memory_order_acquire);
    while (v > 0 && !a.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel)) {
    }
  }
  // A fresh worker in `slot`: its predecessor's counts are void.
  void reset_slot(int slot);
  // Waits until no slot has an unstored impression in uid's bucket, or
  // until `max_ms` passed. False when time ran out.
  bool wait_stored(std::string_view uid, int max_ms) const;

  // FNV-1a, the same in every process.
  static size_t index(std::string_view uid) {
    uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : uid) h = (h ^ c) * 1099511628211ULL;
    return h % kSize;
  }

 private:
  std::atomic<uint32_t>& pending(int slot, std::string_view uid) const {
    return pending_[static_cast<size_t>(slot) * kPendingSize + index(uid) % kPendingSize];
  }
  std::atomic<uint64_t>* table_ = nullptr;
  std::atomic<uint32_t>* pending_ = nullptr;
  int slots_ = kSlots;
  bool mapped_ = false;
};

}  // namespace popup
