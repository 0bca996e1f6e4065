// The service's configuration file: "key = value" lines, '#' comments.
// One table (settings.cc) maps each key to its field, default, check and
// description, the way nginx's ngx_command_t does; `popupd --check` and the
// writer parse with it, and `popupd --print-config` prints it, from which
// the README's table and deploy/popup.conf.example are generated
// (scripts/gen_config_docs.py).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crash_brake.h"
#include "core/popup.h"

namespace popup {

// "unix:/path/to.sock" or "host:port" ("127.0.0.1:9000", "[::1]:9000").
struct Address {
  bool is_unix = false;
  std::string path;  // when is_unix
  std::string host;  // otherwise
  int port = 0;
};

// nullopt when the text is neither form (port 1..65535, non-empty path/host).
std::optional<Address> parse_address(std::string_view s);
std::string format_address(const Address& a);
// A comma-separated list of addresses (core/list.h: spaces around the
// commas allowed, no empty item); empty when any item does not parse, or
// when there is none, and then *why (when given) says which.
std::vector<Address> parse_address_list(std::string_view s, std::string* why = nullptr);

// The socket of worker slot `slot` (0-based) of a pool that listens on
// `listen`: "<path>.<slot>" for a unix socket, port + 1 + slot on the same
// host for TCP. nullopt when that port would be beyond 65535.
std::optional<Address> slot_address(const Address& listen, int slot);

// Every member is set by the constructor from its row of the settings table
// (settings.cc), which holds the key, the default, the check and the
// description an operator reads (`popupd --print-config`); the comments here
// say what the code does with a value.
struct Settings {
  Settings();

