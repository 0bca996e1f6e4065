// One FastCGI worker process: `threads` serving threads, each with its own
// Redis and MySQL connections, over one connection loop
// (fcgi/conn_loop.h) that holds the process's listening sockets and every
// FastCGI connection it accepted. A kept connection belongs to the
// process, not to a thread, so nginx may keep as many as it opened at
// peak. On a graceful stop no new connection is accepted, requests in
// flight are answered (the last one on its connection with keep-alive
// off), and idle kept connections are closed (nginx retries a request that
// meets a closed cached connection).
#pragma once

#include "core/settings.h"
#include "fcgi/metrics.h"

namespace popup {

// Serves until SIGTERM/SIGINT/SIGQUIT/SIGHUP (graceful) or until
// max_requests requests (recycle). Returns the process exit code: 0 after a
// graceful stop or a recycle, non-zero when it could not start.
// The process's own socket, to which nginx routes the users it owns (user
// affinity), and its slot number; -1 for none (spawn-fcgi).
struct OwnSocket {
  int fd = -1;
  int slot = -1;
};

// admin_fd: the operator endpoints' socket (admin_listen), -1 for none.
int run_worker(const Settings& s, int listen_fd, OwnSocket own, Metrics& metrics,
               int admin_fd = -1);

// Exit code of a worker that left because of max_requests.
inline constexpr int kExitRecycled = 0;

}  // namespace popup
