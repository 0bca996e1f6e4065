// The supervisor's pid file, held under an exclusive flock for as long as
// the supervisor runs, so that a second popupd with the same configuration
// refuses to start instead of taking over the pool's socket.
#pragma once

#include <string>

namespace popup {

// Opens (creating it 0644) `path`, takes flock(LOCK_EX|LOCK_NB) and writes
// this process's pid into it, in place: the file is never renamed or
// removed, so whoever holds the lock holds the file under this name (and
// stack.sh may have written the same pid into it before exec).
// Returns the fd, to be kept open for the life of the process; the lock
// goes with the last fd of this open file. On failure returns -1 with *err
// set; when another process holds the lock, *err names the pid in the file.
int lock_pid_file(const std::string& path, std::string* err);

// Empties the file (the process is leaving; a stale pid must not be read
// as a live one) and closes fd, which releases the lock. -1 is a no-op.
void release_pid_file(int fd);

}  // namespace popup
