#include "fcgi/supervisor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>
#include <algorithm>

#include "core/crash_brake.h"
#include "fcgi/conn_loop.h"
#include "fcgi/listen_queue.h"
#include "fcgi/listener.h"
#include "lib/config_file.h"
#include "lib/log.h"
#include "fcgi/metrics.h"
#include "fcgi/pid_file.h"
#include "fcgi/worker.h"
#include "lib/self_pipe.h"

namespace popup {
namespace {

// The signals the supervisor takes through its self-pipe (lib/self_pipe.h):
// TERM, INT and QUIT stop the pool gracefully, HUP reloads it. USR1 reopens
// log_file (lib/log.h, in every process); USR2 and WINCH are logged and
// ignored (kIgnored), in the supervisor and, inherited, in its workers.
const int kSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGQUIT};
const int kIgnored[] = {SIGUSR2, SIGWINCH};

struct Child {
  int generation = 0;
  int slot = 0;  // which slot socket it serves
  time_t started = 0;
};

// All supervisor state in one place, passed around explicitly.
struct Pool {
  Settings s;
  std::string config_path;
  int listen_fd = -1;
  bool listen_unix = false;
  // One socket per worker slot (user affinity; empty without). The
  // supervisor keeps them across respawns and reloads, so a respawned
  // worker takes over its slot's socket and nginx re-routes nobody.
  std::vector<int> slot_fds;
  int admin_fd = -1;  // the operator endpoints' socket (admin_listen), -1 = none
  int pid_fd = -1;  // the locked pid file (fcgi/pid_file.h), -1 = none
  std::map<pid_t, Child> children;
  int generation = 1;
  CrashBrake brake;
  bool stopping = false;
  time_t stop_deadline = 0;
  Metrics* metrics = nullptr;
};

// In a freshly forked worker. The pid file's fd is closed: a worker that
// kept it would keep the supervisor's lock alive after the supervisor died
// (flock belongs to the open file, not the process) and refuse the restart.
// PR_SET_PDEATHSIG: a worker whose supervisor died gets SIGTERM and
// finishes gracefully, instead of serving the socket unsupervised, which
// would make the next popupd refuse the socket as taken (open_listener).
void leave_with_supervisor(int pid_fd, pid_t supervisor) {
  if (pid_fd >= 0) close(pid_fd);
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
    log_warn("worker: prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
  // The supervisor may have died before prctl took effect.
  if (getppid() != supervisor) _exit(0);
}

void spawn(Pool& p, int slot) {
  pid_t supervisor = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    log_error("supervisor: fork: %s", strerror(errno));
    return;
  }
  if (pid == 0) {
    self_pipe_close(kSignals);
    leave_with_supervisor(p.pid_fd, supervisor);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    log_set_name("popupd-worker");
    OwnSocket own;
    for (int i = 0; i < static_cast<int>(p.slot_fds.size()); ++i) {
      if (i == slot) own = OwnSocket{p.slot_fds[i], i};
      else close(p.slot_fds[i]);
    }
    _exit(run_worker(p.s, p.listen_fd, own, *p.metrics, p.admin_fd));
  }
  p.children[pid] = Child{p.generation, slot, time(nullptr)};
}

// Why a brake: a worker that dies at start (bad configuration, a crashing
// dependency) would otherwise be forked in a tight loop. One that died with
// a request in hand is respawned at once instead (core/crash_brake.h): its
// slot must not stay without a worker because of input.
void note_crash(Pool& p, time_t now, CrashKind kind) {
  if (!p.brake.note_crash(now, crash_storm_limits(p.s), kind).pause) return;
  p.metrics->shm().crash_brakes.fetch_add(1);
  log_error("supervisor: %d workers crashed within %d s; pausing respawn for %d s",
            p.s.crash_storm_count, p.s.crash_storm_window_s, p.s.crash_storm_pause_s);
}

void reap(Pool& p) {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = p.children.find(pid);
    if (it == p.children.end()) continue;
    bool current = it->second.generation == p.generation;
    p.children.erase(it);
    std::string why = exit_description(status);
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (p.stopping || !current) {
      log_info("supervisor: worker %d %s", pid, why.c_str());
      continue;
    }
    if (clean) {
      log_info("supervisor: worker %d %s (recycled); starting a fresh one", pid, why.c_str());
    } else {
      bool serving = p.metrics->died_in_request(pid);
      log_warn("supervisor: worker %d %s%s; respawning", pid, why.c_str(),
               serving ? " with a request in hand (not counted by the crash brake)" : "");
      p.metrics->shm().restarts.fetch_add(1);
      note_crash(p, time(nullptr), serving ? CrashKind::in_request : CrashKind::idle);
    }
  }
}

