// fcgi-floor: the FastCGI floor for benchmarks. The same libfcgi, the same
// connection loop (fcgi/conn_loop.h: every connection in one epoll set,
// threads take whole requests) and the same nginx keepalive upstream as
// popupd, but a fixed JSON answer and no Redis or MySQL: what the service
// costs on top of FastCGI itself is measured against this.
//   fcgi-floor [--threads N] [--redis SOCKET] [--pinned]
// serves the socket on fd 0 (spawn-fcgi); SIGTERM stops it gracefully.
// --pinned: libfcgi's own model instead, one connection per thread
// (FCGX_Accept_r blocks on it), where a kept connection pins a thread: the
// row that shows what the connection loop is worth. With --redis every request first
// makes one round trip (PING) to Redis over that unix socket: the ceiling
// for any design that needs one Redis round trip per GET. A failed round
// trip answers 503 and reconnects, so errors show in the benchmark.
#include <fcgiapp.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "fcgi/conn_loop.h"
#include "lib/self_pipe.h"

namespace {


const char kAnswer[] =
    "Status: 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
    "Content-Length: 14\r\n\r\n{\"popup\":null}";
const char kUnavailable[] =
    "Status: 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    "Content-Length: 60\r\n\r\n{\"error\":\"unavailable\",\"message\":\"redis round trip failed\"}\n";

// One PING; false (and the context dropped) on any failure.
bool ping(redisContext*& ctx, const char* path) {
  if (!ctx) {
    ctx = redisConnectUnix(path);
    if (!ctx || ctx->err) {
      if (ctx) redisFree(ctx);
      ctx = nullptr;
      return false;
    }
  }
  auto* r = static_cast<redisReply*>(redisCommand(ctx, "PING"));
  bool ok = r && r->type == REDIS_REPLY_STATUS;
  if (r) freeReplyObject(r);
  if (!ok) {
    redisFree(ctx);
    ctx = nullptr;
  }
  return ok;
}

// Answers one request: the fixed JSON, after a PING when redis_path is set.
void answer(FCGX_Request& req, redisContext*& ctx, const char* redis_path) {
  if (!redis_path || ping(ctx, redis_path))
    FCGX_PutStr(kAnswer, sizeof kAnswer - 1, req.out);
  else
    FCGX_PutStr(kUnavailable, sizeof kUnavailable - 1, req.out);
}

// libfcgi's model: the thread blocks in FCGX_Accept_r, then on its kept
// connection until nginx closes it.
void serve_pinned(const char* redis_path) {
  redisContext* ctx = nullptr;
  FCGX_Request req;
  FCGX_InitRequest(&req, 0, 0);
  while (FCGX_Accept_r(&req) == 0) {
    answer(req, ctx, redis_path);
    FCGX_Finish_r(&req);
  }
  if (ctx) redisFree(ctx);
}

void serve_loop(popup::ConnLoop& loop, const char* redis_path) {
  redisContext* ctx = nullptr;
  loop.run([&](FCGX_Request& req, int) { answer(req, ctx, redis_path); });
  if (ctx) redisFree(ctx);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 8;
  const char* redis_path = nullptr;
  bool pinned = false;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--pinned")) pinned = true;
    if (i + 1 < argc && !strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    if (i + 1 < argc && !strcmp(argv[i], "--redis")) redis_path = argv[i + 1];
  }
  if (threads < 1) threads = 1;
  FCGX_Init();
  std::vector<std::thread> pool;
  if (pinned) {
    for (int i = 0; i < threads; ++i) pool.emplace_back(serve_pinned, redis_path);
    for (auto& t : pool) t.join();
    return 0;
  }
  popup::raise_fd_limit();
  const int stop_signals[] = {SIGTERM, SIGINT};
  int stop_fd = popup::self_pipe_open(stop_signals);
  if (stop_fd < 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);  // threads and processes share it
  popup::ConnLoopOptions o;
  o.listening = {0};
  o.stop_fd = stop_fd;
  popup::ConnLoop loop(o);
  if (!loop.ok()) return 1;
  for (int i = 0; i < threads; ++i) pool.emplace_back(serve_loop, std::ref(loop), redis_path);
  for (auto& t : pool) t.join();
  return 0;
}
