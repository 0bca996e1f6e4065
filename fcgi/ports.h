// The narrow interfaces the request handlers (fcgi/handlers.h) see the
// world through, in the manner of Ninja's DiskInterface: the real adapters
// over Redis, MySQL and shared memory are in fcgi/adapters.h; the unit
// tests give fakes (tests/unit/handlers_test.cc), so the fallback ladder,
// the shared GET's retries and the owner's memory are tested without a
// server.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/popup.h"

namespace popup {

// What a read of one user's Redis hash gave.
struct HashRead {
  bool ok = false;        // Redis answered
  bool complete = false;  // the hash holds MySQL's copy too (store.h kLoadedField)
  UserStates states;
  // The configuration to decide with: the process's, or (when it had none)
  // the one the read fetched; nullptr when none is known.
  std::shared_ptr<const ConfigSet> cfg;
};

// The users' hashes in Redis.
class UserStore {
 public:
  virtual ~UserStore() = default;
  // The user's hash; watch: WATCHed first, for commit(). A failed read is
  // tried once more before it counts as failed.
  virtual HashRead read(const std::string& uid, bool watch) = 0;
  // Copies MySQL's copy into the hash (only the fields it lacks, plus the
  // loaded mark and the TTL). A cache: a failure is only counted.
  virtual void fill(const std::string& uid, const UserStates& durable) = 0;
  enum class Commit { stored, conflict, failed };
  // Stores an impression's state and queues its event in one MULTI/EXEC,
  // which Redis refuses (conflict) when the hash changed since
  // read(uid, true).
  virtual Commit commit(const Event& ev) = 0;
};

// MySQL, the durable copy.
class DurableStore {
 public:
  virtual ~DurableStore() = default;
  // The user's states; nullopt when MySQL fails.
  virtual std::optional<UserStates> user_states(const std::string& uid) = 0;
  // The whole configuration set (the last resort while Redis is down and
  // the process has none); nullptr when MySQL fails.
  virtual std::shared_ptr<const ConfigSet> config() = 0;
};

// The other processes of the host (fcgi/user_generations.h).
class Neighbours {
 public:
  virtual ~Neighbours() = default;
  // The user's invalidation generation, and a bump of it after any write
  // of the user's state; returns the new generation, which the writer's
  // own memory entry takes, so only the other processes' copies go stale.
  virtual uint64_t generation(std::string_view uid) = 0;
  virtual uint64_t changed(std::string_view uid) = 0;
  // This owner queued an impression of the user (the write-behind counts
  // it down when stored).
  virtual void queued(std::string_view uid) = 0;
  // Waits (bounded) until no owner has an unstored impression of the user.
  // false: some were still unstored when the bound ran out, so Redis's copy
  // of the user may lack them.
  virtual bool wait_stored(std::string_view uid) = 0;
};

// A monotonic clock in milliseconds (memory entries' ages).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t steady_ms() = 0;
};

}  // namespace popup