bool slot_served(const Pool& p, int slot) {
  for (const auto& [pid, c] : p.children)
    if (c.generation == p.generation && c.slot == slot) return true;
  return false;
}

std::string slot_listen(const Settings& s, int slot) {
  return format_address(*slot_address(*parse_address(s.listen), slot));
}

// Opens the slot sockets up to `workers` and closes (and removes) those
// beyond: their old workers keep their copies until they leave.
bool resize_slots(Pool& p, int workers) {
  if (!p.s.user_affinity || p.s.listen.empty()) return true;
  while (static_cast<int>(p.slot_fds.size()) < workers) {
    std::string err;
    int fd = open_listener(slot_listen(p.s, p.slot_fds.size()), p.s.backlog, &err);
    if (fd < 0) {
      log_error("supervisor: slot %zu: %s", p.slot_fds.size(), err.c_str());
      return false;
    }
    p.slot_fds.push_back(fd);
  }
  while (static_cast<int>(p.slot_fds.size()) > workers) {
    close(p.slot_fds.back());
    if (p.listen_unix) unlink(parse_address(slot_listen(p.s, p.slot_fds.size() - 1))->path.c_str());
    p.slot_fds.pop_back();
  }
  return true;
}

// The operator endpoints' socket (admin_listen), kept like the slot sockets
// for the supervisor's life. Returns false (logged) when it cannot be opened.
bool open_admin(Pool& p) {
  if (p.s.admin_listen.empty()) return true;
  std::string err;
  p.admin_fd = open_listener(p.s.admin_listen, p.s.backlog, &err);
  if (p.admin_fd < 0) log_error("supervisor: admin_listen: %s", err.c_str());
  else log_info("supervisor: operator endpoints on %s only", p.s.admin_listen.c_str());
  return p.admin_fd >= 0;
}

void close_admin(Pool& p) {
  if (p.admin_fd < 0) return;
  close(p.admin_fd);
  auto a = parse_address(p.s.admin_listen);
  if (a && a->is_unix) unlink(a->path.c_str());
  p.admin_fd = -1;
}

void signal_generation(Pool& p, int sig, bool old_only) {
  for (const auto& [pid, c] : p.children)
    if (!old_only || c.generation != p.generation) kill(pid, sig);
}

void reload(Pool& p) {
  // The same reading as at start: the file and what it includes.
  auto parsed = read_settings_file(p.config_path);
  if (!parsed.ok()) {
    log_error("supervisor: reload refused, %s", parsed.error().message.c_str());
    return;
  }
  if (auto bad = check_sizing(parsed.value(), raise_fd_limit())) {
    log_error("supervisor: reload refused: %s", bad->c_str());
    return;
  }
  if (parsed.value().listen != p.s.listen)
    log_warn("supervisor: listen changed in %s; a reload keeps the socket, restart to move it",
             p.config_path.c_str());
  if (parsed.value().user_affinity != p.s.user_affinity)
    log_warn("supervisor: user_affinity changed in %s; a reload keeps the sockets, restart to "
             "change it", p.config_path.c_str());
  if (parsed.value().pid_file != p.s.pid_file)
    log_warn("supervisor: pid_file changed in %s; a reload keeps the locked one, restart to "
             "move it", p.config_path.c_str());
  if (parsed.value().admin_listen != p.s.admin_listen)
    log_warn("supervisor: admin_listen changed in %s; a reload keeps the socket, restart to "
             "move it", p.config_path.c_str());
  // The log settings apply to the supervisor and, through the stderr they
  // inherit, to the workers it spawns from here on; a log_file that cannot
  // be opened refuses the reload, like at start.
  if (parsed.value().log_file != p.s.log_file || parsed.value().log_level != p.s.log_level) {
    std::string err;
    if (!log_configure(parsed.value().log_level, parsed.value().log_file, &err)) {
      log_error("supervisor: reload refused: %s", err.c_str());
      return;
    }
  }
  Settings next = parsed.value();
  next.listen = p.s.listen;
  next.admin_listen = p.s.admin_listen;
  next.pid_file = p.s.pid_file;
  next.user_affinity = p.s.user_affinity;
  if (!resize_slots(p, std::max(next.workers, static_cast<int>(p.slot_fds.size())))) {
    log_error("supervisor: reload refused: cannot open the new slots' sockets");
    return;
  }
  p.s = next;
  ++p.generation;
  p.metrics->shm().target_workers.store(p.s.workers);
  // New workers first, so every socket always has acceptors; then the old
  // ones finish their request in hand and leave. A fresh generation also
  // starts with empty memories: no worker keeps users it no longer owns.
  for (int i = 0; i < p.s.workers; ++i) spawn(p, i);
  signal_generation(p, SIGTERM, true);
  resize_slots(p, p.s.workers);
  log_info("supervisor: reloaded (generation %d, %d workers)", p.generation, p.s.workers);
}

