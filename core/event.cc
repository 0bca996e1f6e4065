#include "core/event.h"

#include <boost/json.hpp>
#include <cstdio>

#include "core/params.h"
#include "core/sha256.h"

namespace popup {
namespace {

Error bad(std::string m) { return Error{"bad_request", "event: " + std::move(m)}; }

bool get_int(const boost::json::object& o, const char* key, int64_t* out) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_int64()) {
    if (v && v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
      *out = static_cast<int64_t>(v->get_uint64());
      return true;
    }
    return false;
  }
  *out = v->get_int64();
  return true;
}

bool get_str(const boost::json::object& o, const char* key, std::string* out) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return false;
  *out = std::string(v->get_string());
  return true;
}

bool valid_id(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string encode_event(const Event& e) {
  boost::json::object o;
  o["id"] = e.id;
  o["uid"] = e.uid;
  o["popup_id"] = e.popup_id;
  o["kind"] = to_string(e.kind);
  o["ts"] = e.ts;
  o["order"] = e.order;
  o["next_show_at"] = e.state.next_show_at;
  o["impressions"] = e.state.impressions;
  o["last_action"] = to_string(e.state.last_action);
  return boost::json::serialize(o);
}


Result<Event> decode_event(std::string_view text) {
  boost::json::error_code ec;
  boost::json::value doc = boost::json::parse(text, ec);
  if (ec || !doc.is_object()) return bad("not a JSON object");
  const auto& o = doc.get_object();
  Event e;
  std::string kind, last;
  if (!get_str(o, "id", &e.id) || !valid_id(e.id)) return bad("id must be 32 hex digits");
  if (!get_str(o, "uid", &e.uid) || !valid_uid(e.uid)) return bad("invalid uid");
  if (!get_int(o, "popup_id", &e.popup_id) || e.popup_id < 1) return bad("invalid popup_id");
  if (!get_str(o, "kind", &kind) || !parse_last_action(kind)) return bad("invalid kind");
  if (!get_int(o, "ts", &e.ts) || e.ts < 0) return bad("invalid ts");
  if (!get_int(o, "order", &e.order)) return bad("invalid order");
  if (!get_int(o, "next_show_at", &e.state.next_show_at) || e.state.next_show_at < kNever)
    return bad("invalid next_show_at");
  if (!get_int(o, "impressions", &e.state.impressions) || e.state.impressions < 0)
    return bad("invalid impressions");
  if (!get_str(o, "last_action", &last) || !parse_last_action(last))
    return bad("invalid last_action");
  e.kind = *parse_last_action(kind);
  e.state.last_action = *parse_last_action(last);
  e.state.updated_at = e.ts;
  e.state.order = e.order;
  return e;
}

std::string format_event_id(uint64_t hi, uint64_t lo) {
  char buf[33];
  snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
           static_cast<unsigned long long>(lo));
  return std::string(buf, 32);
}

std::string action_event_id(std::string_view uid, std::string_view source, std::string_view key) {
  std::string text = "action";
  for (std::string_view part : {uid, source, key}) {
    text += '\0';
    text += part;
  }
  auto d = sha256(text);
  static const char* kHex = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 15];
  }
  return out;
}

}  // namespace popup
