#include "core/params.h"
#include "core/text.h"

#include <boost/json.hpp>
#include <algorithm>
#include <cctype>

#include "core/version.h"

namespace popup {
namespace {

Error bad(std::string message) { return Error{"bad_request", std::move(message)}; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool valid_lang(std::string_view s) {
  if (s.empty() || s.size() > 35) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

// A popup id in a form: 1..10 decimal digits, 1..2147483647; 0 when invalid.
int64_t parse_id(std::string_view s) {
  if (s.empty() || s.size() > 10) return 0;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v <= 2147483647 ? v : 0;
}

std::string_view media_type(std::string_view ct) {
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && std::isspace(static_cast<unsigned char>(ct.back()))) ct.remove_suffix(1);
  while (!ct.empty() && std::isspace(static_cast<unsigned char>(ct.front()))) ct.remove_prefix(1);
  return ct;
}

// True when the first non-blank byte is '{' (a form field name cannot hold
// a raw '{' that means anything to us, so the guess never loses a form).
bool starts_like_json(std::string_view body) {
  size_t i = body.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && body[i] == '{';
}

// The fields of an action body before they are checked; nullptr = absent.
// id 0 = missing or not a positive 32-bit integer (has_id says which).
struct ActionFields {
  std::optional<std::string> uid, action, key;
  bool has_id = false;
  int64_t id = 0;
};

Result<ActionFields> action_form_fields(std::string_view body) {
  auto pairs = parse_form(body);
  if (!pairs.ok()) return pairs.error();
  ActionFields f;
  std::optional<std::string> id;
  for (auto& [k, v] : pairs.value()) {
    std::optional<std::string>* slot = k == "uid"         ? &f.uid
                                       : k == "popup_id"  ? &id
                                       : k == "action"    ? &f.action
                                       : k == "action_id" ? &f.key
                                                          : nullptr;
    if (!slot) continue;
    if (*slot) return bad(k + " is given more than once");
    *slot = std::move(v);
  }
  f.has_id = id.has_value();
  if (id) f.id = parse_id(*id);
  return f;
}

// A string member of a JSON object: absent, or an error naming it when it is
// not a string.
Result<std::optional<std::string>> json_string(const boost::json::object& o, const char* name) {
  auto* v = o.if_contains(name);
  if (!v) return std::optional<std::string>{};
  if (!v->is_string()) return bad(std::string(name) + " must be a string");
  return std::optional<std::string>{std::string(v->get_string())};
}

// The first key that the top-level object of `json` (valid JSON) names
// twice, or nullopt. Boost.JSON keeps the last of duplicate keys silently;
// a form with a field twice is refused, and so is this.
std::optional<std::string> duplicate_key(std::string_view json) {
  std::vector<std::string> keys;
  int depth = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    if (c != '"') continue;
    size_t end = i + 1;
    while (json[end] != '"') end += json[end] == '\\' ? 2 : 1;
    std::string_view literal = json.substr(i, end + 1 - i);
    size_t next = json.find_first_not_of(" \t\r\n", end + 1);
    i = end;
    if (depth != 1 || next == std::string_view::npos || json[next] != ':') continue;
    boost::json::error_code ec;
    boost::json::value key = boost::json::parse(literal, ec);  // decodes \u escapes
    if (ec || !key.is_string()) continue;
    std::string k(key.get_string());
    for (const auto& seen : keys)
      if (seen == k) return k;
    keys.push_back(std::move(k));
  }
  return std::nullopt;
}

Result<ActionFields> action_json_fields(std::string_view body) {
  boost::json::error_code ec;
  boost::json::value doc = boost::json::parse(body, ec);
  if (ec) return bad("body is not valid JSON");
  if (!doc.is_object()) return bad("body must be a JSON object");
  if (auto dup = duplicate_key(body)) return bad(printable(*dup, 64) + " is given more than once");
  const auto& o = doc.get_object();
  ActionFields f;
  for (auto [name, out] : {std::pair{"uid", &f.uid}, std::pair{"action", &f.action},
                           std::pair{"action_id", &f.key}}) {
    auto s = json_string(o, name);
    if (!s.ok()) return s.error();
    *out = std::move(s.value());
  }
  auto* idv = o.if_contains("popup_id");
  f.has_id = idv != nullptr;
  if (idv && idv->is_int64() && idv->get_int64() >= 1 && idv->get_int64() <= 2147483647)
    f.id = idv->get_int64();
  return f;
}

// The uid of the query string, if any (other parameters are ignored).
Result<std::optional<std::string>> query_uid(std::string_view query) {
  auto pairs = parse_form(query);
  if (!pairs.ok()) return pairs.error();
  std::optional<std::string> uid;
  for (auto& [k, v] : pairs.value()) {
    if (k != "uid") continue;
    if (uid) return bad("uid is given more than once");
    uid = std::move(v);
  }
  return uid;
}

// Merges the body's fields with the query's uid and the key header, in the
// order the messages name them: uid, popup_id, action, the key.
Result<ActionRequest> check_action(ActionFields f, const ActionSource& src) {
  auto q = query_uid(src.query);
  if (!q.ok()) return q.error();
  const auto& quid = q.value();
  if (quid && !valid_uid(*quid)) return bad("uid must be 1-64 characters of [A-Za-z0-9._-]");
  if (f.uid && quid && *f.uid != *quid)
    return bad("uid in the query string and uid in the body differ");
  if (!f.uid) f.uid = quid;
  if (!f.has_id) return bad("popup_id is required");
  if (!f.uid) return bad("uid is required");
  if (!valid_uid(*f.uid)) return bad("uid must be 1-64 characters of [A-Za-z0-9._-]");
  if (f.id <= 0) return bad("popup_id must be a positive integer");
  if (!f.action) return bad("action is required");
  auto a = parse_action(*f.action);
  if (!a) return bad("action must be click or ignore");
  std::string header(src.key_header);
  if (!header.empty() && !valid_uid(header))
    return bad("Idempotency-Key must be 1-64 characters of [A-Za-z0-9._-]");
  if (f.key && !valid_uid(*f.key)) return bad("action_id must be 1-64 characters of [A-Za-z0-9._-]");
  if (f.key && !header.empty() && *f.key != header)
    return bad("Idempotency-Key and action_id differ");
  return ActionRequest{std::move(*f.uid), f.id, *a, f.key ? std::move(*f.key) : header};
}

}  // namespace

std::string printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += c >= 0x20 && c < 0x7f ? c : '?';
  return out;
}

