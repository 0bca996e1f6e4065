// The configuration file is one table, kTable, in the manner of nginx's
// ngx_command_t: each row names a key, the Settings member it sets (typed,
// so an int key cannot write an int64_t field), and its check. Parsing is a
// loop over lines that looks the key up and applies the row; a later line for
// the same key overrides an earlier one, so a file can be extended by
// appending lines.
#include "core/settings.h"
#include "core/text.h"

#include <cctype>
#include <charconv>
#include <climits>
#include <variant>

#include "core/cors.h"
#include "core/netmask.h"

namespace popup {
namespace {

using Field = std::variant<int Settings::*, int64_t Settings::*, bool Settings::*,
                           std::string Settings::*>;

// How a string value is checked; integers are checked against [min, max].
enum class Text { any, address, address_or_empty, name, networks, origins, level };

struct Setting {
  const char* key;
  Field field;
  int64_t min = 0, max = 0;
  Text text = Text::any;
};

constexpr int64_t kDay = 86400;
constexpr int64_t kHourMs = 3600 * 1000;

const Setting kTable[] = {
    {"listen", &Settings::listen, 0, 0, Text::address_or_empty},
    {"backlog", &Settings::backlog, 1, 65535},
    {"workers", &Settings::workers, 1, 256},
    {"threads", &Settings::threads, 1, 256},
    {"user_affinity", &Settings::user_affinity},
    {"state_cache_mib", &Settings::state_cache_mib, 1, 65536},
    {"state_cache_stale_s", &Settings::state_cache_stale_s, 0, 86400},
    {"flush_ms", &Settings::flush_ms, 1, 1000},
    {"flush_events", &Settings::flush_events, 1, 10000},
    {"max_requests", &Settings::max_requests, 0, INT64_MAX},
    {"crash_storm_count", &Settings::crash_storm_count, 1, 10000},
    {"crash_storm_window_s", &Settings::crash_storm_window_s, 1, 3600},
    {"crash_storm_pause_s", &Settings::crash_storm_pause_s, 1, 3600},
    {"stop_timeout_s", &Settings::stop_timeout_s, 1, 3600},
    {"state_dir", &Settings::state_dir},
    {"pid_file", &Settings::pid_file},
    {"nginx_workers", &Settings::nginx_workers, 1, 1024},
    {"nginx_keepalive", &Settings::nginx_keepalive, 0, 100000},
    {"redis", &Settings::redis, 0, 0, Text::address},
    {"redis_timeout_ms", &Settings::redis_timeout_ms, 1, 600000},
    {"redis_breaker_failures", &Settings::redis_breaker_failures, 0, 1000},
    {"redis_breaker_open_ms", &Settings::redis_breaker_open_ms, 1, 600000},
    {"key_prefix", &Settings::key_prefix, 0, 0, Text::name},
    {"state_ttl_s", &Settings::state_ttl_s, 1, 3650 * kDay},
    {"idempotency_ttl_s", &Settings::idempotency_ttl_s, 1, 365 * kDay},
    {"config_check_ms", &Settings::config_check_ms, 1, kHourMs},
    {"config_lock_ms", &Settings::config_lock_ms, 1, kHourMs},
    {"mysql_host", &Settings::mysql_host},
    {"mysql_port", &Settings::mysql_port, 1, 65535},
    {"mysql_socket", &Settings::mysql_socket},
    {"mysql_user", &Settings::mysql_user},
    {"mysql_password", &Settings::mysql_password},
    {"mysql_db", &Settings::mysql_db, 0, 0, Text::name},
    {"batch_size", &Settings::batch_size, 1, 10000},
    {"batch_ms", &Settings::batch_ms, 1, 60000},
    {"writer_id", &Settings::writer_id, 0, 0, Text::name},
    {"writer_heartbeat_ttl_ms", &Settings::writer_heartbeat_ttl_ms, 2000, kHourMs},
    {"queue_age_degraded_s", &Settings::queue_age_degraded_s, 1, kDay},
    {"admin_networks", &Settings::admin_networks, 0, 0, Text::networks},
    {"admin_listen", &Settings::admin_listen, 0, 0, Text::address_or_empty},
    {"cors_origins", &Settings::cors_origins, 0, 0, Text::origins},
    {"retention_days", &Settings::retention_days, 0, 36500},
    {"ctl_operator", &Settings::ctl_operator},
    {"queue_metrics", &Settings::queue_metrics},
    {"log_level", &Settings::log_level, 0, 0, Text::level},
    {"log_file", &Settings::log_file},
    {"test_clock", &Settings::test_clock},
};

// [A-Za-z0-9_.:-]+: safe inside Redis keys and log lines.
bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != ':' &&
        c != '-')
      return false;
  return true;
}

const Setting* find_setting(std::string_view key) {
  for (const auto& row : kTable)
    if (key == row.key) return &row;
  return nullptr;
}

// Each setter returns "" or the problem, naming the key.
std::string set_integer(const Setting& st, std::string_view value, int64_t* out) {
  const char* end = value.data() + value.size();
  auto [p, ec] = std::from_chars(value.data(), end, *out);
  if (value.empty() || ec != std::errc() || p != end)
    return std::string(st.key) + " must be an integer";
  if (*out < st.min || *out > st.max)
    return std::string(st.key) + " must be between " + std::to_string(st.min) + " and " +
           std::to_string(st.max);
  return "";
}

