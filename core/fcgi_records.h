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
  // check_fcgi_request: the parameters have ended (the verdict then says
  // whether the body has too).
  bool params_ended = false;
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

// As check_fcgi_records, and then through the request's body: complete only
// once the empty FCGI_STDIN record that ends it is in `bytes` (the whole
// request is buffered, so libfcgi reads it without waiting), need_more until
// then with params_ended telling whether the parameters are all there. A
// record of the request other than FCGI_STDIN after the parameters (an
// abort, a filter's data) is complete: libfcgi deals with it. max_scan
// bounds the bytes before the parameters' end only; a body may be longer
// than what the caller looked at.
RecordCheck check_fcgi_request(std::string_view bytes, size_t max_params, size_t max_scan);

}  // namespace popup
