#include "fcgi/listener.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/settings.h"
#include "lib/log.h"

namespace popup {
namespace {

// Makes way for a unix socket at sa's path. Why connect first: unlinking
// the path of a socket that a running pool accepts on leaves that pool
// running but unreachable while this one takes its traffic. A connection
// that succeeds (or finds the backlog full) means a live server: refused. A
// refused connection (nobody accepts) or a missing file means a stale path,
// which is removed. Anything that is not a socket is left alone. Returns
// false with *err set when the path is taken.
bool clear_stale_socket(const sockaddr_un& sa, std::string* err) {
  std::string path = sa.sun_path;
  struct stat st;
  if (lstat(sa.sun_path, &st) != 0) {
    if (errno == ENOENT) return true;
    return *err = path + ": " + strerror(errno), false;
  }
  if (!S_ISSOCK(st.st_mode))
    return *err = path + " exists and is not a socket; not replacing it", false;
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0) return *err = std::string("socket: ") + strerror(errno), false;
  int rc = connect(probe, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  int e = errno;
  close(probe);
  if (rc == 0 || e == EAGAIN)
    return *err = path + " is in use: another process accepts connections on it "
                         "(is a pool already running?); not replacing it", false;
  if (e != ECONNREFUSED && e != ENOENT)
    return *err = "connect " + path + ": " + strerror(e) + "; not replacing it", false;
  if (unlink(sa.sun_path) != 0 && errno != ENOENT)
    return *err = "unlink stale " + path + ": " + strerror(errno), false;
  return true;
}

// A bound unix stream socket at `path`, or -1 with *err set.
int bind_unix(const std::string& path, std::string* err) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) return *err = "unix socket path too long", -1;
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  if (!clear_stale_socket(sa, err)) return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    *err = "bind " + path + ": " + strerror(errno);
    if (fd >= 0) close(fd);
    return -1;
  }
  if (chmod(path.c_str(), 0660) != 0) log_warn("chmod %s: %s", path.c_str(), strerror(errno));
  return fd;
}

}  // namespace

int open_listener(const std::string& listen, int backlog, std::string* err) {
  auto a = parse_address(listen);
  if (!a) return *err = "invalid listen address " + listen, -1;
  int fd = -1;
  if (a->is_unix) {
    fd = bind_unix(a->path, err);
    if (fd < 0) return -1;
  } else {
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(a->host.c_str(), std::to_string(a->port).c_str(), &hints, &res) != 0 || !res)
      return *err = "cannot resolve " + a->host, -1;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
      *err = "bind " + listen + ": " + strerror(errno);
      if (fd >= 0) close(fd);
      freeaddrinfo(res);
      return -1;
    }
    freeaddrinfo(res);
  }
  if (::listen(fd, backlog) != 0) {
    *err = std::string("listen: ") + strerror(errno);
    close(fd);
    return -1;
  }
  // Workers inherit the socket through fork; it must survive in them.
  fcntl(fd, F_SETFD, 0);
  return fd;
}

}  // namespace popup
