// libFuzzer target for the parsers in core/ that read bytes from outside:
// query strings and form bodies, action bodies (form and JSON), versions,
// the published configuration JSON, the Redis state encoding, queued events,
// the settings file and the FastCGI record guard (core/fcgi_records.h). The
// first input byte picks the parser (modulo 10), the rest is its input, so
// one corpus and one binary cover them all (a fuzzer per parser would split
// a short `make test` run into slivers).
//
// Beyond "does not crash" (AddressSanitizer and UBSan watch every access),
// each parser is held to a property that a silent bug would break: what
// decodes re-encodes to something that decodes to the same value, a
// version formats back to itself, and an accepted visit carries a valid uid.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/config_json.h"
#include "core/event.h"
#include "core/fcgi_records.h"
#include "core/params.h"
#include "core/settings.h"
#include "core/state_codec.h"
#include "core/version.h"

namespace {

using namespace popup;

void require(bool ok) {
  if (!ok) abort();
}

void fuzz_visit(std::string_view in) {
  auto v = parse_visit(in);
  if (v.ok()) require(valid_uid(v.value().uid));
}

// Content type, body, query and header separated by NUL bytes.
void fuzz_action(std::string_view in) {
  std::string_view parts[4];
  for (auto& p : parts) {
    size_t at = in.find('\0');
    p = in.substr(0, at);
    in = at == std::string_view::npos ? std::string_view() : in.substr(at + 1);
  }
  auto r = parse_action_request({parts[0], parts[1], parts[2], parts[3]});
  if (r.ok()) require(valid_uid(r.value().uid) && r.value().popup_id > 0);
  parse_action_body(parts[0], parts[1]);
}

void fuzz_form(std::string_view in) {
  parse_form(in);
  auto d = url_decode(in);
  if (d) require(d->size() <= in.size());
  routed_by_uid(in, "alice");
}

void fuzz_version(std::string_view in) {
  auto v = parse_version(in);
  if (!v) return;
  auto again = parse_version(format_version(*v));
  require(again && *again == *v);
}

void fuzz_config(std::string_view in) {
  auto c = decode_config(in);
  if (!c.ok()) return;
  auto again = decode_config(encode_config(c.value()));
  require(again.ok() && again.value().popups.size() == c.value().popups.size() &&
          again.value().version == c.value().version);
}

void fuzz_state(std::string_view in) {
  auto s = decode_state(in);
  if (!s) return;
  auto again = decode_state(encode_state(*s));
  require(again && *again == *s);
}

void fuzz_event(std::string_view in) {
  auto e = decode_event(in);
  if (!e.ok()) return;
  auto again = decode_event(encode_event(e.value()));
  require(again.ok() && again.value() == e.value());
}

void fuzz_settings(std::string_view in) { parse_settings(in); }

void fuzz_path(std::string_view in) {
  size_t a = in.find('\0'), b = in.find('\0', a == std::string_view::npos ? a : a + 1);
  std::string_view x = in.substr(0, a);
  std::string_view y = a == std::string_view::npos ? "" : in.substr(a + 1, b - a - 1);
  std::string_view z = b == std::string_view::npos ? "" : in.substr(b + 1);
  request_path("", x, y, z);
  request_path("", "", "", in);
}

// The guard in front of libfcgi: never "complete" past a parameter length
// above the limit, whatever the record stream.
void fuzz_records(std::string_view in) {
  auto c = check_fcgi_records(in, 1024, 4096);
  if (c.verdict == RecordVerdict::bad) require(!c.why.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 10) {
    case 0: fuzz_visit(in); break;
    case 1: fuzz_action(in); break;
    case 2: fuzz_form(in); break;
    case 3: fuzz_version(in); break;
    case 4: fuzz_config(in); break;
    case 5: fuzz_state(in); break;
    case 6: fuzz_event(in); break;
    case 7: fuzz_settings(in); break;
    case 8: fuzz_path(in); break;
    case 9: fuzz_records(in); break;
  }
  return 0;
}
