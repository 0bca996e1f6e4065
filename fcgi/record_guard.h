// The guard in front of libfcgi: before a thread hands a connection to
// FCGX_Accept_r, peek at its records (core/fcgi_records.h). A connection is
// handed over only once its whole request is buffered, so libfcgi never
// waits on it, and never when its parameter lengths would make libfcgi
// allocate gigabytes (or abort the process when that allocation fails).
#pragma once

#include <string>

namespace popup {

// Largest parameter stream accepted: nginx's default header buffers hold
// 4 x 8 KiB of headers, and its FastCGI parameters add about 1 KiB.
inline constexpr size_t kMaxFcgiParams = 64 * 1024;

// What a connection's unread bytes hold.
enum class Arrival {
  whole,    // a whole request: hand it to libfcgi
  partial,  // the start of one: wait for the rest
  none,     // nothing to read (an idle kept connection)
  closed,   // EOF or a socket error: close it
  bad,      // malformed or oversized: close it without handing it over
};

struct Peeked {
  Arrival what;
  std::string why;  // for bad
};

// Peeks (recv MSG_PEEK | MSG_DONTWAIT: nothing consumed, never blocks) at
// fd's unread bytes, at most the parameters' limit plus room for a body of
// 16 KiB and the record headers. A request whose body goes beyond that
// window with its parameters all there counts as whole: libfcgi reads the
// rest as it comes (the socket's receive timeout bounds that wait).
Peeked peek_request(int fd);

}  // namespace popup
