#include "fcgi/record_guard.h"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "core/fcgi_records.h"

namespace popup {
namespace {

// Room for the parameters plus what may come before them on a kept
// connection (a previous request's unread records, at most a body of 4 KiB).
constexpr size_t kMaxScan = kMaxFcgiParams + 16 * 1024;

void nap_ms(long ms) {
  timespec ts{0, ms * 1000000L};
  nanosleep(&ts, nullptr);
}

long now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

}  // namespace

bool next_request_is_sane(int fd, std::string* why) {
  thread_local std::vector<char> buf(kMaxScan + 8);
  const long deadline = now_ms() + 1000;
  // poll() cannot wait for "more than is buffered" (it reports readable as
  // long as anything is), so a request whose parameters arrive in pieces is
  // looked at again after short naps; nginx's arrive in one write. Nothing
  // buffered at all (a connection accepted before nginx wrote to it, a third
  // of all requests under saturation) is waited for with poll(), which
  // wakes the moment the request arrives.
  for (long nap = 1;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return true;
    if (n > 0) {
      RecordCheck c = check_fcgi_records(std::string_view(buf.data(), static_cast<size_t>(n)),
                                         kMaxFcgiParams, kMaxScan);
      if (c.verdict == RecordVerdict::complete) return true;
      if (c.verdict == RecordVerdict::bad) return *why = c.why, false;
    }
    long left = deadline - now_ms();
    if (left <= 0) return *why = "the request's parameters did not end within 1 s", false;
    if (n < 0) {
      pollfd p{fd, POLLIN, 0};
      poll(&p, 1, static_cast<int>(left));
      continue;
    }
    nap_ms(std::min(nap, left));
    nap = nap < 16 ? nap * 2 : nap;
  }
}

}  // namespace popup