std::string set_bool(const Setting& st, std::string_view value, bool* out) {
  std::string v = lower(value);
  if (v == "on" || v == "true" || v == "yes" || v == "1") return *out = true, "";
  if (v == "off" || v == "false" || v == "no" || v == "0") return *out = false, "";
  return std::string(st.key) + " must be on or off (true/false, yes/no, 1/0)";
}

std::string set_text(const Setting& st, std::string_view value, std::string* out) {
  bool ok = true;
  switch (st.text) {
    case Text::any: break;
    case Text::address: ok = parse_address(value).has_value(); break;
    case Text::address_or_empty: ok = value.empty() || parse_address(value); break;
    case Text::name: ok = valid_name(value); break;
    case Text::level:
      if (value != "debug" && value != "info" && value != "warn" && value != "error")
        return std::string(st.key) + " must be debug, info, warn or error";
      break;
    case Text::networks: {
      auto nets = parse_networks(value);
      if (!nets.ok()) return std::string(st.key) + ": " + nets.error().message;
      break;
    }
    case Text::origins: {
      auto cors = parse_cors_origins(value);
      if (!cors.ok()) return std::string(st.key) + ": " + cors.error().message;
      break;
    }
  }
  if (!ok && st.text == Text::name) return std::string(st.key) + " must be [A-Za-z0-9_.:-]+";
  if (!ok) return std::string(st.key) + " must be unix:/path or host:port";
  *out = std::string(value);
  return "";
}

std::string apply(const Setting& st, std::string_view value, Settings& s) {
  if (auto* f = std::get_if<bool Settings::*>(&st.field)) return set_bool(st, value, &(s.**f));
  if (auto* f = std::get_if<std::string Settings::*>(&st.field))
    return set_text(st, value, &(s.**f));
  int64_t v = 0;
  std::string problem = set_integer(st, value, &v);
  if (!problem.empty()) return problem;
  if (auto* f = std::get_if<int Settings::*>(&st.field))
    s.**f = static_cast<int>(v);  // every int row's max fits in an int
  else
    s.*std::get<int64_t Settings::*>(st.field) = v;
  return "";
}

// One line into s; "" or the problem. Blank lines and '#' comments are no-ops.
std::string parse_line(std::string_view line, Settings& s) {
  line = trim(line);
  if (line.empty() || line.front() == '#') return "";
  auto eq = line.find('=');
  if (eq == std::string_view::npos) return "expected key = value";
  std::string_view key = trim(line.substr(0, eq));
  const Setting* st = find_setting(key);
  if (!st) return "unknown setting " + std::string(key);
  return apply(*st, trim(line.substr(eq + 1)), s);
}

}  // namespace

std::optional<Address> parse_address(std::string_view s) {
  Address a;
  if (s.substr(0, 5) == "unix:") {
    a.is_unix = true;
    a.path = std::string(s.substr(5));
    // sun_path holds 108 bytes including the terminating NUL.
    if (a.path.empty() || a.path.front() != '/' || a.path.size() > 107) return std::nullopt;
    if (a.path.find('\0') != std::string::npos) return std::nullopt;
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
  for (char c : host)
    if (!std::isgraph(static_cast<unsigned char>(c)) || c == '[' || c == ']' || c == '/')
      return std::nullopt;
  int p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || port.front() == '-' || ec != std::errc() ||
      ptr != port.data() + port.size() || p < 1 || p > 65535)
    return std::nullopt;
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
  for (int line_no = 1; !text.empty(); ++line_no) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    std::string problem = parse_line(line, s);
    if (!problem.empty())
      return Error{"bad_request", "line " + std::to_string(line_no) + ": " + problem};
  }
  return s;
}

std::optional<Address> slot_address(const Address& listen, int slot) {
  Address a = listen;
  if (a.is_unix) {
    a.path += "." + std::to_string(slot);
    return a;
  }
  int64_t port = static_cast<int64_t>(a.port) + 1 + slot;
  if (slot < 0 || port > 65535) return std::nullopt;
  a.port = static_cast<int>(port);
  return a;
}

int64_t fd_reserve(const Settings& s) { return 256 + 4 * static_cast<int64_t>(s.threads); }

std::optional<std::string> check_sizing(const Settings& s, int64_t fd_limit) {
  if (!s.admin_listen.empty() && s.listen.empty())
    return "admin_listen needs listen: the supervisor opens it (spawn-fcgi has none)";
  if (!s.admin_listen.empty() && s.admin_listen == s.listen)
    return "admin_listen must differ from listen";
  if (s.user_affinity && !s.listen.empty()) {
    auto a = parse_address(s.listen);
    if (a && !slot_address(*a, s.workers - 1))
      return "listen port + workers is beyond 65535: the slot sockets (port + 1 + slot) "
             "need room above " + s.listen;
  }
  int64_t kept = static_cast<int64_t>(s.nginx_workers) * s.nginx_keepalive;
  int64_t need = kept + fd_reserve(s);
  if (need <= fd_limit) return std::nullopt;
  return "the file limit is too small for nginx keepalive: nginx_workers x nginx_keepalive = " +
         std::to_string(s.nginx_workers) + " x " + std::to_string(s.nginx_keepalive) + " = " +
         std::to_string(kept) + " kept connections may all be to one worker, which also needs 256 + "
         "4 x threads = " + std::to_string(fd_reserve(s)) + " descriptors of its own: " +
         std::to_string(need) + " in all, but its RLIMIT_NOFILE allows " +
         std::to_string(fd_limit) + " (raise the limit, e.g. LimitNOFILE=, or lower nginx_keepalive)";
}

}  // namespace popup
