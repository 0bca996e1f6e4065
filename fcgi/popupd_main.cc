// popupd: the FastCGI program. With `listen` set it is its own prefork
// supervisor; without, it serves the socket inherited on fd 0, which is how
// `spawn-fcgi -s SOCK -F N -- popupd --config FILE` runs it.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/cors.h"
#include "lib/config_file.h"
#include "lib/log.h"
#include "fcgi/conn_loop.h"
#include "fcgi/metrics.h"
#include "lib/mysql.h"
#include "fcgi/pid_file.h"
#include "fcgi/listener.h"
#include "fcgi/supervisor.h"
#include "fcgi/worker.h"

using namespace popup;

namespace {

const ArgSpec kArgs{
    "popupd",
    "usage: popupd --config FILE [--check]\n"
    "       popupd --print-config\n"
    "  -c, --config FILE  the configuration file\n"
    "  -t, --check        validate the configuration (syntax and nginx sizing rule) and exit\n"
    "  --print-config     print every configuration key with its default and description,\n"
    "                     as lines to paste into a configuration file, and exit\n"
    "  -h, --help         this text\n",
    true,
    {},
    true};

bool fd0_is_socket() {
  int type = 0;
  socklen_t len = sizeof type;
  return getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

// The supervisor: the pid file's lock first, so that a second popupd for
// the same pool leaves before it touches the socket; then the socket.
int run_pool(const Settings& s, const std::string& path) {
  log_set_name("popupd");
  std::string err;
  int pid_fd = -1;
  if (!s.pid_file.empty() && (pid_fd = lock_pid_file(s.pid_file, &err)) < 0) {
    log_error("%s", err.c_str());
    return 1;
  }
  int fd = open_listener(s.listen, s.backlog, &err);
  if (fd < 0) {
    log_error("%s", err.c_str());
    release_pid_file(pid_fd);
    return 1;
  }
  return run_supervisor(s, path, fd, pid_fd);
}

// With admin_listen: the nginx pieces that reach the operator endpoints'
// socket. Its own upstream (no keepalive: a scrape every few seconds), and a
// location for a server{} that only operators reach; the public location
// answers 404 for /api/metrics then (nginx/README.md).
void print_admin_snippet(const Settings& s) {
  if (s.admin_listen.empty()) return;
  printf("# admin_listen: /api/metrics is served on this socket only (nginx/README.md)\n"
         "upstream popup_admin {\n    server %s max_fails=0;\n}\n"
         "# in a server{} that only operators (Prometheus) reach:\n"
         "location = /api/metrics {\n"
         "    fastcgi_pass popup_admin;\n"
         "    include popup/fastcgi_params.conf;\n"
         "}\n",
         s.admin_listen.c_str());
}

// The origins whose pages may load popup.js (nginx/popup-web.conf adds
// Access-Control-Allow-Origin: $popup_cors_origin): the same cors_origins as
// the API's answers, so one setting says which shops may use the service.
// Always printed, so the variable exists for nginx even with CORS off
// (then it is empty and nginx sends no header). The setting was checked
// when it was read: only "*" or "scheme://host[:port]" items, no quotes.
void print_cors_map(const Settings& s) {
  CorsPolicy p = parse_cors_origins(s.cors_origins).value();
  printf("# the origins of cors_origins, for popup.js (nginx/popup-web.conf):\n"
         "map $http_origin $popup_cors_origin {\n    default \"%s\";\n", p.any ? "*" : "");
  for (const std::string& o : p.origins) printf("    \"%s\" $http_origin;\n", o.c_str());
  printf("}\n");
}

// What --check says: the verdict, and the upstream block nginx needs for
// this pool (scripts/stack.sh renders its server lines into nginx.conf).
void print_check(const Settings& s, const std::string& path) {
  printf("popupd: %s: configuration ok (%d workers x %d threads; nginx may keep %d x %d "
         "connections, within each worker's file limit of %lld)\n",
         path.c_str(), s.workers, s.threads, s.nginx_workers, s.nginx_keepalive,
         static_cast<long long>(raise_fd_limit()));
  bool affine = s.user_affinity && !s.listen.empty();
  if (affine)
    printf("# user affinity: one socket per worker; nginx hashes the uid to a worker\n"
           "# (a request without ?uid= to any of them, at random)\n"
           "map $arg_uid $popup_route {\n    \"\"      $request_id;\n    default $arg_uid;\n}\n");
  printf("# the nginx upstream for this pool (nginx/README.md):\nupstream popup_pool {\n");
  if (affine) printf("    hash $popup_route consistent;\n");
  if (!affine && s.listen.empty())
    printf("    server <the socket spawn-fcgi opens> max_fails=0;\n");
  else if (!affine)
    printf("    server %s max_fails=0;\n", s.listen.c_str());
  for (int i = 0; affine && i < s.workers; ++i)
    printf("    server %s max_fails=0;\n",
           format_address(*slot_address(*parse_address(s.listen), i)).c_str());
  printf("    keepalive %d;\n}\n", s.nginx_keepalive);
  // What nginx/popup.conf's @popup_retry sends a request to when every try
  // on popup_pool failed: the shared socket, which any worker accepts. No
  // keepalive: it is for those retries only, and may pin nothing.
  printf("# the shared socket, for requests whose worker socket failed (nginx/popup.conf):\n"
         "upstream popup_shared {\n    server %s max_fails=0;\n}\n",
         s.listen.empty() ? "<the socket spawn-fcgi opens>" : s.listen.c_str());
  print_cors_map(s);
  print_admin_snippet(s);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  Settings s;
  if (auto done = read_command_line(argc, argv, kArgs, &args, &s)) return *done;
  const std::string& path = args.config;
  if (auto bad = check_sizing(s, raise_fd_limit())) {
    fprintf(stderr, "popupd: %s: %s\n", path.c_str(), bad->c_str());
    return 1;
  }
  if (args.check) {
    print_check(s, path);
    return 0;
  }
  std::string err;
  if (!log_configure(s.log_level, s.log_file, &err)) {
    fprintf(stderr, "popupd: %s: %s\n", path.c_str(), err.c_str());
    return 1;
  }
  mysql_global_init();
  if (!s.listen.empty()) return run_pool(s, path);
  log_set_name("popupd-worker");
  if (!fd0_is_socket()) {
    fprintf(stderr, "popupd: no `listen` in %s and fd 0 is not a listening socket "
                    "(run under spawn-fcgi, or set listen)\n", path.c_str());
    return 1;
  }
  Metrics metrics(s.state_dir);
  return run_worker(s, 0, OwnSocket{}, metrics);
}
