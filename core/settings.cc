// The configuration file is one table, kTable, in the manner of nginx's
// ngx_command_t: each row names a key, the Settings member it sets (typed,
// so an int key cannot write an int64_t field), its default, its check and
// the description an operator reads. Parsing is a loop over lines that looks
// the key up and applies the row; a later line for the same key overrides an
// earlier one, so a file can be extended by appending lines. The defaults
// are applied the same way, and `popupd --print-config` prints the rows, so
// the README's table and deploy/popup.conf.example (generated from that
// output by scripts/gen_config_docs.py) cannot say otherwise.
#include "core/settings.h"
#include "core/text.h"

#include <cctype>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <variant>

#include "core/cors.h"
#include "core/db_nodes.h"
#include "core/list.h"
#include "core/netmask.h"

namespace popup {
namespace {

using Field = std::variant<int Settings::*, int64_t Settings::*, bool Settings::*,
                           std::string Settings::*>;

// How a string value is checked; integers are checked against [min, max].
enum class Text {
  any, address, address_or_empty, addresses_or_empty, name, networks, origins, level, db_nodes
};

// One key. `def` is the default as a file would write it; the constructor
// applies it through the row's own check, so a default is always a value
// the file could give. `help` is the operator's one-line description, ending
// in '.'; settings_docs() appends an integer's range.
struct Setting {
  const char* group;
  const char* key;
  Field field;
  const char* def;
  const char* help;
  int64_t min = 0, max = 0;
  Text text = Text::any;
};

constexpr int64_t kDay = 86400;
constexpr int64_t kHourMs = 3600 * 1000;

constexpr const char* kPool = "FastCGI pool (popupd)";
constexpr const char* kAffinity = "User affinity and write-behind (popupd)";
constexpr const char* kNginx = "nginx sizing (popupd --check)";
constexpr const char* kRedis = "Redis";
constexpr const char* kMysql = "MySQL";
constexpr const char* kWriter = "Queue writer (popup-writer)";
constexpr const char* kEndpoints = "Health, metrics and browsers";
constexpr const char* kCtl = "popupctl";
constexpr const char* kLog = "Logging";
constexpr const char* kTest = "Testing";

// Rows of a group are consecutive; `popupd --print-config` prints them in
// this order under the group's name.
constexpr Setting kTable[] = {
    {kPool, "listen", &Settings::listen, "",
     "`unix:/path` or `host:port`: popupd is its own supervisor and opens this socket (a stale "
     "socket file is replaced, one that another process still accepts on is refused); empty: "
     "serve the socket inherited on fd 0 (spawn-fcgi).",
     0, 0, Text::address_or_empty},
    {kPool, "backlog", &Settings::backlog, "1024", "Listen backlog of the pool's sockets.", 1,
     65535},
    {kPool, "workers", &Settings::workers, "2",
     "Worker processes, about one per core (sizing in nginx/README.md).", 1, 256},
    {kPool, "threads", &Settings::threads, "2",
     "Serving threads per worker process, each with its own Redis and MySQL connection "
     "(FastCGI connections belong to the process, fcgi/conn_loop.h).",
     1, 256},
    {kPool, "max_requests", &Settings::max_requests, "0",
     "Recycle a worker process after this many requests; 0 = never.", 0, INT64_MAX},
    {kPool, "crash_storm_count", &Settings::crash_storm_count, "10",
     "Respawn brake of popupd's workers and popup-writer's writer: this many crashes within "
     "`crash_storm_window_s` pause respawning for `crash_storm_pause_s`. Only a crash with no "
     "request in hand counts (a start-up failure); a worker that dies serving a request is "
     "respawned at once and never braked (core/crash_brake.h; the log says \"with a request in "
     "hand\").",
     1, 10000},
    {kPool, "crash_storm_window_s", &Settings::crash_storm_window_s, "10",
     "Respawn brake: the window, in seconds, in which `crash_storm_count` crashes make a storm.",
     1, 3600},
    {kPool, "crash_storm_pause_s", &Settings::crash_storm_pause_s, "5",
     "Respawn brake: how long, in seconds, respawning pauses after a storm.", 1, 3600},
    {kPool, "stop_timeout_s", &Settings::stop_timeout_s, "10",
     "Graceful stop of popupd's workers and the writer: seconds to wait before SIGKILL.", 1,
     3600},
    {kPool, "state_dir", &Settings::state_dir, "",
     "Folder of the pool's shared memory: the pool-wide metrics (metrics.shm) and the workers' "
     "user invalidation feed (users.shm); empty = each process keeps its own.",
     0, 0},
    {kPool, "pid_file", &Settings::pid_file, "",
     "The supervisor writes its pid here and holds an `flock` on it while it runs, so a second "
     "popupd with the same file exits 1 naming the running pid (workers do not keep it open, so a "
     "killed supervisor never blocks a restart); empty = none; unused under spawn-fcgi.",
     0, 0},
    {kAffinity, "user_affinity", &Settings::user_affinity, "on",
     "With `listen` set, the supervisor also opens one socket per worker (`listen` plus `.N`, or "
     "port + 1 + N) and nginx hashes each user to one of them, whose worker answers from memory "
     "(nginx/README.md); off: the shared socket only.",
     0, 0},
    {kAffinity, "state_cache_mib", &Settings::state_cache_mib, "64",
     "Memory per worker process, in MiB, for the states of the users it owns.", 1, 65536},
    {kAffinity, "state_cache_stale_s", &Settings::state_cache_stale_s, "30",
     "Seconds after which a worker reads an owned user's state from Redis again; 0 = keep no "
     "state in memory.",
     0, 86400},
    // Off by default: its read-back costs Redis an HGETALL per reported
    // user, the owner's own flushes included (bench: warm GET p99 13 -> 64 ms
    // and GET 0.57 -> 0.38 x the floor in one quick run), and one host
    // needs none of it (fcgi/user_generations.h).
    {kAffinity, "invalidation_feed", &Settings::invalidation_feed, "off",
     "For several pool hosts: an owner subscribes to Redis' invalidation feed (client tracking) "
     "and drops the users that another host, popupctl or anything else wrote, instead of "
     "waiting for `state_cache_stale_s`; off: only writes of this host's processes reach it at "
     "once.",
     0, 0},
    // 5 ms and not 2: in interleaved bench runs (README, Performance) the
    // longer wait halved the round trips per warm GET and cost Redis 1 to
    // 2 µs less per GET; what a SIGKILL may lose is that much longer
    // (docs/design.md, "What a crash costs").
    {kAffinity, "flush_ms", &Settings::flush_ms, "5",
     "Write-behind: a worker sends its waiting impressions to Redis in one pipeline every this "
     "many milliseconds (what a SIGKILL may lose).",
     1, 1000},
    {kAffinity, "flush_events", &Settings::flush_events, "200",
     "Write-behind: a worker also sends them as soon as this many are waiting.", 1, 10000},
    {kNginx, "nginx_workers", &Settings::nginx_workers, "2",
     "nginx's worker_processes. popupd refuses to start unless `nginx_workers` x "
     "`nginx_keepalive` + 256 + 4 x `threads` fits in each worker's file limit "
     "(nginx/README.md).",
     1, 1024},
    {kNginx, "nginx_keepalive", &Settings::nginx_keepalive, "1024",
     "The `keepalive` of nginx's upstream: connections each nginx worker may keep to the pool.",
     0, 100000},
    {kRedis, "redis", &Settings::redis, "127.0.0.1:6379",
     "Redis address: `host:port` or `unix:/path`; not used when `redis_sentinels` is set.", 0, 0,
     Text::address},
    {kRedis, "redis_sentinels", &Settings::redis_sentinels, "",
     "Redis Sentinel addresses, comma-separated (`host:port,host:port,...`): every program asks "
     "them in turn for the primary of `redis_master_name`, checks its `ROLE` and asks again after "
     "a failover; an action's 202 then waits for one replica (`WAIT`, `redis_replica_wait_ms`). "
     "Empty = `redis` is the one Redis.",
     0, 0, Text::addresses_or_empty},
    {kRedis, "redis_master_name", &Settings::redis_master_name, "popup",
     "The name the sentinels monitor the primary under (`sentinel monitor <name> ...`).", 0, 0,
     Text::name},
    {kRedis, "redis_password", &Settings::redis_password, "",
     "The password of Redis's default user (`requirepass`, and `masterauth` on replicas), sent "
     "with AUTH on every connection to the primary; empty = none. Sentinels are asked without "
     "one. Keep the file unreadable to others.",
     0, 0},
    {kRedis, "redis_replica_wait_ms", &Settings::redis_replica_wait_ms, "200",
     "With `redis_sentinels`: how long an action's batch waits for one replica to acknowledge "
     "it (`WAIT 1`); without that acknowledgement its events are written to MySQL directly "
     "before the 202.",
     1, 10000},
    {kRedis, "redis_timeout_ms", &Settings::redis_timeout_ms, "500",
     "Timeout of a Redis connect or reply, in milliseconds.", 1, 600000},
    {kRedis, "redis_breaker_failures", &Settings::redis_breaker_failures, "3",
     "Circuit breaker: after this many failed Redis calls in a row a process skips Redis for "
     "`redis_breaker_open_ms` (GETs and actions take their MySQL path at once), then one call "
     "probes; `/api/healthz` always asks Redis and closes it; 0 = off.",
     0, 1000},
    {kRedis, "redis_breaker_open_ms", &Settings::redis_breaker_open_ms, "1000",
     "Circuit breaker: how long, in milliseconds, an open breaker skips Redis (counted in "
     "`popup_redis_breaker_skips_total`).",
     1, 600000},
    {kRedis, "key_prefix", &Settings::key_prefix, "popup",
     "Prefix of every Redis key, `[A-Za-z0-9_.:-]+`.", 0, 0, Text::name},
    {kRedis, "state_ttl_s", &Settings::state_ttl_s, "604800",
     "Seconds a user's state lives in Redis after its last write.", 1, 3650 * kDay},
    {kRedis, "idempotency_ttl_s", &Settings::idempotency_ttl_s, "86400",
     "Seconds Redis remembers an action's idempotency key (`<key_prefix>:once:<event id>`); a "
     "later resend is still stored once in MySQL.",
     1, 365 * kDay},
    {kRedis, "config_check_ms", &Settings::config_check_ms, "1000",
     "How often, in milliseconds, each worker checks the published popup set's version.", 1,
     kHourMs},
    {kRedis, "config_lock_ms", &Settings::config_lock_ms, "5000",
     "Expiry, in milliseconds, of the lock a worker takes to load the popup set from MySQL into "
     "Redis.",
     1, kHourMs},
    {kMysql, "mysql_hosts", &Settings::mysql_hosts, "",
     "MySQL servers as `host:port,host:port,...` (a Galera cluster, docs/deployment.md): each "
     "process connects to the first that answers and takes statements, stays on it, and moves "
     "to the next when it stops answering or leaves the cluster's primary component; empty: "
     "the one server of `mysql_socket` or `mysql_host` and `mysql_port`.",
     0, 0, Text::db_nodes},
    {kMysql, "mysql_host", &Settings::mysql_host, "127.0.0.1",
     "MySQL host, unless `mysql_socket` is set.", 0, 0},
    {kMysql, "mysql_port", &Settings::mysql_port, "3306", "MySQL port, with `mysql_host`.", 1,
     65535},
    {kMysql, "mysql_socket", &Settings::mysql_socket, "",
     "MySQL unix socket; when set, used instead of `mysql_host` and `mysql_port`.", 0, 0},
    {kMysql, "mysql_user", &Settings::mysql_user, "popup", "MySQL account.", 0, 0},
    {kMysql, "mysql_password", &Settings::mysql_password, "",
     "The MySQL account's password (keep the file unreadable to others).", 0, 0},
    {kMysql, "mysql_db", &Settings::mysql_db, "popup", "MySQL database.", 0, 0, Text::name},
    {kWriter, "batch_size", &Settings::batch_size, "1000",
     "Most events the writer moves to MySQL in one batch (five statements, one transaction).",
     1, 10000},
    {kWriter, "batch_ms", &Settings::batch_ms, "50",
     "How long, in milliseconds, the writer waits for a batch to fill before it writes what it "
     "has.",
     1, 60000},
    {kWriter, "writer_id", &Settings::writer_id, "w1",
     "The writer's name, `[A-Za-z0-9_.:-]+`: its processing list and heartbeat "
     "(`<key_prefix>:writer:<id>:alive`).",
     0, 0, Text::name},
    {kWriter, "writer_heartbeat_ttl_ms", &Settings::writer_heartbeat_ttl_ms, "3000",
     "Expiry of the writer's heartbeat, in milliseconds (refreshed about once a second); after a "
     "writer is SIGKILLed, another with the same id waits this long at most.",
     2000, kHourMs},
    {kWriter, "writer_recover_period_ms", &Settings::writer_recover_period_ms, "1000",
     "How often, in milliseconds, a writer looks for a dead peer (another `writer_id` whose "
     "heartbeat expired) that left events in its processing list, and takes them over.",
     100, kHourMs},
    {kEndpoints, "queue_age_degraded_s", &Settings::queue_age_degraded_s, "30",
     "`/api/healthz` says \"degraded\" when the oldest waiting event is older than this many "
     "seconds (or no writer is alive).",
     1, kDay},
    {kEndpoints, "queue_metrics", &Settings::queue_metrics, "on",
     "Whether this host's `/api/metrics` reports the shared queue's figures (depth, oldest "
     "event, writers): on for exactly one host per queue, the one running popup-writer.",
     0, 0},
    {kEndpoints, "admin_networks", &Settings::admin_networks, "127.0.0.0/8,::1/128",
     "CIDR ranges, comma-separated, whose peers (FastCGI `REMOTE_ADDR`) may read `/api/metrics`; "
     "others get 403 `forbidden`; empty = nobody.",
     0, 0, Text::networks},
    {kEndpoints, "admin_listen", &Settings::admin_listen, "",
     "`unix:/path` or `host:port`: a FastCGI socket of its own for the operator endpoints, "
     "opened by the supervisor (needs `listen`, differs from it). `/api/metrics` is then "
     "answered there only (404 on the public sockets); that socket answers `/api/metrics` and "
     "`/api/healthz` and 404 to the rest, `admin_networks` still applies, a reload keeps it, "
     "and `popupd --check` prints the nginx blocks for it. Empty = none.",
     0, 0, Text::address_or_empty},
    {kEndpoints, "cors_origins", &Settings::cors_origins, "",
     "Origins whose pages may call `/api/popup`, `/api/popup/action` and `/api/healthz` from "
     "the browser: `*`, or a comma-separated list of `http[s]://host[:port]`; empty = same "
     "origin only.",
     0, 0, Text::origins},
    {kCtl, "retention_days", &Settings::retention_days, "90",
     "`popupctl retention` deletes raw events older than this many days (the daily roll-ups "
     "stay); 0 = keep them.",
     0, 36500},
    {kCtl, "ctl_operator", &Settings::ctl_operator, "",
     "The operator popupctl's audit rows name when neither `--by` nor `$SUDO_USER` says who; "
     "empty = `$USER`, then the account popupctl runs as.",
     0, 0},
    {kLog, "log_level", &Settings::log_level, "info",
     "The lowest level written: `debug`, `info`, `warn` or `error`.", 0, 0, Text::level},
    {kLog, "log_file", &Settings::log_file, "",
     "A file each program appends to and reopens on SIGUSR1 (logrotate); empty = stderr, which "
     "systemd sends to the journal.",
     0, 0},
    {kTest, "test_clock", &Settings::test_clock, "off",
     "Tests only: honour the `X-Popup-Now` request header as \"now\".", 0, 0},
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
    case Text::addresses_or_empty: {
      std::string why;
      if (!value.empty() && parse_address_list(value, &why).empty())
        return std::string(st.key) + " must be host:port,host:port,... (or empty): " + why;
      break;
    }
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
    case Text::db_nodes: {
      auto nodes = parse_db_nodes(value);
      if (!nodes.ok()) return std::string(st.key) + ": " + nodes.error().message;
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

// The allowed range an operator reads after an integer key's description.
std::string range_text(const Setting& st) {
  if (std::holds_alternative<bool Settings::*>(st.field) ||
      std::holds_alternative<std::string Settings::*>(st.field))
    return "";
  if (st.max == INT64_MAX) return " Range: " + std::to_string(st.min) + " or more.";
  return " Range: " + std::to_string(st.min) + " to " + std::to_string(st.max) + ".";
}

// `text` as "# " comment lines of at most `width` columns, broken at spaces
// (a word longer than a line gets a line of its own).
void append_wrapped(std::string& out, std::string_view text, size_t width) {
  std::string line = "#";
  while (!text.empty()) {
    auto sp = text.find(' ');
    std::string_view word = text.substr(0, sp);
    text = sp == std::string_view::npos ? std::string_view{} : text.substr(sp + 1);
    if (line.size() > 1 && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = "#";
    }
    line += " ";
    line += word;
  }
  out += line + "\n";
}

}  // namespace

// Defaults go through the same checks as a file's values; a default that
// fails its own check is a bug in kTable, which settings_test pins, so the
// constructor does not return half-set settings but stops the program.
Settings::Settings() {
  for (const auto& row : kTable)
    if (!apply(row, row.def, *this).empty()) std::abort();
}

std::vector<SettingDoc> settings_docs() {
  std::vector<SettingDoc> out;
  for (const auto& row : kTable)
    out.push_back({row.group, row.key, row.def, std::string(row.help) + range_text(row)});
  return out;
}

std::string format_settings_docs() {
  std::string out =
      "# The configuration file of popupd and popup-writer (popupctl reads its\n"
      "# MySQL and retention keys from a file of the same form): \"key = value\"\n"
      "# lines and '#' comments; a later line for a key overrides an earlier one.\n"
      "# Every key follows with its description and default as \"#key = default\":\n"
      "# remove the '#' to set it. Printed by `popupd --print-config`.\n";
  std::string_view group;
  for (const auto& doc : settings_docs()) {
    if (doc.group != group) {
      group = doc.group;
      out += "\n## " + std::string(group) + "\n";
    }
    out += "\n";
    append_wrapped(out, doc.description, 78);
    out += "#" + std::string(doc.key) + " =";
    if (!doc.default_text.empty()) out += " " + std::string(doc.default_text);
    out += "\n";
  }
  return out;
}

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

std::vector<Address> parse_address_list(std::string_view s, std::string* why) {
  auto items = split_comma_list(s);
  if (!items.ok()) {
    if (why) *why = items.error().message;
    return {};
  }
  std::vector<Address> out;
  for (std::string_view one : items.value()) {
    auto a = parse_address(one);
    if (!a) {
      if (why) *why = "not host:port or unix:/path: " + std::string(one);
      return {};
    }
    out.push_back(std::move(*a));
  }
  if (out.empty() && why) *why = "no address";
  return out;
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
