#include "core/crash_brake.h"

namespace popup {

CrashBrake::Verdict CrashBrake::note_crash(int64_t now, const CrashStormLimits& limits,
                                           CrashKind kind) {
  if (kind == CrashKind::in_request) {
    ++in_request_;
    return Verdict{};
  }
  crashes_.push_back(now);
  while (!crashes_.empty() && crashes_.front() < now - limits.window_s) crashes_.pop_front();
  if (static_cast<int>(crashes_.size()) < limits.count) return Verdict{};
  crashes_.clear();
  until_ = now + limits.pause_s;
  return Verdict{true, until_};
}

}  // namespace popup
