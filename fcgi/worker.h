// One FastCGI worker process: `threads` accept threads on one listening
// socket, each with its own Redis and MySQL connections.
//
// Why our own accept loop: libfcgi serves one connection per FCGX_Request,
// and nginx's keepalive keeps that connection open between requests, so a
// thread blocked inside FCGX_Accept_r can neither notice a graceful stop nor
// tell an idle kept connection from a busy one. Each thread therefore polls
// its kept connection (or the listening socket) together with a stop pipe,
// accepts itself, and hands the connection to libfcgi through
// FCGX_Request::ipcFd. On stop, an idle kept connection is closed (nginx
// retries a request that meets a closed cached connection), and a request
// already arriving is served with keep-alive off, so nothing fails.
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
