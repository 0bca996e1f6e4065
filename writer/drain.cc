#include "writer/drain.h"

#include <algorithm>

#include "lib/log.h"

namespace popup {
namespace {

// At most this many batches are taken over at once (kMoveScript's ARGV[2]):
// a writer a second or two behind (MariaDB busy) still moves its backlog by
// RENAME (with 4, bench/results/20261126-202833 still spent 1.3 µs of Redis
// per warm GET copying), and a long backlog (after an outage) is still
// shared by several writers. Only the batch being applied is replayed after
// a crash: committed batches leave the processing list at once.
constexpr int kTakeBatches = 16;

}  // namespace

Drain::Drain(const Settings& s, volatile sig_atomic_t* stop, WriterQueue& queue,
             WriterStore& store, WriterClock& clock)
    : s_(s), stop_(stop), queue_(queue), store_(store), clock_(clock) {}

// Sleeps *backoff_ms (doubling it, up to 5 s) and keeps the heartbeat
// fresh meanwhile: a writer waiting out MySQL is alive.
void Drain::sleep_backoff(int* backoff_ms) {
  for (int waited = 0; waited < *backoff_ms && !stopping(); waited += 50) {
    clock_.sleep_ms(50);
    if (clock_.steady_ms() - beat_at_ms_ >= 1000) keep_alive();
  }
  *backoff_ms = std::min(*backoff_ms * 2, 5000);
}

// Refreshes the heartbeat while working; stops the writer when another
// owner holds it (writer.h). A Redis failure is left to the callers that
// log it (gather(), commit()).
void Drain::keep_alive() {
  if (!leased_ || lost_lease_) return;
  std::string holder;
  beat_at_ms_ = clock_.steady_ms();
  if (queue_.heartbeat(false, &holder) != WriterQueue::Lease::other) return;
  const QueueNames& n = queue_.names();
  log_error("writer %s: %s now belongs to %s, not %s; stopping without touching the queue",
            s_.writer_id.c_str(), n.alive.c_str(), holder.c_str(), n.owner.c_str());
  lost_lease_ = true;
}

// Waits until the heartbeat is this owner's: a writer of another
// supervisor may still be finishing its batch. False when stopped first.
bool Drain::acquire() {
  std::string holder, logged;
  while (!*stop_) {
    beat_at_ms_ = clock_.steady_ms();
    WriterQueue::Lease l = queue_.heartbeat(true, &holder);
    if (l == WriterQueue::Lease::held) return leased_ = true;
    if (l == WriterQueue::Lease::other && holder != logged) {
      log_warn("writer %s: %s is held by %s; waiting until it stops or expires",
               s_.writer_id.c_str(), queue_.names().alive.c_str(), holder.c_str());
      logged = holder;
    }
    for (int i = 0; i < (l == WriterQueue::Lease::error ? 10 : 2) && !*stop_; ++i)
      clock_.sleep_ms(50);
  }
  return false;
}

void Drain::release() {
  std::string err;
  if (!queue_.release(&err))
    log_error("writer %s: cannot delete %s (%s); it expires in %d ms", s_.writer_id.c_str(),
              queue_.names().alive.c_str(), err.c_str(), s_.writer_heartbeat_ttl_ms);
}

// The oldest batch_size items of the processing list, oldest first, read
// until Redis answers; false when stopped first.
bool Drain::read_in_hand(std::vector<std::string>* items) {
  int backoff = 200;
  std::string err;
  while (!queue_.in_hand(std::max(1, s_.batch_size), items, &err)) {
    if (stopping()) return false;
    sleep_backoff(&backoff);
  }
  return true;
}

// Decodes items; undecodable ones go to the dead letters (kept for a
// human).
std::vector<Event> Drain::decode(const std::vector<std::string>& items) {
  std::vector<Event> out;
  out.reserve(items.size());
  for (const auto& item : items) {
    auto e = decode_event(item);
    if (e.ok()) {
      out.push_back(std::move(e.value()));
      continue;
    }
    std::string err;
    ++st_.dead;
    // Either way the item leaves the batch; without the dead-letter copy
    // only this log line keeps it.
    if (queue_.dead_letter(item, &err))
      log_error("writer: undecodable event moved to %s: %s", queue_.names().dead_letters.c_str(),
                e.error().message.c_str());
    else
      log_error("writer: undecodable event dropped (%s; %s): %s", e.error().message.c_str(),
                err.c_str(), item.substr(0, 2000).c_str());
  }
  return out;
}

// Applies the processing list a batch at a time, oldest first, starting
// with `batch` (its oldest items, read_in_hand()), until the list is
// empty. Each batch is read when the one before has left the list, so
// neither Redis nor the writer handles more than batch_size events at once
// however much the move took over. False when stopped first: the rest stays
// in the processing list (the caller gives it back to the queue).
bool Drain::apply_in_hand(std::vector<std::string> batch) {
  while (!batch.empty()) {
    if (!commit(decode(batch), batch) || stopping()) return false;
    if (!read_in_hand(&batch)) return false;
  }
  return true;
}

// store_.apply(), noting when the writer last talked to the database.
bool Drain::applied(const std::vector<Event>& batch, std::string* err) {
  bool ok = store_.apply(batch, err);
  store_used_ = true;
  store_at_ms_ = clock_.steady_ms();
  return ok;
}

// Applies one batch until it commits, then acknowledges `items`, the
// processing-list items it was decoded from (the last batch empties the
// processing list); false when stopped before
// it committed, or when the lease was found lost (then nothing is
// acknowledged: the processing list, if a peer took it over, is the
// peer's, and the apply, if it happened, was a harmless replay).
bool Drain::commit(const std::vector<Event>& batch, const std::vector<std::string>& items) {
  int backoff = 100;
  int64_t t0 = clock_.steady_ms();
  std::string err;
  // A writer that lost its lease (stalled past its expiry, its list taken
  // over by a peer) applies nothing more.
  keep_alive();
  if (lost_lease_) return false;
  while (!applied(batch, &err)) {
    ++st_.errors;
    log_error("writer: batch of %zu not applied (%s); retrying in %d ms", batch.size(),
              err.c_str(), backoff);
    publish_stats();
    if (stopping()) return false;
    sleep_backoff(&backoff);
    if (stopping()) return false;
  }
  int trim_backoff = 100;
  for (;;) {
    WriterQueue::Ack a = queue_.acknowledge(items, &err);
    if (a == WriterQueue::Ack::done) break;
    if (a == WriterQueue::Ack::gone) {
      log_warn("writer %s: the batch of %zu it committed is no longer at the oldest end of %s "
               "(an acknowledgement whose reply was lost dropped it, or Redis failed over to a "
               "replica that had not seen it taken); nothing dropped, anything left is applied "
               "again harmlessly",
               s_.writer_id.c_str(), items.size(), queue_.names().in_hand.c_str());
      break;
    }
    if (a == WriterQueue::Ack::lost) {
      log_error("writer %s: %s now belongs to %s, not %s; the batch of %zu it committed is not "
                "acknowledged (its new owner applies it; a replay is harmless); stopping",
                s_.writer_id.c_str(), queue_.names().alive.c_str(), err.c_str(),
                queue_.names().owner.c_str(), batch.size());
      lost_lease_ = true;
      return false;
    }
    // Committed but not yet forgotten: a replay later is harmless.
    log_error("writer: cannot drop a committed batch from %s (%s)",
              queue_.names().in_hand.c_str(), err.c_str());
    if (stopping()) return true;
    sleep_backoff(&trim_backoff);
  }
  ++st_.batches;
  st_.events += static_cast<int64_t>(batch.size());
  st_.last_batch = static_cast<int64_t>(batch.size());
  st_.last_batch_ms = clock_.steady_ms() - t0;
  if (!batch.empty()) st_.lag_ms = (clock_.wall_us() - batch.front().order) / 1000;
  return true;
}

void Drain::give_back() {
  std::string err;
  if (auto n = queue_.give_back(&err))
    log_info("writer: returned %lld events to the queue", static_cast<long long>(*n));
  else
    log_error("writer: could not return the batch (%s); it stays in %s for the next start",
              err.c_str(), queue_.names().in_hand.c_str());
}

// Fills the processing list: blocks up to 1 s for the first event, then
// waits until batch_size events are queued or batch_ms has passed and
// moves them. Returns the processing list's oldest batch (oldest first) or
// an empty vector on timeout or error.
std::vector<std::string> Drain::gather() {
  std::vector<std::string> items(1);
  std::string err;
  WriterQueue::Wait w = queue_.wait_first(&items[0], &err);
  if (w == WriterQueue::Wait::error) {
    ++st_.errors;
    log_error("writer: %s", err.c_str());
    int backoff = 500;
    sleep_backoff(&backoff);
    return {};
  }
  if (w == WriterQueue::Wait::empty) {
    st_.lag_ms = 0;  // nothing waited for a whole second: no lag
    return {};
  }
  // The batch fills in the queue while the writer looks at its length (a
  // few looks per batch_ms); then one script moves it, by RENAME when all
  // of it fits in kTakeBatches batches (the processing list holds the one
  // in hand), and apply_in_hand() applies it a batch at a time.
  int want = s_.batch_size - 1;
  if (want <= 0) return items;
  int64_t deadline = clock_.steady_ms() + s_.batch_ms;
  for (int64_t left = s_.batch_ms; left > 0 && !stopping(); left = deadline - clock_.steady_ms()) {
    auto n = queue_.depth();
    if (!n || *n >= want) break;
    clock_.sleep_ms(std::min<int64_t>(left, 10));
  }
  if (!queue_.take(want, kTakeBatches * s_.batch_size - 1, std::max(1, s_.batch_size), &items,
                   &err)) {
    // The script may have run all the same: the batch is what the list
    // holds, never just the one in hand (committing that and deleting the
    // list would lose the rest). Stopped first: the next start's recover().
    log_error("writer: moving a batch: %s", err.c_str());
    if (!read_in_hand(&items)) return {};
  }
  return items;
}

void Drain::publish_stats() {
  keep_alive();
  if (lost_lease_) return;
  if (auto n = queue_.depth()) st_.depth = *n;
  st_.db_node = store_.node();
  st_.db_reachable = store_.reachable();
  queue_.publish(st_);
  int64_t t = clock_.steady_ms();
  if (t - logged_at_ms_ < 10000) return;
  if (st_.events != logged_events_ || logged_at_ms_ == 0)
    log_info("writer: %lld events in %lld batches since last report; queue depth %lld, "
             "last batch %lld, lag %lld ms, errors %lld",
             static_cast<long long>(st_.events - logged_events_),
             static_cast<long long>(st_.batches - logged_batches_),
             static_cast<long long>(st_.depth), static_cast<long long>(st_.last_batch),
             static_cast<long long>(st_.lag_ms), static_cast<long long>(st_.errors));
  logged_at_ms_ = t;
  logged_events_ = st_.events;
  logged_batches_ = st_.batches;
}

// On start: whatever a previous run left in the processing list.
void Drain::recover() {
  std::vector<std::string> items;
  if (!read_in_hand(&items) || items.empty() || stopping()) return;
  auto n = queue_.in_hand_count();
  log_info("writer: re-applying %lld events left in %s by a previous run",
           static_cast<long long>(n.value_or(-1)), queue_.names().in_hand.c_str());
  if (!apply_in_hand(std::move(items))) give_back();
}

// At most every writer_recover_period_ms, with its own processing list
// empty: takes over, one at a time, the processing lists that writers with
// an expired heartbeat left (WriterQueue::claim, atomic: of several
// writers that race for a list one gets it) and applies them as its own.
// Stopped meanwhile: the rest goes back to the queue, as the writer's own
// batch would.
void Drain::recover_peers() {
  int64_t now = clock_.steady_ms();
  if (peers_checked_ && now - peers_at_ms_ < s_.writer_recover_period_ms) return;
  peers_checked_ = true;
  peers_at_ms_ = now;
  while (!stopping()) {
    std::string from, err;
    int64_t n = 0;
    WriterQueue::Claim c = queue_.claim(&from, &n, &err);
    if (c == WriterQueue::Claim::none) return;
    if (c == WriterQueue::Claim::error) {
      ++st_.errors;
      log_error("writer %s: looking for dead peers' batches: %s", s_.writer_id.c_str(),
                err.c_str());
      return;
    }
    log_warn("writer %s: writer %s's heartbeat expired with %lld events in hand; took them over "
             "into %s",
             s_.writer_id.c_str(), from.c_str(), static_cast<long long>(n),
             queue_.names().in_hand.c_str());
    std::vector<std::string> items;
    if (!read_in_hand(&items) || !apply_in_hand(std::move(items))) {
      if (!lost_lease_) give_back();
      return;
    }
    ++st_.recovered;
    log_info("writer %s: applied the %lld events writer %s left in hand", s_.writer_id.c_str(),
             static_cast<long long>(n), from.c_str());
  }
}

// While idle, at most every kIdleCheckMs since the writer last talked to
// the database: a round trip to it (WriterStore::check), so a database lost
// while nothing is queued shows in mysql_reachable (published next) and
// the alert on it can fire. A failing node moves the store to the next one
// as a failed batch does. Logged when the answer changes.
void Drain::check_store() {
  if (store_used_ && clock_.steady_ms() - store_at_ms_ < kIdleCheckMs) return;
  // A hung node holds the check up to the read timeout: the lease starts
  // it fresh.
  keep_alive();
  if (stopping()) return;
  std::string err;
  bool ok = store_.check(&err);
  store_used_ = true;
  store_at_ms_ = clock_.steady_ms();
  if (!ok && store_answered_)
    log_error("writer %s: idle, and the database does not answer: %s", s_.writer_id.c_str(),
              err.c_str());
  else if (ok && !store_answered_)
    log_info("writer %s: the database answers again (node %s)", s_.writer_id.c_str(),
             store_.node().c_str());
  store_answered_ = ok;
}

int Drain::run() {
  log_info("writer %s: draining %s (batch %d events / %d ms)", s_.writer_id.c_str(),
           queue_.names().queue.c_str(), s_.batch_size, s_.batch_ms);
  if (!acquire()) return 0;
  recover();
  int64_t stats_at = 0;
  while (!stopping()) {
    recover_peers();
    if (stopping()) break;
    auto items = gather();
    bool idle = items.empty();
    if (idle && !stopping()) check_store();
    if (!idle && !apply_in_hand(std::move(items))) {
      if (!lost_lease_) give_back();  // else its batch is the new owner's
      break;
    }
    if (clock_.steady_ms() - stats_at >= 500 || idle) {
      publish_stats();
      stats_at = clock_.steady_ms();
    }
  }
  if (lost_lease_) return 3;
  publish_stats();
  release();
  log_info("writer %s: stopped after %lld events", s_.writer_id.c_str(),
           static_cast<long long>(st_.events));
  return 0;
}

}  // namespace popup