  // FastCGI pool (popupd)
  std::string listen;          // Address text; empty = inherited fd 0
  int backlog;
  int workers;                 // processes
  int threads;                 // accept threads per process
  // User affinity (nginx/README.md): with `listen` set, the supervisor also
  // opens one socket per worker slot (slot_address), and nginx sends each
  // user to one slot (`hash $arg_uid consistent`), whose process then
  // decides from the users it keeps in memory.
  bool user_affinity;
  int state_cache_mib;         // per process: the owned users' states
  int state_cache_stale_s;     // an owned user is read again after this; 0 = never kept
  bool invalidation_feed;      // owners follow Redis' invalidation feed (fcgi/invalidator.h)
  // Write-behind: a process's impressions reach Redis in one pipeline every
  // flush_ms, or as soon as flush_events are waiting.
  int flush_ms;
  int flush_events;
  int64_t max_requests;        // recycle a process after this many; 0 = never
  int crash_storm_count;       // respawn brake: this many crashes ...
  int crash_storm_window_s;    // ... within this window
  int crash_storm_pause_s;     // pause respawning for this long
  int stop_timeout_s;          // graceful stop: wait this long, then SIGKILL
  std::string state_dir;       // shared metrics file lives here; "" = none
  std::string pid_file;        // supervisor's pid, flock'ed while it runs; "" = none
  // nginx sizing (each worker's file limit must hold what keepalive caches keep)
  int nginx_workers;
  int nginx_keepalive;         // keepalive connections per nginx worker
  // Redis
  std::string redis;
  std::string redis_sentinels;  // "" = no Sentinel: `redis` is the one Redis
  std::string redis_master_name;
  std::string redis_password;  // "" = none; sent with AUTH on every data connection
  int redis_replica_wait_ms;
  int redis_timeout_ms;
  // Circuit breaker (core/breaker.h): after this many failed Redis calls in
  // a row a process skips Redis for redis_breaker_open_ms; 0 = off.
  int redis_breaker_failures;
  int redis_breaker_open_ms;
  std::string key_prefix;
  int64_t state_ttl_s;
  // How long an action's idempotency key is remembered in Redis: a retry
  // within it is recorded once (later, MySQL's event id still dedupes).
  int64_t idempotency_ttl_s;
  int config_check_ms;
  int config_lock_ms;
  // MySQL
  std::string mysql_hosts;     // "host:port,..." (core/db_nodes.h); empty: the one below
  std::string mysql_host;
  int mysql_port;
  std::string mysql_socket;    // when set, used instead of host/port
  std::string mysql_user;
  std::string mysql_password;
  std::string mysql_db;
  // Writer
  int batch_size;              // 5 MySQL statements per batch (lib/mysql.cc apply_events)
  int batch_ms;
  std::string writer_id;
  // The writer's heartbeat key expires this long after its last refresh
  // (refreshed at least once a second); it also guards its processing list:
  // a second writer with the same id waits until it is gone.
  int writer_heartbeat_ttl_ms;
  // How often a writer looks for the processing list of a peer (another
  // writer_id) whose heartbeat expired, to take it over (writer/writer.h).
  int writer_recover_period_ms;
  // Health: /api/healthz says "degraded" when the oldest queued event is
  // older than this (or no writer is alive).
  int queue_age_degraded_s;
  // Peers (FastCGI REMOTE_ADDR) that may read /api/metrics: CIDR ranges,
  // comma-separated (core/netmask.h); "" = nobody.
  std::string admin_networks;
  // The operator endpoints' own FastCGI socket (Address text; "" = none):
  // when set, the supervisor opens it and every worker accepts on it, and
  // /api/metrics is answered there only (404 on the public sockets).
  // Needs `listen` (spawn-fcgi has no supervisor to open it).
  std::string admin_listen;
  // Origins whose pages may read /api/popup, /api/popup/action and
  // /api/healthz from the browser (core/cors.h): "" = none (same origin
  // only), "*", or "https://shop.example,http://localhost:8081".
  std::string cors_origins;
  // popupctl retention: raw events older than this many days are deleted
  // (the daily roll-ups stay); 0 = keep them forever.
  int retention_days;
  // popupctl: the operator its audit rows name when neither --by nor
  // $SUDO_USER says who; "" = $USER, then the account (ctl/popupctl_main.cc).
  std::string ctl_operator;
  // Whether this host's /api/metrics reports the shared queue's figures
  // (depth, oldest event age, writers): on for exactly one host per queue,
  // the one running popup-writer, so that a sum over hosts counts them once.
  bool queue_metrics;
  // Logging (fcgi/log.h): the lowest level written, and a file that the
  // programs open themselves and reopen on SIGUSR1 (logrotate); "" = stderr.
  std::string log_level;
  std::string log_file;
  // Testing only: honour the X-Popup-Now request header as "now".
  bool test_clock;
};

// The respawn brake's limits (crash_storm_*), for core/crash_brake.h.
inline CrashStormLimits crash_storm_limits(const Settings& s) {
  return CrashStormLimits{s.crash_storm_count, s.crash_storm_window_s, s.crash_storm_pause_s};
}

// Parses a whole file's text over the defaults. Error (bad_request) with the
// line number on an unknown key, a malformed line or a value that fails its
// check; then nothing is returned.
Result<Settings> parse_settings(std::string_view text);

// The sizing rule (nginx/README.md). A kept connection costs a worker a
// file descriptor, not a thread (fcgi/conn_loop.h), and nginx's keepalive
// caches may hold all of theirs to one worker (user affinity hashes users
// to worker sockets; the shared socket gives a connection to any worker),
// so each worker's descriptor limit must hold them all, with room for its
// own files (Redis and MySQL connections per thread, sockets, logs):
//   nginx_workers * nginx_keepalive + 256 + 4 * threads <= fd_limit
// fd_limit: the RLIMIT_NOFILE a worker runs with (popupd raises its soft
// limit to the hard one). Also refuses an admin_listen without listen or
// equal to it, and slot ports beyond 65535. Returns the problem, or nullopt
// when the settings obey it.
std::optional<std::string> check_sizing(const Settings& s, int64_t fd_limit);

// One key of the configuration file as an operator reads it, in table order.
// `description` is one line of text (no newline, no '|'), the row's own text
// followed by the allowed range for an integer key ("Range: 1 to 256.").
// `group` names the part of the service the key belongs to; a group's keys
// are consecutive.
struct SettingDoc {
  std::string_view group;
  std::string_view key;
  std::string_view default_text;  // as the file writes it: "1024", "on", "" (empty)
  std::string description;
};
std::vector<SettingDoc> settings_docs();

// The table as configuration-file text (`popupd --print-config`): a header,
// then per group a "## <group>" line and per key its description as "# "
// comment lines wrapped at 78 columns and "#key = default" (the form a file
// accepts once the '#' is removed), blocks separated by blank lines.
std::string format_settings_docs();

}  // namespace popup
