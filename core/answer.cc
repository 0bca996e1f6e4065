#include "core/answer.h"

#include <boost/json.hpp>

namespace popup {

namespace {

// A JSON string (quotes and escapes as boost::json writes them) appended to
// out: the answer is built as text, with no json::object to allocate and
// hash on every GET (perf: ~4 % of a worker's CPU went to that).
void append_json_string(std::string& out, std::string_view s) {
  boost::json::serializer sr;
  sr.reset(boost::json::string_view(s.data(), s.size()));
  char buf[256];
  while (!sr.done()) {
    boost::json::string_view part = sr.read(buf, sizeof buf);
    out.append(part.data(), part.size());
  }
}

}  // namespace

std::string popup_answer(const Popup* p) {
  if (!p) return "{\"popup\":null}";
  std::string out;
  out.reserve(96 + p->title.size() + p->body.size() + p->image_url.size() + p->link_url.size() +
              p->button_text.size());
  out += "{\"popup\":{\"id\":";
  out += std::to_string(p->id);
  const std::pair<const char*, const std::string*> fields[] = {
      {",\"title\":", &p->title},
      {",\"body\":", &p->body},
      {",\"image_url\":", &p->image_url},
      {",\"link_url\":", &p->link_url}};
  for (const auto& [key, value] : fields) {
    out += key;
    append_json_string(out, *value);
  }
  if (!p->button_text.empty()) {
    out += ",\"button_text\":";
    append_json_string(out, p->button_text);
  }
  out += "}}";
  return out;
}

std::string error_answer(const Error& e) {
  boost::json::object o;
  o["error"] = e.code;
  o["message"] = e.message;
  return boost::json::serialize(o);
}

std::string ok_answer() { return "{\"ok\":true}"; }

int status_for(std::string_view code) {
  if (code == "bad_request") return 400;
  if (code == "forbidden") return 403;
  if (code == "not_found") return 404;
  if (code == "method_not_allowed") return 405;
  if (code == "payload_too_large") return 413;
  if (code == "unavailable") return 503;
  return 500;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

}  // namespace popup
