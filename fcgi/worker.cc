#include "fcgi/worker.h"

#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "fcgi/conn_loop.h"
#include "fcgi/listen_queue.h"
#include "core/params.h"
#include "lib/log.h"
#include "lib/self_pipe.h"
#include "fcgi/router.h"
#include "fcgi/service.h"
#include "fcgi/flusher.h"
#include "fcgi/event_queue.h"
#include "fcgi/invalidator.h"
#include "fcgi/user_generations.h"
#include "core/user_cache.h"

namespace popup {
namespace {

// Each asks for a graceful stop, through the self-pipe (lib/self_pipe.h),
// whose read end every thread watches; the supervisor then starts a new
// worker for the slot. USR1 reopens log_file (lib/log.h); USR2 and WINCH
// are logged and ignored.
const int kStopSignals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP};
const int kIgnored[] = {SIGUSR2, SIGWINCH};
int g_stop_fd = -1;

struct Shared {
  Shared(const Settings& settings, int fd, OwnSocket own, int admin, Metrics& m, WorkerSlot* ws)
      : s(settings), listen_fd(fd), slot_fd(own.fd), admin_fd(admin), owner_slot(own.slot),
        metrics(m), slot(ws) {}
  const Settings& s;
  int listen_fd;
  int slot_fd;     // this process's own socket (user affinity), -1: none
  int admin_fd;    // the operator endpoints' socket (admin_listen), -1: none
  int owner_slot;  // its slot number, -1: none
  Metrics& metrics;
  WorkerSlot* slot;
  ConfigCache cache;
  std::atomic<int64_t> served{0};
  // One stop flag for every cause: request_stop (recycling) sets it and
  // writes the pipe; a signal handler can only write the pipe, and the
  // refresher thread, which watches it, sets the flag.
  std::atomic<bool> stopping{false};
  // One per process: when Redis hangs, one thread's timeouts spare the others.
  Breaker redis_breaker{s.redis_breaker_failures, s.redis_breaker_open_ms};
  RedisRepairs redis_repairs;
  // Checked when the settings were read, so the list parses.
  std::vector<Network> admin = parse_networks(s.admin_networks).value();
  CorsPolicy cors = parse_cors_origins(s.cors_origins).value();
  // The owned users' states and the write-behind (fcgi/service.h).
  UserGenerations generations{s.state_dir, s.workers};
  UserCache users{static_cast<size_t>(s.state_cache_mib) << 20,
                  static_cast<int64_t>(s.state_cache_stale_s) * 1000, 256};
  EventQueue event_queue{s, slot, &metrics.shm(), &redis_breaker, &redis_repairs};
  Flusher flusher{event_queue, flusher_options()};
  MysqlProbe mysql_probe{s};  // healthz's view of MySQL, on its own thread
  // Drops owned users other hosts wrote (only a process that owns users).
  bool tracks = slot_fd >= 0 && s.state_cache_stale_s > 0 && s.invalidation_feed;
  Invalidator invalidator{s, users, slot};

  FlusherOptions flusher_options() {
    FlusherOptions o;
    o.interval = std::chrono::milliseconds(s.flush_ms);
    o.batch = static_cast<size_t>(s.flush_events);
    o.gauge = slot ? &slot->flush_waiting : nullptr;
    o.left = [this](const Pending& p) { generations.pending_done(owner_slot, p.event.uid); };
    return o;
  }

  uint64_t dropped_reported = 0;  // the refresher's, then main's after the join

