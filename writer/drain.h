// The queue writer's logic over its ports (writer/ports.h): the lease,
// batching, commits with retries, recovery of a processing list left by a
// previous run, dead letters and the stats. It does no IO of its own
// (beyond the log), so tests/unit/writer_test.cc runs it on fakes; the
// reliable-queue design it follows is described in writer/writer.h.
#pragma once

#include <csignal>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/settings.h"
#include "writer/ports.h"

namespace popup {

class Drain {
 public:
  // Uses s.batch_size, s.batch_ms, s.writer_id, s.writer_heartbeat_ttl_ms
  // and s.writer_recover_period_ms; the references must outlive the Drain.
  Drain(const Settings& s, volatile sig_atomic_t* stop, WriterQueue& queue, WriterStore& store,
        WriterClock& clock);

  // Waits for the heartbeat lease, applies what a previous run left in
  // hand, then drains until *stop becomes non-zero, taking over and
  // applying between batches what dead peers left in hand; then finishes the
  // batch in hand or, if MySQL is down, gives it back to the queue, and
  // releases the lease. Returns 0 after a stop, 3 when another owner took
  // the lease (then the processing list is left alone: it is the new
  // owner's).
  int run();

  const WriterStats& stats() const { return st_; }

  // An idle writer (its queue empty) that has not talked to its database
  // for this long checks it (WriterStore::check), so that mysql_reachable
  // follows the database without a batch.
  static constexpr int64_t kIdleCheckMs = 5000;

 private:
  bool stopping() const { return *stop_ || lost_lease_; }
  void sleep_backoff(int* backoff_ms);
  void keep_alive();
  bool acquire();
  void release();
  bool read_in_hand(std::vector<std::string>* items);
  std::vector<Event> decode(const std::vector<std::string>& items);
  bool apply_in_hand(std::vector<std::string> batch);
  bool applied(const std::vector<Event>& batch, std::string* err);
  bool commit(const std::vector<Event>& batch, const std::vector<std::string>& items);
  void give_back();
  std::vector<std::string> gather();
  void publish_stats();
  void recover();
  void recover_peers();
  void check_store();

  const Settings& s_;
  volatile sig_atomic_t* stop_;
  WriterQueue& queue_;
  WriterStore& store_;
  WriterClock& clock_;
  WriterStats st_;
  int64_t logged_at_ms_ = 0, logged_events_ = 0, logged_batches_ = 0;
  bool leased_ = false;      // the heartbeat was taken (acquire)
  bool lost_lease_ = false;  // ... and then found in another owner's hands
  int64_t beat_at_ms_ = 0;   // last heartbeat attempt
  bool peers_checked_ = false;  // recover_peers() looked at least once
  int64_t peers_at_ms_ = 0;     // ... and last at this time
  bool store_used_ = false;     // apply() or check() ran at least once
  int64_t store_at_ms_ = 0;     // ... and last ended at this time
  bool store_answered_ = true;  // the last check found a node
};

}  // namespace popup