void tick(Pool& p) {
  publish_listen_queue(p.listen_fd, p.metrics->shm());
  if (p.stopping) return;
  time_t now = time(nullptr);
  if (p.brake.holding(now)) return;
  for (int i = 0; i < p.s.workers; ++i)
    if (!slot_served(p, i)) spawn(p, i);
}

}  // namespace

int run_supervisor(const Settings& s, const std::string& config_path, int listen_fd, int pid_fd) {
  int sig_fd = self_pipe_open(kSignals);
  if (sig_fd < 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  log_ignore_signals(kIgnored);

  Metrics metrics(s.state_dir);
  Pool p;
  p.s = s;
  p.config_path = config_path;
  p.listen_fd = listen_fd;
  p.pid_fd = pid_fd;
  p.listen_unix = parse_address(s.listen).value_or(Address{}).is_unix;
  p.metrics = &metrics;
  metrics.shm().supervisor_pid.store(getpid());
  metrics.shm().listen_backlog.store(s.backlog);
  metrics.shm().target_workers.store(s.workers);
  if (!resize_slots(p, s.workers) || !open_admin(p)) {
    resize_slots(p, 0);
    release_pid_file(p.pid_fd);
    return 1;
  }
  log_info("supervisor: listening on %s (backlog %d)%s, %d workers x %d threads", s.listen.c_str(),
           s.backlog, p.slot_fds.empty() ? "" : " and one socket per worker", s.workers, s.threads);
  tick(p);
  for (;;) {
    pollfd pfd{sig_fd, POLLIN, 0};
    poll(&pfd, 1, 1000);
    char sigs[64];
    int n;
    while ((n = self_pipe_read(sigs, sizeof sigs)) > 0) {
      for (int i = 0; i < n; ++i) {
        int sig = sigs[i];
        if ((sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) && !p.stopping) {
          log_info("supervisor: graceful stop (%s)", signal_name(sig).c_str());
          p.stopping = true;
          p.stop_deadline = time(nullptr) + p.s.stop_timeout_s;
          signal_generation(p, SIGTERM, false);
        } else if (sig == SIGHUP && !p.stopping) {
          log_info("supervisor: reload (SIGHUP)");
          reload(p);
        } else if (sig != SIGCHLD) {
          log_info("supervisor: %s ignored while stopping", signal_name(sig).c_str());
        }
      }
    }
    reap(p);
    tick(p);
    if (p.stopping && p.children.empty()) break;
    if (p.stopping && time(nullptr) >= p.stop_deadline) {
      log_warn("supervisor: %zu workers still busy after %d s; killing them", p.children.size(),
               p.s.stop_timeout_s);
      signal_generation(p, SIGKILL, false);
      p.stop_deadline = time(nullptr) + 3600;
    }
  }
  if (p.listen_unix) unlink(parse_address(s.listen)->path.c_str());
  resize_slots(p, 0);
  close_admin(p);
  log_info("supervisor: stopped");
  release_pid_file(p.pid_fd);
  return 0;
}

}  // namespace popup
