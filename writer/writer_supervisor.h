// popup-writer's own small supervisor. The spawn-fcgi pool has no popupd
// supervisor, so the writer must not depend on one: the process that
// stack.sh (or an init system) starts forks the real writer, reaps it with
// waitpid, logs how each child ended, starts a new one when it dies, and
// brakes a crash storm with popupd's settings (crash_storm_count, _window_s,
// _pause_s; core/crash_brake.h). SIGTERM, SIGINT and SIGQUIT are forwarded
// to the child, which finishes the batch in hand; the supervisor exits once
// it has left (after stop_timeout_s it is killed). The child dies with its
// parent (PR_SET_PDEATHSIG SIGTERM), so a supervisor killed with SIGKILL
// leaves no writer behind beyond the batch that one is finishing.
#pragma once

#include <string>

#include "core/settings.h"

namespace popup {

// The writer as run in the child, with default signal dispositions and an
// empty signal mask; returns the child's exit code. `owner` names this
// supervisor ("<host>:<pid>"): the writer puts it in its heartbeat so that a
// child may take over the heartbeat of its predecessor, which the
// supervisor has reaped, at once (writer/writer.h).
using WriterChild = int (*)(const Settings& s, const std::string& owner);

// Keeps one child running `child` until SIGTERM/SIGINT/SIGQUIT and the
// child has left. Returns the exit code (1 when the signal pipe cannot be
// made).
int run_writer_supervisor(const Settings& s, WriterChild child);

}  // namespace popup