void find_params(const char* const* envp, const std::string_view* names, size_t n,
                 std::string_view* out) {
  uint64_t found = 0;  // bit i: names[i] has its value
  for (size_t i = 0; i < n; ++i) out[i] = {};
  n = std::min<size_t>(n, 64);
  for (; envp && *envp; ++envp) {
    std::string_view e(*envp);
    size_t eq = e.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = e.substr(0, eq);
    for (size_t i = 0; i < n; ++i) {
      if ((found >> i & 1) || names[i] != name) continue;
      out[i] = e.substr(eq + 1);
      found |= uint64_t{1} << i;
      break;
    }
  }
}

std::string request_path(std::string_view document_uri, std::string_view script_name,
                         std::string_view path_info, std::string_view request_uri) {
  if (!document_uri.empty()) return std::string(document_uri);
  if (!script_name.empty() || !path_info.empty())
    return std::string(script_name) + std::string(path_info);
  std::string_view raw = request_uri.substr(0, request_uri.find('?'));
  return url_decode(raw).value_or(std::string(raw));
}

bool routed_by_uid(std::string_view query, std::string_view uid) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    if (part.substr(0, 4) == "uid=") return part.substr(4) == uid;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

bool routed_to_owner(std::string_view query, std::string_view route, std::string_view uid) {
  return route.empty() ? routed_by_uid(query, uid) : route == uid;
}

bool valid_uid(std::string_view uid) {
  if (uid.empty() || uid.size() > 64) return false;
  for (char c : uid)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  return true;
}

std::optional<std::string> url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Result<Pairs> parse_form(std::string_view s) {
  Pairs out;
  while (!s.empty()) {
    auto amp = s.find('&');
    std::string_view seg = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
    if (seg.empty()) continue;
    auto eq = seg.find('=');
    auto k = url_decode(seg.substr(0, eq));
    auto v = url_decode(eq == std::string_view::npos ? std::string_view{} : seg.substr(eq + 1));
    if (!k || !v) return bad("malformed %-escape in parameters");
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

Result<Visit> parse_visit(std::string_view query) {
  auto pairs = parse_form(query);
  if (!pairs.ok()) return pairs.error();
  Visit v;
  bool seen[4] = {false, false, false, false};
  static const char* names[] = {"uid", "platform", "version", "lang"};
  for (const auto& [k, val] : pairs.value()) {
    int idx = -1;
    for (int i = 0; i < 4; ++i)
      if (k == names[i]) idx = i;
    if (idx < 0) continue;
    if (seen[idx]) return bad(k + " is given more than once");
    seen[idx] = true;
    if (idx == 0) {
      if (!valid_uid(val)) return bad("uid must be 1-64 characters of [A-Za-z0-9._-]");
      v.uid = val;
    } else if (idx == 1) {
      auto p = parse_platform(val);
      if (!p) return bad("platform must be web, ios or android");
      v.platform = *p;
    } else if (idx == 2) {
      auto ver = parse_version(val);
      if (!ver) return bad("version must be 1 to 4 dot-separated numbers");
      v.version = *ver;
    } else {
      if (!valid_lang(val)) return bad("lang must be 1-35 characters of [A-Za-z0-9_-]");
      v.lang = lower(val);
    }
  }
  if (!seen[0]) return bad("uid is required");
  return v;
}

Result<ActionRequest> parse_action_request(const ActionSource& src) {
  std::string type = lower(media_type(src.content_type));
  // navigator.sendBeacon sends a string as text/plain, the one type a
  // cross-origin page may POST without a preflight: such a body holds
  // either encoding, and a JSON object is the only one starting with '{'.
  if (type == "text/plain")
    type = starts_like_json(src.body) ? "application/json" : "application/x-www-form-urlencoded";
  Result<ActionFields> f = type == "application/x-www-form-urlencoded" ? action_form_fields(src.body)
                           : type == "application/json"
                               ? action_json_fields(src.body)
                               : bad("Content-Type must be application/x-www-form-urlencoded, "
                                     "application/json or text/plain holding either");
  if (!f.ok()) return f.error();
  return check_action(std::move(f.value()), src);
}

Result<ActionRequest> parse_action_body(std::string_view content_type, std::string_view body) {
  return parse_action_request(ActionSource{content_type, body, {}, {}});
}

}  // namespace popup
