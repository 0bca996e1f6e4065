// The pool's listening sockets (the shared one, the per-slot ones and the
// admin socket), opened by the supervisor and inherited by the workers.
#pragma once

#include <string>

namespace popup {

// Opens the listening socket described by `listen` with `backlog`. A stale
// unix socket file (nobody accepts on it) is replaced; one that another
// process accepts on, or a path that is not a socket, is refused. Returns
// the fd, or -1 with *err set.
int open_listener(const std::string& listen, int backlog, std::string* err);

}  // namespace popup
