#include "lib/self_pipe.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace popup {
namespace {

int g_pipe[2] = {-1, -1};

void on_signal(int sig) { self_pipe_write(sig); }

}  // namespace

int self_pipe_open(std::span<const int> signals, bool restart) {
  if (pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = restart ? SA_RESTART : 0;
  for (int sig : signals) sigaction(sig, &sa, nullptr);
  return g_pipe[0];
}

void self_pipe_write(int sig) {
  int saved = errno;
  char b = static_cast<char>(sig);
  ssize_t w = write(g_pipe[1], &b, 1);
  (void)w;
  errno = saved;
}

int self_pipe_read(char* buf, int size) {
  ssize_t n = read(g_pipe[0], buf, static_cast<size_t>(size));
  return n > 0 ? static_cast<int>(n) : 0;
}

void self_pipe_close(std::span<const int> signals) {
  for (int sig : signals) signal(sig, SIG_DFL);
  for (int& fd : g_pipe) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

}  // namespace popup