  WorkerContext context() {
    return WorkerContext{s, cache, metrics, slot, &redis_breaker, &redis_repairs, &flusher,
                         &users, &generations, owner_slot, &mysql_probe};
  }
};

void request_stop(Shared& sh) {
  if (!sh.stopping.exchange(true)) self_pipe_write(0);
}

bool stop_requested(Shared& sh) { return sh.stopping.load(std::memory_order_relaxed); }

// The FastCGI parameters a request is read from (find_params: one pass).
enum Param {
  kMethod, kDocumentUri, kScriptName, kPathInfo, kRequestUri, kRemoteAddr, kQuery, kContentType,
  kTestNow, kIdempotencyKey, kRequestId, kRoute, kOrigin, kCorsMethod, kContentLength, kParams
};
constexpr std::string_view kParamNames[kParams] = {
    "REQUEST_METHOD", "DOCUMENT_URI", "SCRIPT_NAME", "PATH_INFO", "REQUEST_URI", "REMOTE_ADDR",
    "QUERY_STRING", "CONTENT_TYPE", "HTTP_X_POPUP_NOW", "HTTP_IDEMPOTENCY_KEY", "REQUEST_ID",
    "POPUP_ROUTE", "HTTP_ORIGIN", "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "CONTENT_LENGTH"};

// Reads the request; reads at most kMaxBody + 1 bytes of body and discards
// the rest so the connection stays in step.
Request read_request(FCGX_Request& req) {
  std::string_view p[kParams];
  find_params(req.envp, kParamNames, kParams, p);
  Request r;
  r.method = p[kMethod];
  r.path = request_path(p[kDocumentUri], p[kScriptName], p[kPathInfo], p[kRequestUri]);
  r.remote_addr = p[kRemoteAddr];
  r.query = p[kQuery];
  r.content_type = p[kContentType];
  r.test_now = p[kTestNow];
  r.idempotency_key = p[kIdempotencyKey];
  r.request_id = p[kRequestId];
  r.route = p[kRoute];
  r.origin = p[kOrigin];
  r.cors_method = p[kCorsMethod];
  // The value ends at its NUL in envp, so strtoll stops there.
  const char* cl = p[kContentLength].data();
  char* end = nullptr;
  r.content_length = !p[kContentLength].empty() ? strtoll(cl, &end, 10) : 0;
  if (!p[kContentLength].empty() && (*end != '\0' || r.content_length < 0)) r.content_length = -1;
  char buf[kMaxBody + 1];
  int n = FCGX_GetStr(buf, sizeof buf, req.in);
  if (n > 0) r.body.assign(buf, n);
  while (n == static_cast<int>(sizeof buf)) n = FCGX_GetStr(buf, sizeof buf, req.in);
  return r;
}

uint64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// came_on: the listening socket the connection was accepted on.
void serve_one(FCGX_Request& req, Service& svc, Shared& sh, int came_on) {
  uint64_t t0 = now_us();
  if (sh.slot) sh.slot->busy.fetch_add(1, std::memory_order_relaxed);
  Request r = read_request(req);
  r.via_slot = came_on == sh.slot_fd && sh.slot_fd >= 0;
  r.via_admin = came_on == sh.admin_fd && sh.admin_fd >= 0;
  Endpoint ep = endpoint_of(r.path);
  Response resp;
  RouteOptions opts{sh.s.test_clock, &sh.admin, &sh.cors, sh.admin_fd >= 0};
  try {
    resp = route(r, svc, opts, time(nullptr));
  } catch (const std::exception& e) {
    // A bug must cost one 500, never the worker.
    log_error("request %s %s failed: %s", r.method.c_str(), r.path.c_str(), e.what());
    resp = error_response("internal", "internal error");
  }
  // Tests prove read-your-writes across processes with this header.
  std::string extra = sh.s.test_clock ? "X-Popup-Worker: " + std::to_string(getpid()) + "\r\n" : "";
  extra += cors_headers(r, ep, opts);
  std::string out = http_frame(resp, ep, extra);
  FCGX_PutStr(out.data(), static_cast<int>(out.size()), req.out);
  record_request(sh.slot, ep, resp.status, now_us() - t0);
  if (sh.slot) sh.slot->busy.fetch_sub(1, std::memory_order_relaxed);
}

// Serves the requests the connection loop hands this thread, with the
// thread's own Service (its Redis and MySQL connections).
void thread_main(Shared& sh, ConnLoop& loop) {
  Service svc(sh.context());
  svc.config().warm_up();
  loop.run([&](FCGX_Request& req, int came_on) {
    serve_one(req, svc, sh, came_on);
    int64_t n = sh.served.fetch_add(1) + 1;
    if (sh.s.max_requests > 0 && n >= sh.s.max_requests) request_stop(sh);
  });
}

// The process's connection loop over its listening sockets.
ConnLoopOptions loop_options(const Shared& sh) {
  ConnLoopOptions o;
  for (int fd : {sh.listen_fd, sh.slot_fd, sh.admin_fd})
    if (fd >= 0) o.listening.push_back(fd);
  o.stop_fd = g_stop_fd;
  if (sh.slot) {
    o.accepted = &sh.slot->counters[static_cast<int>(Counter::fastcgi_accepted)];
    o.expired = &sh.slot->counters[static_cast<int>(Counter::fastcgi_expired)];
    o.in_hand = &sh.slot->in_hand;
  }
  return o;
}

// The memory and write-behind gauges of this process.
void publish_memory(Shared& sh) {
  if (!sh.slot) return;
  sh.slot->memory_bytes.store(static_cast<int64_t>(sh.users.bytes()));
  sh.slot->memory_users.store(static_cast<int64_t>(sh.users.entries()));
  sh.slot->memory_budget.store(static_cast<int64_t>(sh.users.budget()));
  uint64_t dropped = sh.flusher.dropped();
  if (dropped > sh.dropped_reported) {
    bump(sh.slot, Counter::impressions_dropped, dropped - sh.dropped_reported);
    log_error("worker: %llu impressions reached neither Redis nor MySQL and were given up",
              static_cast<unsigned long long>(dropped - sh.dropped_reported));
    sh.dropped_reported = dropped;
  }
}

// Why a thread: a process that gets no request for a while must still pick
// up a published change within config_check_ms, and the check stays off the
// request path (a GET then costs one Redis round trip).
void refresher_main(Shared& sh) {
  Service svc(sh.context());
  while (!stop_requested(sh)) {
    svc.config().refresh();
    svc.repair_redis();
    publish_memory(sh);
    // Under spawn-fcgi no supervisor samples the inherited socket's queue.
    if (sh.s.listen.empty()) publish_listen_queue(sh.listen_fd, sh.metrics.shm());
    pollfd pfd{g_stop_fd, POLLIN, 0};
    if (poll(&pfd, 1, sh.s.config_check_ms) > 0) {
      sh.stopping.store(true);
      // Names the signal in the log, then leaves a byte in the pipe: the
      // connection loop's threads stop when it is readable.
      char sigs[16];
      int n = self_pipe_read(sigs, sizeof sigs);
      for (int i = 0; i < n; ++i)
        if (sigs[i] != 0) log_info("worker: graceful stop (%s)", signal_name(sigs[i]).c_str());
      self_pipe_write(0);
      break;
    }
  }
  svc.repair_redis();  // one last try before the process leaves
}

bool install_handlers() {
  g_stop_fd = self_pipe_open(kStopSignals, /*restart=*/false);
  if (g_stop_fd < 0) return false;
  signal(SIGPIPE, SIG_IGN);
  log_handle_reopen_signal();  // not libfcgi's SIGUSR1 handler, which makes a worker leave
  log_ignore_signals(kIgnored);
  return true;
}

}  // namespace

int run_worker(const Settings& s, int listen_fd, OwnSocket own, Metrics& metrics, int admin_fd) {
  // Several threads and processes wait on the same socket; the losers of
  // an accept race must get EAGAIN, not block.
  for (int fd : {listen_fd, own.fd, admin_fd})
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  FCGX_Init();
  // After FCGX_Init, which installs handlers of its own.
  if (!install_handlers()) {
    log_error("worker: pipe: %s", strerror(errno));
    return 1;
  }
  WorkerSlot* slot = metrics.claim_slot(getpid(), s.threads);
  Shared sh(s, listen_fd, own, admin_fd, metrics, slot);
  // This slot's earlier process is gone (or leaving): its counts are void.
  sh.generations.reset_slot(own.slot);
  sh.redis_breaker.mirror_to(slot ? &slot->redis_breaker_open_until_ms : nullptr);
  sh.cache.mirror_to(slot ? &slot->config_version : nullptr);
  ConnLoop loop(loop_options(sh));
  if (!loop.ok()) {
    metrics.release_slot(slot);
    return 1;
  }
  std::vector<std::thread> threads;
  threads.emplace_back(refresher_main, std::ref(sh));
  if (sh.tracks)
    threads.emplace_back([&sh] { sh.invalidator.run(g_stop_fd, sh.stopping); });
  for (int i = 0; i < s.threads; ++i) threads.emplace_back(thread_main, std::ref(sh), std::ref(loop));
  for (auto& t : threads) t.join();
  // Every thread has answered: what they decided reaches Redis now.
  sh.flusher.stop();
  publish_memory(sh);
  bool recycled = s.max_requests > 0 && sh.served.load() >= s.max_requests;
  log_info("worker: %s after %lld requests", recycled ? "recycled" : "stopped",
           static_cast<long long>(sh.served.load()));
  if (recycled) metrics.shm().recycled.fetch_add(1);
  metrics.release_slot(slot);
  return recycled ? kExitRecycled : 0;
}

}  // namespace popup
