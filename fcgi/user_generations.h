// The invalidation feed between the processes of one host (issue 10): a
// table of generation counters in shared memory (state_dir/users.shm),
// indexed by a hash of the uid. A process that writes a user's state
// without owning the user (an action sent without ?uid=, a GET under
// spawn-fcgi or on the shared socket) bumps the user's counter before it
// answers; the owner compares the counter with the one its memory entry
// was read under (core/user_cache.h) and reads Redis again when they
// differ. Two users that share a counter only cost each other a re-read.
//
// Processes on other hosts do not see this table: there an owner sees such
// a write within state_cache_stale_s (README "User affinity").
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace popup {

class UserGenerations {
 public:
  static constexpr size_t kSize = 1 << 16;

  // Maps state_dir/users.shm (created when missing); with an empty
  // state_dir, or when it cannot be mapped, private memory (this process
  // only).
  explicit UserGenerations(const std::string& state_dir);
  ~UserGenerations();
  UserGenerations(const UserGenerations&) = delete;
  UserGenerations& operator=(const UserGenerations&) = delete;

  uint64_t get(std::string_view uid) const {
    return table_[index(uid)].load(std::memory_order_acquire);
  }
  void bump(std::string_view uid) { table_[index(uid)].fetch_add(1, std::memory_order_acq_rel); }
  bool shared() const { return mapped_; }

  // FNV-1a, the same in every process.
  static size_t index(std::string_view uid) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : uid) h = (h ^ c) * 1099511628211ULL;
    return h % kSize;
  }

 private:
  std::atomic<uint64_t>* table_ = nullptr;
  bool mapped_ = false;
};

}  // namespace popup
