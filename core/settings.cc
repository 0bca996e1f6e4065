#include "core/settings.h"

#include <charconv>
#include <cctype>

namespace popup {
namespace {

enum class Kind { integer, string, boolean, address, opt_address, name };

// One row per key: where it goes, what it is, its bounds (ngx_command_t).
struct Setting {
  const char* key;
  Kind kind;
  int64_t min, max;
  void* (*field)(Settings&);
};

#define FIELD(f) [](Settings& s) -> void* { return &s.f; }
const Setting kTable[] = {
    {"listen", Kind::opt_address, 0, 0, FIELD(listen)},
    {"backlog", Kind::integer, 1, 65535, FIELD(backlog)},
    {"workers", Kind::integer, 1, 256, FIELD(workers)},
    {"threads", Kind::integer, 1, 256, FIELD(threads)},
    {"max_requests", Kind::integer, 0, INT64_MAX, FIELD(max_requests)},
    {"crash_storm_count", Kind::integer, 1, 10000, FIELD(crash_storm_count)},
    {"crash_storm_window_s", Kind::integer, 1, 3600, FIELD(crash_storm_window_s)},
    {"crash_storm_pause_s", Kind::integer, 1, 3600, FIELD(crash_storm_pause_s)},
    {"stop_timeout_s", Kind::integer, 1, 3600, FIELD(stop_timeout_s)},
    {"state_dir", Kind::string, 0, 0, FIELD(state_dir)},
    {"nginx_workers", Kind::integer, 1, 1024, FIELD(nginx_workers)},
    {"nginx_keepalive", Kind::integer, 0, 100000, FIELD(nginx_keepalive)},
    {"redis", Kind::address, 0, 0, FIELD(redis)},
    {"redis_timeout_ms", Kind::integer, 1, 600000, FIELD(redis_timeout_ms)},
    {"key_prefix", Kind::name, 0, 0, FIELD(key_prefix)},
    {"state_ttl_s", Kind::integer, 1, INT64_MAX, FIELD(state_ttl_s)},
    {"config_check_ms", Kind::integer, 1, 3600000, FIELD(config_check_ms)},
    {"config_lock_ms", Kind::integer, 1, 3600000, FIELD(config_lock_ms)},
    {"mysql_host", Kind::string, 0, 0, FIELD(mysql_host)},
    {"mysql_port", Kind::integer, 1, 65535, FIELD(mysql_port)},
    {"mysql_socket", Kind::string, 0, 0, FIELD(mysql_socket)},
    {"mysql_user", Kind::string, 0, 0, FIELD(mysql_user)},
    {"mysql_password", Kind::string, 0, 0, FIELD(mysql_password)},
    {"mysql_db", Kind::name, 0, 0, FIELD(mysql_db)},
    {"batch_size", Kind::integer, 1, 10000, FIELD(batch_size)},
    {"batch_ms", Kind::integer, 1, 60000, FIELD(batch_ms)},
    {"writer_id", Kind::name, 0, 0, FIELD(writer_id)},
    {"test_clock", Kind::boolean, 0, 0, FIELD(test_clock)},
};
#undef FIELD

// Fields of type int and int64_t share Kind::integer; these keys are int64_t.
bool is_int64(const char* key) {
  std::string_view k(key);
  return k == "max_requests" || k == "state_ttl_s";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != ':' && c != '-')
      return false;
  return true;
}

// Sets one value; returns "" or the problem.
std::string apply(const Setting& st, std::string_view value, Settings& s) {
  void* f = st.field(s);
  switch (st.kind) {
    case Kind::integer: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (value.empty() || ec != std::errc() || p != value.data() + value.size())
        return std::string(st.key) + " must be an integer";
      if (v < st.min || v > st.max)
        return std::string(st.key) + " must be between " + std::to_string(st.min) + " and " +
               std::to_string(st.max);
      if (is_int64(st.key))
        *static_cast<int64_t*>(f) = v;
      else
        *static_cast<int*>(f) = static_cast<int>(v);
      return "";
    }
    case Kind::boolean: {
      std::string v(value);
      for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (v == "on" || v == "true" || v == "yes" || v == "1") *static_cast<bool*>(f) = true;
      else if (v == "off" || v == "false" || v == "no" || v == "0") *static_cast<bool*>(f) = false;
      else return std::string(st.key) + " must be on or off";
      return "";
    }
    case Kind::opt_address:
    case Kind::address:
      if (!(st.kind == Kind::opt_address && value.empty()) && !parse_address(value))
        return std::string(st.key) + " must be unix:/path or host:port";
      break;
    case Kind::name:
      if (!valid_name(value)) return std::string(st.key) + " must be [A-Za-z0-9_.:-]+";
      break;
    case Kind::string:
      break;
  }
  *static_cast<std::string*>(f) = std::string(value);
  return "";
}

}  // namespace

std::optional<Address> parse_address(std::string_view s) {
  Address a;
  if (s.substr(0, 5) == "unix:") {
    a.is_unix = true;
    a.path = std::string(s.substr(5));
    if (a.path.empty() || a.path.size() > 107) return std::nullopt;
    return a;
  }
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = s.substr(0, colon), port = s.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;
  }
  int p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535)
    return std::nullopt;
  for (char c : host)
    if (std::isspace(static_cast<unsigned char>(c))) return std::nullopt;
  a.host = std::string(host);
  a.port = p;
  return a;
}

std::string format_address(const Address& a) {
  if (a.is_unix) return "unix:" + a.path;
  bool v6 = a.host.find(':') != std::string::npos;
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

Result<Settings> parse_settings(std::string_view text) {
  Settings s;
  int line_no = 0;
  while (!text.empty() || line_no == 0) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    line = trim(line);
    if (line.empty() || line.front() == '#') {
      if (text.empty()) break;
      continue;
    }
    auto eq = line.find('=');
    std::string where = "line " + std::to_string(line_no) + ": ";
    if (eq == std::string_view::npos) return Error{"bad_request", where + "expected key = value"};
    std::string_view key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    const Setting* st = nullptr;
    for (const auto& row : kTable)
      if (key == row.key) st = &row;
    if (!st) return Error{"bad_request", where + "unknown setting " + std::string(key)};
    std::string problem = apply(*st, value, s);
    if (!problem.empty()) return Error{"bad_request", where + problem};
    if (text.empty()) break;
  }
  return s;
}

std::optional<std::string> check_sizing(const Settings& s) {
  int64_t pool = static_cast<int64_t>(s.workers) * s.threads;
  int64_t pinned = static_cast<int64_t>(s.nginx_workers) * s.nginx_keepalive;
  if (pool >= 2 * pinned) return std::nullopt;
  return "pool too small for nginx keepalive: workers x threads = " + std::to_string(pool) +
         " connections, but " + std::to_string(s.nginx_workers) + " nginx workers x keepalive " +
         std::to_string(s.nginx_keepalive) + " can pin " + std::to_string(pinned) +
         "; the rule is workers x threads >= 2 x nginx_workers x nginx_keepalive";
}

}  // namespace popup
