// The prefork supervisor (php-fpm's and nginx's master are the models): it
// owns the listening socket, keeps `workers` children running, respawns the
// ones that die, brakes on a crash storm, and turns signals into graceful
// stop (SIGTERM/SIGINT) and graceful reload (SIGHUP).
#pragma once

#include <string>

#include "core/settings.h"

namespace popup {

// Runs until SIGTERM/SIGINT and every worker has left. `config_path` is
// re-read on SIGHUP; a file that no longer parses is refused (logged) and
// the running pool is kept. `pid_fd` is the locked pid file
// (fcgi/pid_file.h) or -1; workers do not keep it, and it is released on
// the way out. Returns the exit code.
int run_supervisor(const Settings& s, const std::string& config_path, int listen_fd, int pid_fd);

}  // namespace popup
