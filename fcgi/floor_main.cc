// fcgi-floor: the FastCGI floor for benchmarks. The same libfcgi, the same
// accept-thread model and the same nginx keepalive upstream as popupd, but a
// fixed JSON answer and no Redis or MySQL: what the service costs on top of
// FastCGI itself is measured against this.
//   fcgi-floor [--threads N]      serves the socket on fd 0 (spawn-fcgi)
#include <fcgiapp.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

const char kAnswer[] =
    "Status: 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
    "Content-Length: 14\r\n\r\n{\"popup\":null}";

void serve() {
  FCGX_Request req;
  FCGX_InitRequest(&req, 0, 0);
  while (FCGX_Accept_r(&req) == 0) {
    FCGX_PutStr(kAnswer, sizeof kAnswer - 1, req.out);
    FCGX_Finish_r(&req);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 8;
  for (int i = 1; i + 1 < argc; ++i)
    if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
  if (threads < 1) threads = 1;
  FCGX_Init();
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(serve);
  for (auto& t : pool) t.join();
  return 0;
}
