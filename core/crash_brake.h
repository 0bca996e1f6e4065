// The respawn brake of a supervisor (php-fpm's emergency_restart_threshold):
// a child that dies right after it starts (a bad configuration, a dependency
// that crashes it) would otherwise be forked again in a tight loop. After
// `count` crashes within `window_s` seconds the supervisor pauses respawning
// for `pause_s` seconds; the crashes counted so far are then forgotten, so
// the next storm needs `count` new ones. The caller passes the clock and the
// limits (a reload may change them), so the logic is pure.
//
// Only crashes of a child that had no request in hand count.
// A child that dies while it serves a request had started and was serving,
// so respawning it is not pointless, and its crashes come no faster than the
// requests that cause them; braking those would leave its socket (a worker
// slot that nginx hashes users to) without any worker for pause_s, an
// outage any client could cause by sending the crashing input ten times.
// Such a crash is respawned at once and never pauses; a start-up failure
// (bad configuration, a dependency that crashes it) happens before any
// request is in hand and is braked as before.
#pragma once

#include <cstdint>
#include <deque>

namespace popup {

// What a child was doing when it died.
enum class CrashKind {
  idle,        // no request in hand: at start-up, or a fault of its own
  in_request,  // it was serving a request: the input may have caused it
};

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
  // pause = true when it is the `count`th idle crash within `window_s`, with
  // until = now + pause_s; otherwise pause = false and until = 0. An
  // in_request crash is only tallied (in_request_crashes) and never pauses.
  Verdict note_crash(int64_t now, const CrashStormLimits& limits,
                     CrashKind kind = CrashKind::idle);

  // Idle crashes still inside the window as of the last note_crash.
  int recent() const { return static_cast<int>(crashes_.size()); }

  // Crashes with a request in hand so far (respawned at once, not braked).
  int64_t in_request_crashes() const { return in_request_; }

  // Whether respawning is paused at `now` (until the last storm's until).
  bool holding(int64_t now) const { return now < until_; }

 private:
  std::deque<int64_t> crashes_;
  int64_t until_ = 0;
  int64_t in_request_ = 0;
};

}  // namespace popup
