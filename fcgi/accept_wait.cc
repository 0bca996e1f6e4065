#include "fcgi/accept_wait.h"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace popup {

AcceptWait::AcceptWait(std::vector<int> listening, int stop_fd)
    : stop_fd_(stop_fd), fds_(std::move(listening)) {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  bool ok = ep_ >= 0;
  for (int fd : fds_) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = fd;
    ok = ok && epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }
  epoll_event sev{};
  sev.events = EPOLLIN;
  sev.data.fd = stop_fd_;
  ok = ok && epoll_ctl(ep_, EPOLL_CTL_ADD, stop_fd_, &sev) == 0;
  if (!ok && ep_ >= 0) {
    close(ep_);
    ep_ = -1;
  }
}

AcceptWait::~AcceptWait() {
  if (ep_ >= 0) close(ep_);
}

int AcceptWait::wait() {
  if (ep_ < 0) {  // no epoll: plain poll, correct but herd-prone
    std::vector<pollfd> p{{stop_fd_, POLLIN, 0}};
    for (int fd : fds_) p.push_back({fd, POLLIN, 0});
    if (poll(p.data(), p.size(), -1) < 0) return errno == EINTR ? kAgain : kStop;
    if (p[0].revents & POLLIN) return kStop;
    for (size_t i = 1; i < p.size(); ++i)
      if (p[i].revents) return p[i].fd;
    return kAgain;
  }
  epoll_event evs[4];
  int n = epoll_wait(ep_, evs, 4, -1);
  if (n < 0) return errno == EINTR ? kAgain : kStop;
  int ready = kAgain;
  for (int i = 0; i < n; ++i) {
    if (evs[i].data.fd == stop_fd_) return kStop;
    ready = evs[i].data.fd;
  }
  return ready;
}

}  // namespace popup
