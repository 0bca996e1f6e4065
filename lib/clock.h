// Milliseconds of the monotonic clock: for deadlines and intervals, never
// for anything shown or stored (those use the wall clock).
#pragma once

#include <chrono>
#include <cstdint>

namespace popup {

inline int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace popup
