#include "fcgi/conn_loop.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "fcgi/record_guard.h"
#include "lib/log.h"

namespace popup {
namespace {

// epoll keys: the listening sockets by index, the stop pipe, then one id per
// accepted connection, never reused. An event that a thread dequeued for a
// connection another thread has closed meanwhile finds no entry, even when
// the kernel has given its fd number to a new connection.
constexpr uint64_t kStopKey = 1u << 20;
constexpr uint64_t kFirstConn = 1ull << 32;
// How soon a thread with nothing to do notices a stop or a passed deadline.
constexpr int kWaitMs = 250;
constexpr int64_t kSweepMs = 100;
// Accepts per wake-up, so one thread does not spend a burst alone.
constexpr int kAcceptBurst = 64;
// libfcgi reads and writes a connection blocking. A body beyond the peek
// window from a peer that stalls, or a peer that does not read its answer,
// holds a thread at most this long; then libfcgi fails and closes it.
constexpr time_t kIoTimeoutS = 10;

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void add(std::atomic<int32_t>* gauge, int32_t d) {
  if (gauge) gauge->fetch_add(d, std::memory_order_relaxed);
}

void bump(std::atomic<uint64_t>* counter) {
  if (counter) counter->fetch_add(1, std::memory_order_relaxed);
}

void nap_ms(long ms) {
  timespec ts{0, ms * 1000000L};
  nanosleep(&ts, nullptr);
}

}  // namespace

ConnLoop::ConnLoop(ConnLoopOptions o) : o_(std::move(o)), next_id_(kFirstConn) {
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  bool ok = ep_ >= 0;
  for (size_t i = 0; ok && i < o_.listening.size(); ++i) {
    // Every process of the pool has the shared socket in its own set:
    // EPOLLEXCLUSIVE wakes one of them per new connection, not all.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = i;
    ok = epoll_ctl(ep_, EPOLL_CTL_ADD, o_.listening[i], &ev) == 0;
  }
  epoll_event sev{};
  sev.events = EPOLLIN;
  sev.data.u64 = kStopKey;
  ok = ok && epoll_ctl(ep_, EPOLL_CTL_ADD, o_.stop_fd, &sev) == 0;
  if (!ok) {
    log_error("connection loop: epoll: %s", strerror(errno));
    if (ep_ >= 0) close(ep_);
    ep_ = -1;
  }
}

ConnLoop::~ConnLoop() {
  for (auto& entry : conns_) close(entry.second.fd);
  if (ep_ >= 0) close(ep_);
}

void ConnLoop::run(const Serve& serve) {
  if (ep_ < 0) return;
  FCGX_Request req;
  FCGX_InitRequest(&req, -1, 0);  // listen socket -1: libfcgi never accepts by itself
  for (;;) {
    epoll_event ev;
    int n = epoll_wait(ep_, &ev, 1, kWaitMs);
    if (n < 0 && errno != EINTR) {
      log_error("connection loop: epoll_wait: %s", strerror(errno));
      begin_stop();
    }
    if (n == 1 && ev.data.u64 == kStopKey) {
      begin_stop();
    } else if (n == 1 && ev.data.u64 < o_.listening.size()) {
      accept_all(o_.listening[ev.data.u64]);
    } else if (n == 1) {
      take(ev.data.u64, req, serve);
    }
    sweep();
    if (stopping_.load()) {
      std::lock_guard<std::mutex> l(mu_);
      if (conns_.empty()) break;
    }
  }
}

void ConnLoop::accept_all(int listen_fd) {
  for (int i = 0; i < kAcceptBurst && !stopping_.load(std::memory_order_relaxed); ++i) {
    // Blocking, unlike the listening socket: libfcgi reads and writes it
    // with plain read()/write() and takes EAGAIN for an error. This loop
    // itself only peeks, with MSG_DONTWAIT.
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0 && (errno == EINTR || errno == ECONNABORTED)) continue;
    if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
      // The listening socket stays ready: pause instead of spinning on it.
      log_warn("connection loop: accept: %s (the connections held use every descriptor)",
               strerror(errno));
      nap_ms(10);
    }
    if (fd < 0) return;  // EAGAIN: another thread or process took it
    timeval tv{kIoTimeoutS, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    bump(o_.accepted);
    std::lock_guard<std::mutex> l(mu_);
    uint64_t id = next_id_++;
    conns_.emplace(id, Conn{fd, listen_fd});
    // Edge-triggered, without EPOLLONESHOT: one event per arrival of bytes
    // and no epoll_ctl per request. Conn::taken makes one thread the
    // connection's only reader; bytes arriving while it is taken set
    // Conn::again, and its taker looks again before giving it back.
    // (EPOLLONESHOT needs re-arming, and re-arming a connection that holds
    // half a request reports it ready at once, again and again.)
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = id;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      log_error("connection loop: epoll_ctl: %s", strerror(errno));
      close(fd);
      conns_.erase(id);
    }
  }
}

