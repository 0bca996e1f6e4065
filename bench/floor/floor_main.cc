// fcgi-floor: the FastCGI floor for benchmarks. The same libfcgi, the same
// accept-thread model and the same nginx keepalive upstream as popupd, but a
// fixed JSON answer and no Redis or MySQL: what the service costs on top of
// FastCGI itself is measured against this.
//   fcgi-floor [--threads N] [--redis SOCKET]
// serves the socket on fd 0 (spawn-fcgi). With --redis every request first
// makes one round trip (PING) to Redis over that unix socket: the ceiling
// for any design that needs one Redis round trip per GET. A failed round
// trip answers 503 and reconnects, so errors show in the benchmark.
#include <fcgiapp.h>
#include <hiredis/hiredis.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

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

void serve(const char* redis_path) {
  redisContext* ctx = nullptr;
  FCGX_Request req;
  FCGX_InitRequest(&req, 0, 0);
  while (FCGX_Accept_r(&req) == 0) {
    if (!redis_path || ping(ctx, redis_path))
      FCGX_PutStr(kAnswer, sizeof kAnswer - 1, req.out);
    else
      FCGX_PutStr(kUnavailable, sizeof kUnavailable - 1, req.out);
    FCGX_Finish_r(&req);
  }
  if (ctx) redisFree(ctx);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 8;
  const char* redis_path = nullptr;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    if (!strcmp(argv[i], "--redis")) redis_path = argv[i + 1];
  }
  if (threads < 1) threads = 1;
  FCGX_Init();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(serve, redis_path);
  for (auto& t : pool) t.join();
  return 0;
}
