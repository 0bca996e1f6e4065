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
                         const UserState& st, int64_t now) {
  Event e;
  e.id = format_event_id(rng_(), rng_());
  e.uid = uid;
  e.popup_id = popup_id;
  e.kind = kind;
  e.ts = now;
  last_order_ = std::max(last_order_ + 1, wall_us());
  e.order = last_order_;
  e.state = st;
  return e;
}

}  // namespace popup
