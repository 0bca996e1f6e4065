#include "fcgi/record_guard.h"

#include <sys/socket.h>

#include <cerrno>
#include <string_view>
#include <vector>

#include "core/fcgi_records.h"

namespace popup {
namespace {

// Room for the parameters and a body: nginx's bodies for this service are
// at most 4 KiB (client_max_body_size), and a parameter stream ends within
// this many bytes or is refused.
constexpr size_t kWindow = kMaxFcgiParams + 16 * 1024;

}  // namespace

Peeked peek_request(int fd) {
  thread_local std::vector<char> buf(kWindow + 8);
  ssize_t n;
  do {
    n = recv(fd, buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return {Arrival::closed, ""};
  if (n < 0) return {errno == EAGAIN || errno == EWOULDBLOCK ? Arrival::none : Arrival::closed, ""};
  size_t got = static_cast<size_t>(n);
  RecordCheck c = check_fcgi_request(std::string_view(buf.data(), got), kMaxFcgiParams, kWindow);
  if (c.verdict == RecordVerdict::complete) return {Arrival::whole, ""};
  if (c.verdict == RecordVerdict::bad) return {Arrival::bad, c.why};
  if (got < buf.size()) return {Arrival::partial, ""};
  if (c.params_ended) return {Arrival::whole, ""};
  return {Arrival::bad, "no end of parameters within " + std::to_string(kWindow) + " bytes"};
}

}  // namespace popup
