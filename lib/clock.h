// Milliseconds of the monotonic clock: for deadlines and intervals, never
// for anything shown or stored (those use the wall clock); and timeouts as
// hiredis takes them.
#pragma once

#include <sys/time.h>

#include <chrono>
#include <cstdint>

namespace popup {

inline int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A timeout in milliseconds as the timeval hiredis takes.
inline timeval to_timeval(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

}  // namespace popup
