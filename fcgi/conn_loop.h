// A worker process's FastCGI connections, apart from the threads that
// serve them.
//
// Why: libfcgi serves one connection per FCGX_Request, and a thread that
// waits on a kept connection for the web server's next request is lost to
// every other connection; keepalive caches sized for the peak would pin
// every thread, and a pool that hands kept connections back makes nginx
// open a new one for most requests. Here connections belong to the
// process: one epoll set holds the listening sockets, the stop pipe and
// every open connection. A thread takes a connection only once a whole
// request is buffered on it (fcgi/record_guard.h), lets libfcgi read and
// answer that request (FCGX_Request::ipcFd, keep-connection honoured), and
// gives the connection back to the set. No thread waits on an idle
// connection, and no connection is closed because the threads are busy:
// ready connections wait in the set until a thread is free.
#pragma once

#include <fcgiapp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace popup {

struct ConnLoopOptions {
  std::vector<int> listening;  // non-blocking listening sockets
  int stop_fd = -1;            // readable once the process is to stop; never read here
  int request_ms = 5000;       // a request must be whole this long after its first byte
  // Figures for the pool's metrics (fcgi/metrics.h); nullptr: not kept.
  std::atomic<uint64_t>* accepted = nullptr;  // connections accepted
  std::atomic<uint64_t>* expired = nullptr;   // closed: request not whole in time
  std::atomic<int32_t>* in_hand = nullptr;    // requests begun and not yet answered
};

class ConnLoop {
 public:
  explicit ConnLoop(ConnLoopOptions o);
  ~ConnLoop();  // closes the connections still held
  ConnLoop(const ConnLoop&) = delete;
  ConnLoop& operator=(const ConnLoop&) = delete;

  // Whether the epoll set could be made; run() returns at once when not.
  bool ok() const { return ep_ >= 0; }

  // Answers one request whose parameters libfcgi has read; came_on is the
  // listening socket its connection came on. Clearing req.keepConnection
  // closes the connection after the answer.
  using Serve = std::function<void(FCGX_Request& req, int came_on)>;

  // The serving threads each call this. Returns once stop_fd turned
  // readable and the loop holds no connection any more: no new connection
  // is accepted from then on, requests in flight or arriving are answered
  // (with keep-connection off), idle kept connections are closed, and
  // unfinished requests are closed at their deadline.
  void run(const Serve& serve);

 private:
  struct Conn {
    int fd;
    int came_on;
    bool taken = false;       // a thread works on it
    bool again = false;       // bytes arrived while it was taken
    int64_t deadline_ms = 0;  // a request has begun on it: whole by then (0: none)
  };
  enum class After { idle, again, gone };

  void accept_all(int listen_fd);
  void take(uint64_t id, FCGX_Request& req, const Serve& serve);
  After release(uint64_t id, bool begun);
  bool serve_on(int fd, int came_on, FCGX_Request& req, const Serve& serve);
  void drop_locked(std::unordered_map<uint64_t, Conn>::iterator it, bool close_fd);
  void begin_stop();
  void sweep();

  ConnLoopOptions o_;
  int ep_ = -1;
  std::mutex mu_;  // conns_, next_id_
  std::unordered_map<uint64_t, Conn> conns_;
  uint64_t next_id_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> next_sweep_ms_{0};
};

// Raises this process's soft RLIMIT_NOFILE to its hard limit (kept
// connections cost descriptors; fork and exec keep the limit). Returns the
// soft limit now in force.
int64_t raise_fd_limit();

}  // namespace popup
