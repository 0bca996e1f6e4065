#include "core/answer.h"

#include <boost/json.hpp>

namespace popup {

std::string popup_answer(const Popup* p) {
  if (!p) return "{\"popup\":null}";
  boost::json::object o;
  o["id"] = p->id;
  o["title"] = p->title;
  o["body"] = p->body;
  o["image_url"] = p->image_url;
  o["link_url"] = p->link_url;
  if (!p->button_text.empty()) o["button_text"] = p->button_text;
  boost::json::object root;
  root["popup"] = std::move(o);
  return boost::json::serialize(root);
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
