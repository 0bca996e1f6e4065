// A look at the FastCGI records of a connection's next request before
// libfcgi reads them. libfcgi allocates each parameter at the size its
// length prefix claims (up to 2 x 2 GiB) before it has the bytes, and
// asserts when that allocation fails, which aborts the whole worker process
// and every request its other threads serve. This scanner is pure (the
// worker feeds it what recv(MSG_PEEK) shows), so unit tests and the fuzz
// target can drive it with bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace popup {

enum class RecordVerdict {
  complete,   // the next request's parameters are all there and sane
  need_more,  // sane so far, the parameters have not ended yet
  bad,        // close the connection without handing it to libfcgi
};

struct RecordCheck {
  RecordVerdict verdict;
  std::string why;  // for bad: what was wrong
};

// Scans `bytes`, the unread start of a FastCGI connection, up to the empty
// FCGI_PARAMS record that ends the parameters of the request a
// BEGIN_REQUEST opened. Records before it (a previous request's leftovers,
// other request ids) are skipped as libfcgi skips them; management records
// (request id 0) must hold the name-value pairs they claim. bad when a
// parameter's name or value length exceeds max_params, the parameters
// together exceed it, or more than max_scan bytes come before their end.
// A record stream libfcgi rejects by itself without allocating (another
// protocol version, a stream record out of order) is complete: libfcgi
// answers it.
RecordCheck check_fcgi_records(std::string_view bytes, size_t max_params, size_t max_scan);

}  // namespace popup
