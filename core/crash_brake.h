// The respawn brake of a supervisor (php-fpm's emergency_restart_threshold):
// a child that dies right after it starts (a bad configuration, a dependency
// that crashes it) would otherwise be forked again in a tight loop. After
// `count` crashes within `window_s` seconds the supervisor pauses respawning
// for `pause_s` seconds; the crashes counted so far are then forgotten, so
// the next storm needs `count` new ones. The caller passes the clock and the
// limits (a reload may change them), so the logic is pure.
#pragma once

#include <cstdint>
#include <deque>

namespace popup {

struct CrashStormLimits {
  int count = 10;     // this many crashes ...
  int window_s = 10;  // ... within this many seconds ...
  int pause_s = 5;    // ... pause respawning for this long
};

class CrashBrake {
 public:
  struct Verdict {
    bool pause = false;  // this crash completed a storm: stop respawning ...
    int64_t until = 0;   // ... until this time (seconds, the caller's clock)
  };

  // Counts a crash at `now` (seconds; calls come in time order). Returns
  // pause = true when it is the `count`th within `window_s`, with until =
  // now + pause_s; otherwise pause = false and until = 0.
  Verdict note_crash(int64_t now, const CrashStormLimits& limits);

  // Crashes still inside the window as of the last note_crash.
  int recent() const { return static_cast<int>(crashes_.size()); }

  // Whether respawning is paused at `now` (until the last storm's until).
  bool holding(int64_t now) const { return now < until_; }

 private:
  std::deque<int64_t> crashes_;
  int64_t until_ = 0;
};

}  // namespace popup
