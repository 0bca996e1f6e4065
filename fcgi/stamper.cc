#include "fcgi/stamper.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace popup {

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

EventStamper::EventStamper()
    : rng_(std::random_device{}() ^ (static_cast<uint64_t>(getpid()) << 32) ^ wall_us()) {}

Event EventStamper::make(const std::string& uid, int64_t popup_id, LastAction kind,
                         const UserState& st, int64_t now, const UserState* base) {
  Event e;
  last_order_ = std::max({last_order_ + 1, wall_us(), base ? base->order + 1 : 0});
  e.order = last_order_;
  // The order stamp first, then 64 random bits: ids of one moment sort
  // together, so MariaDB appends to popup_events' primary key instead of
  // splitting pages all over it (bench/writer_bench.py: about 30% less
  // MariaDB CPU per event than fully random ids). The random half keeps
  // ids of different threads and hosts apart within one microsecond.
  e.id = format_event_id(static_cast<uint64_t>(e.order), rng_());
  e.uid = uid;
  e.popup_id = popup_id;
  e.kind = kind;
  e.ts = now;
  e.state = st;
  e.state.order = e.order;
  return e;
}

}  // namespace popup