void ConnLoop::take(uint64_t id, FCGX_Request& req, const Serve& serve) {
  int fd, came_on;
  bool begun;  // a request has begun on it (counted in in_hand)
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    Conn& c = it->second;
    if (c.taken) {
      c.again = true;
      return;
    }
    c.taken = true;
    fd = c.fd;
    came_on = c.came_on;
    begun = c.deadline_ms != 0;
  }
  for (;;) {
    Peeked p = peek_request(fd);
    if (p.what == Arrival::closed || p.what == Arrival::bad) {
      if (p.what == Arrival::bad)
        log_warn("closed a FastCGI connection before libfcgi read it: %s", p.why.c_str());
      std::lock_guard<std::mutex> l(mu_);
      drop_locked(conns_.find(id), true);
      if (begun) add(o_.in_hand, -1);
      return;
    }
    if (p.what == Arrival::whole) {
      if (!begun) add(o_.in_hand, 1);
      bool kept = serve_on(fd, came_on, req, serve);
      add(o_.in_hand, -1);
      begun = false;
      if (!kept) {
        std::lock_guard<std::mutex> l(mu_);
        drop_locked(conns_.find(id), false);  // libfcgi closed it
        return;
      }
    } else if (p.what == Arrival::partial && !begun) {
      add(o_.in_hand, 1);
      begun = true;
    }
    if (release(id, begun) != After::again) return;
  }
}

ConnLoop::After ConnLoop::release(uint64_t id, bool begun) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = conns_.find(id);  // only its taker erases a taken connection
  Conn& c = it->second;
  if (!begun) c.deadline_ms = 0;
  if (begun && c.deadline_ms == 0) c.deadline_ms = now_ms() + o_.request_ms;
  if (c.again) {
    c.again = false;
    return After::again;
  }
  if (stopping_.load() && !begun) {
    drop_locked(it, true);  // idle after its last answer
    return After::gone;
  }
  c.taken = false;
  return After::idle;
}

bool ConnLoop::serve_on(int fd, int came_on, FCGX_Request& req, const Serve& serve) {
  req.ipcFd = fd;
  // FCGX_Accept_r starts by finishing the previous request and closes the
  // connection unless keepConnection is set; the real value comes from the
  // BEGIN_REQUEST record it then reads.
  req.keepConnection = 1;
  // When libfcgi closes a connection, a plain close: its lingering close
  // (shutdown, then reading until the peer closes) would hold the thread,
  // and the whole request has been read by then.
  req.detached = 1;
  if (FCGX_Accept_r(&req) < 0) {
    if (req.ipcFd >= 0) close(req.ipcFd);
    req.ipcFd = -1;
    return false;
  }
  if (stopping_.load()) req.keepConnection = 0;  // the last request on it
  serve(req, came_on);
  req.detached = 1;
  FCGX_Finish_r(&req);
  // libfcgi reads a connection through its own buffer, which could hold
  // bytes beyond this request and loses them here. nginx never pipelines on
  // a FastCGI connection: it sends the next request only after END_REQUEST,
  // which FCGX_Finish_r has just written, so that buffer held this request
  // only. A client that does pipeline loses what it sent early, nobody
  // else's request.
  if (req.ipcFd < 0) return false;  // closed: no keep-connection, or an error
  req.ipcFd = -1;                   // detached, not closed: back to the set
  return true;
}

void ConnLoop::drop_locked(std::unordered_map<uint64_t, Conn>::iterator it, bool close_fd) {
  if (it == conns_.end()) return;
  // Closing removes it from the epoll set (nothing else holds the file).
  if (close_fd) close(it->second.fd);
  conns_.erase(it);
}

void ConnLoop::begin_stop() {
  if (stopping_.exchange(true)) return;
  epoll_ctl(ep_, EPOLL_CTL_DEL, o_.stop_fd, nullptr);
  for (int fd : o_.listening) epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = conns_.begin(); it != conns_.end();) {
    Conn& c = it->second;
    char b;
    // Idle: nothing has begun on it and nothing waits to be read. A
    // connection with bytes waiting is being taken (its event is queued or
    // in a thread's hands) and is answered first.
    bool idle = !c.taken && c.deadline_ms == 0 &&
                recv(c.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
    if (idle) {
      close(c.fd);
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

void ConnLoop::sweep() {
  int64_t now = now_ms();
  int64_t due = next_sweep_ms_.load();
  if (now < due || !next_sweep_ms_.compare_exchange_strong(due, now + kSweepMs)) return;
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = conns_.begin(); it != conns_.end();) {
    Conn& c = it->second;
    if (!c.taken && c.deadline_ms != 0 && now >= c.deadline_ms) {
      bump(o_.expired);
      add(o_.in_hand, -1);
      close(c.fd);
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

int64_t raise_fd_limit() {
  rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  if (r.rlim_cur < r.rlim_max) {
    rlimit raised{r.rlim_max, r.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) r = raised;
  }
  return r.rlim_cur == RLIM_INFINITY ? INT64_MAX : static_cast<int64_t>(r.rlim_cur);
}

}  // namespace popup
