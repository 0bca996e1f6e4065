// Write-behind for one worker process: the impressions its
// threads decide from memory are handed to one flusher thread, which
// stores them in batches (one Redis pipeline for up to flush_events
// events, at most flush_ms after the first one waited). Actions go through
// the same queue, so a user's writes reach Redis in the order they were
// decided, but an action's caller waits for its batch: its 202 is a promise.
//
// The flusher does no IO itself: it hands batches to an EventSink (the
// Redis/MySQL EventQueue in fcgi/event_queue.h; a fake in the unit tests).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/event.h"

namespace popup {

// One event to store. once_ttl_s > 0: store it only once (an action
// whose id comes from its idempotency key; the marker lives that long).
struct Pending {
  Event event;
  int64_t once_ttl_s = 0;
};

enum class Stored { yes, before, failed };  // before: a keyed action seen already

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Stores a batch in order and says, for each item, what became of it.
  virtual std::vector<Stored> store(const std::vector<Pending>& batch) = 0;
};

struct FlusherOptions {
  std::chrono::milliseconds interval{2};
  size_t batch = 200;
  // Impressions waiting beyond this are dropped, oldest first (the sink is
  // down for long); they may then be shown once more.
  size_t max_waiting = 100000;
  // After a batch failed, impressions wait this long before the next try
  // (actions are tried at once).
  std::chrono::milliseconds retry{200};
  // Kept equal to waiting() (shared memory that /api/metrics reads, so that
  // tests and operators see the write-behind empty); nullptr: nowhere.
  std::atomic<int64_t>* gauge = nullptr;
  // Called for each impression once it leaves the queue (stored, or given
  // up), possibly under the flusher's lock: it must not call the flusher.
  // May be empty.
  std::function<void(const Pending&)> left;
};

class Flusher {
 public:
  Flusher(EventSink& sink, FlusherOptions o);
  ~Flusher();  // stop()
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  // An impression: queued, not waited for.
  void queue(Pending p);
  // An action: queued behind what waits, flushed at once; returns when its
  // batch was stored (or failed).
  Stored store(Pending p);
  // Stores what waits (one last try) and ends the thread.
  void stop();

  // Events not yet stored: queued, or in the batch being stored.
  size_t waiting() const;
  uint64_t dropped() const;
  uint64_t batches() const;

 private:
  struct Waiter {
    bool done = false;
    Stored result = Stored::failed;
  };
  struct Item {
    Pending p;
    std::shared_ptr<Waiter> waiter;  // null for impressions
  };
  void run();
  void publish();  // the gauge, under mu_
  // Takes up to o_.batch items and stores them; false when the batch failed
  // (its impressions are back at the front).
  bool flush_some(std::unique_lock<std::mutex>& l);

  EventSink& sink_;
  FlusherOptions o_;
  mutable std::mutex mu_;
  std::condition_variable wake_;   // the thread: work or stop
  std::condition_variable done_;   // callers of store()
  std::deque<Item> items_;
  size_t actions_waiting_ = 0;
  size_t in_sink_ = 0;  // taken for the batch in the sink's hands
  bool stopping_ = false;
  bool running_ = true;  // false once run() has left
  uint64_t dropped_ = 0;
  uint64_t batches_ = 0;
  std::thread thread_;
};

}  // namespace popup
