// The worker's guard in front of libfcgi: before FCGX_Accept_r reads a
// request from a connection, peek at its records (core/fcgi_records.h) and
// refuse a connection whose parameter lengths would make libfcgi allocate
// gigabytes (or abort the process when that allocation fails).
#pragma once

#include <string>

namespace popup {

// Largest parameter stream accepted: nginx's default header buffers hold
// 4 x 8 KiB of headers, and its FastCGI parameters add about 1 KiB.
inline constexpr size_t kMaxFcgiParams = 64 * 1024;

// Peeks (recv MSG_PEEK, nothing consumed) at fd's unread bytes until the
// next request's parameters have ended. true when they are sane, or when
// the connection is at EOF or failed (libfcgi then fails on its own); false
// with *why when they are not, or when they do not end within about a
// second (a FastCGI server sends them in one go). The caller closes the
// connection on false.
bool next_request_is_sane(int fd, std::string* why);

}  // namespace popup
