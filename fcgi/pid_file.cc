// Why flock and not fcntl(F_SETLK): an fcntl record lock is dropped when the
// process closes *any* fd of the file (a library reading it would release
// it), while flock belongs to the open file description. That also means a
// forked worker that kept the fd would keep the lock alive after its
// supervisor died; the supervisor therefore closes the fd in each child
// right after fork (fcgi/supervisor.cc). A close in the child does not
// release the lock, only LOCK_UN or the last close does. O_CLOEXEC is set
// too, for any exec.
#include "fcgi/pid_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/log.h"

namespace popup {
namespace {

// The first line of the file, trimmed to its digits; "?" when unreadable.
std::string holder_pid(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  std::string pid;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pid += buf[i];
  return pid.empty() ? "?" : pid;
}

bool write_pid(int fd) {
  std::string text = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0) return false;
  return pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
}

}  // namespace

int lock_pid_file(const std::string& path, std::string* err) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return *err = "pid file " + path + ": " + strerror(errno), -1;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    *err = e == EWOULDBLOCK
               ? "pid file " + path + " is locked by pid " + holder_pid(fd) +
                     ": another popupd runs this pool; stop it first"
               : "pid file " + path + ": flock: " + strerror(e);
    close(fd);
    return -1;
  }
  if (!write_pid(fd)) {
    *err = "pid file " + path + ": write: " + strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

void release_pid_file(int fd) {
  if (fd < 0) return;
  // A pid left behind is harmless (stack.sh checks pids against /proc), so
  // a failure is only reported.
  if (ftruncate(fd, 0) != 0) log_warn("pid file: cannot empty it: %s", strerror(errno));
  close(fd);
}

}  // namespace popup
