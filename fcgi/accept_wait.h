// Waiting for a new connection on the worker's listening sockets.
#pragma once

#include <vector>

namespace popup {

// Per-thread epoll set for the listening sockets (the shared one and the
// process's slot socket) and the stop pipe. EPOLLEXCLUSIVE wakes one idle
// thread per new connection instead of every thread of every process (the
// thundering herd a plain poll() causes when nginx opens connections beyond
// its keepalive cache).
class AcceptWait {
 public:
  // listening: the sockets to accept on; stop_fd: readable when the worker
  // stops (the stop pipe).
  AcceptWait(std::vector<int> listening, int stop_fd);
  ~AcceptWait();
  AcceptWait(const AcceptWait&) = delete;
  AcceptWait& operator=(const AcceptWait&) = delete;

  static constexpr int kStop = -1, kAgain = -2;
  // A listening socket with a connection waiting, kStop or kAgain.
  int wait();

 private:
  int ep_ = -1;
  int stop_fd_;
  std::vector<int> fds_;  // listening sockets
};

}  // namespace popup
