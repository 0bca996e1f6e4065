#include "writer/writer_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/crash_brake.h"
#include "lib/log.h"
#include "lib/self_pipe.h"

namespace popup {
namespace {

// Taken through the self-pipe (lib/self_pipe.h); the loop in
// run_writer_supervisor does the work: TERM, INT and QUIT stop the writer
// after its batch in hand. USR1 reopens log_file (lib/log.h); HUP (there
// is nothing to reload: a restart applies new settings), USR2 and WINCH are
// logged and ignored (kIgnored), here and, inherited, in the writer.
const int kSignals[] = {SIGTERM, SIGINT, SIGQUIT, SIGCHLD};
const int kIgnored[] = {SIGHUP, SIGUSR2, SIGWINCH};

// All supervisor state in one place, passed around explicitly.
struct WriterSup {
  const Settings& s;
  WriterChild child_main;
  std::string owner;
  pid_t child = 0;  // 0: none running
  CrashBrake brake;
  bool stopping = false;
  time_t stop_deadline = 0;

  WriterSup(const Settings& settings, WriterChild child_fn, std::string owner_name)
      : s(settings), child_main(child_fn), owner(std::move(owner_name)) {}
};

std::string owner_name() {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

// In the forked child: undo the supervisor's signal set-up, tie the child's
// life to its parent, run the writer.
int child_process(const WriterSup& w, pid_t parent) {
  self_pipe_close(kSignals);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  log_set_name("popup-writer");
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
    log_error("writer: prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
    return 1;
  }
  // The parent may have died between fork and prctl; then no signal would
  // ever come, so look once now.
  if (getppid() != parent) return 0;
  return w.child_main(w.s, w.owner);
}

void spawn(WriterSup& w) {
  // Blocked across fork so that a signal cannot reach the child's copy of
  // on_signal (the parent's pipe) before child_process resets it.
  sigset_t block, old;
  sigemptyset(&block);
  for (int sig : kSignals) sigaddset(&block, sig);
  sigprocmask(SIG_BLOCK, &block, &old);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) _exit(child_process(w, parent));
  sigprocmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    log_error("supervisor: fork: %s", strerror(errno));
    return;
  }
  w.child = pid;
  log_info("supervisor: started writer %d", static_cast<int>(pid));
}

void note_crash(WriterSup& w, time_t now) {
  if (!w.brake.note_crash(now, crash_storm_limits(w.s)).pause) return;
  log_error("supervisor: the writer died %d times within %d s; pausing respawn for %d s",
            w.s.crash_storm_count, w.s.crash_storm_window_s, w.s.crash_storm_pause_s);
}

// A writer leaves only when asked to stop, so every other exit, a clean one
// included (someone signalled the child itself), is counted by the brake:
// a child that exits at once with code 0 must not be forked in a loop either.
void reap(WriterSup& w) {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid != w.child) continue;
    w.child = 0;
    std::string why = exit_description(status);
    if (w.stopping) {
      log_info("supervisor: writer %d %s", static_cast<int>(pid), why.c_str());
      continue;
    }
    log_warn("supervisor: writer %d %s; respawning", static_cast<int>(pid), why.c_str());
    note_crash(w, time(nullptr));
  }
}

void tick(WriterSup& w) {
  if (w.stopping || w.child != 0 || w.brake.holding(time(nullptr))) return;
  spawn(w);
}

void begin_stop(WriterSup& w, int sig) {
  if (w.stopping) return;
  log_info("supervisor: stopping (%s); the writer finishes its batch", signal_name(sig).c_str());
  w.stopping = true;
  w.stop_deadline = time(nullptr) + w.s.stop_timeout_s;
  if (w.child != 0) kill(w.child, SIGTERM);
}

void read_signals(WriterSup& w) {
  char sigs[64];
  int n;
  while ((n = self_pipe_read(sigs, sizeof sigs)) > 0)
    for (int i = 0; i < n; ++i)
      if (sigs[i] != SIGCHLD) begin_stop(w, sigs[i]);
}

}  // namespace

int run_writer_supervisor(const Settings& s, WriterChild child) {
  int sig_fd = self_pipe_open(kSignals);
  if (sig_fd < 0) return 1;
  log_ignore_signals(kIgnored);

  WriterSup w(s, child, owner_name());
  log_info("supervisor: keeping writer %s running (owner %s)", s.writer_id.c_str(),
           w.owner.c_str());
  tick(w);
  for (;;) {
    pollfd pfd{sig_fd, POLLIN, 0};
    poll(&pfd, 1, 1000);
    read_signals(w);
    reap(w);
    tick(w);
    if (w.stopping && w.child == 0) break;
    if (w.stopping && time(nullptr) >= w.stop_deadline) {
      log_warn("supervisor: writer %d still busy after %d s; killing it",
               static_cast<int>(w.child), s.stop_timeout_s);
      kill(w.child, SIGKILL);
      w.stop_deadline = time(nullptr) + 3600;
    }
  }
  log_info("supervisor: stopped");
  return 0;
}

}  // namespace popup
