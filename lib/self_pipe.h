// A process's signals through a self-pipe, as nginx and php-fpm take them:
// the handler only writes the signal's number as one byte (async-signal-
// safe, errno kept), and the process's loop polls the read end and does
// the work. One pipe per process: a forked child closes its parent's with
// self_pipe_close before it opens its own.
#pragma once

#include <span>

namespace popup {

// Makes the pipe (non-blocking, close-on-exec) and routes `signals` to it,
// with SA_RESTART when `restart`. Returns the read end; -1 when the pipe
// cannot be made (then no handler is installed).
int self_pipe_open(std::span<const int> signals, bool restart = true);

// What the handler does: one byte, `sig` (0: a stop the program asks of
// itself). Async-signal-safe; a full or closed pipe drops the byte.
void self_pipe_write(int sig);

// Reads what waits (at most `size` bytes into buf): the number read, 0 when
// nothing waits.
int self_pipe_read(char* buf, int size);

// In a forked child: `signals` back to their default action, then both
// ends closed.
void self_pipe_close(std::span<const int> signals);

}  // namespace popup
