// The Prometheus families /api/metrics may expose, and the text built from
// them (fcgi/metrics.h MetricsText): one table, so every family has its
// HELP and TYPE and nothing outside the table is ever printed.
#include <string>
#include <string_view>
#include <vector>

#include "fcgi/metrics.h"

namespace popup {
namespace {

enum class Type { counter, gauge, histogram };

struct Family {
  const char* name;
  Type type;
  const char* help;
};

// Every family /api/metrics exposes. Base units (seconds, bytes), counters
// end in _total, and labels take bounded values only: endpoint (5), status
// (9), le (12), slot (at most kMaxSlots), writer (the configured writer
// ids). The first kCounters rows are the Counter enum's, in its order.
const Family kFamilies[] = {
    {"popup_config_cache_hits_total", Type::counter,
     "Requests served from the in-process copy of the configuration."},
    {"popup_config_redis_loads_total", Type::counter,
     "New configuration versions fetched from Redis."},
    {"popup_config_mysql_loads_total", Type::counter,
     "Configuration sets loaded from MySQL because Redis had none."},
    {"popup_state_cache_hits_total", Type::counter, "User states found in Redis."},
    {"popup_state_cache_misses_total", Type::counter, "User states read from MySQL."},
    {"popup_events_queued_total", Type::counter, "Events pushed on the Redis queue."},
    {"popup_events_direct_total", Type::counter,
     "Events written straight to MySQL because Redis could not take them."},
    {"popup_redis_errors_total", Type::counter, "Failed Redis calls."},
    {"popup_mysql_errors_total", Type::counter, "Failed MySQL calls."},
    {"popup_get_redis_round_trips_total", Type::counter,
     "Redis round trips made by GET /api/popup."},
    {"popup_get_requests_total", Type::counter, "GET /api/popup requests that reached the pool."},
    {"popup_fastcgi_connections_accepted_total", Type::counter,
     "FastCGI connections the workers accepted (few once the web server keeps them)."},
    {"popup_redis_breaker_skips_total", Type::counter,
     "Redis calls skipped while a circuit breaker was open."},
    {"popup_redis_repairs_total", Type::counter,
     "States written straight to MySQL and later copied into Redis."},
    {"popup_memory_state_hits_total", Type::counter,
     "GETs decided from the owner's memory (no Redis round trip)."},
    {"popup_memory_state_misses_total", Type::counter,
     "Owned users read from Redis (or MySQL) into memory."},
    {"popup_shared_gets_total", Type::counter,
     "GETs decided in Redis (not the user's owner: spawn-fcgi, the shared socket)."},
    {"popup_flush_batches_total", Type::counter, "Write-behind batches stored (in Redis, or in MySQL when Redis failed)."},
    {"popup_flush_redis_round_trips_total", Type::counter,
     "Redis round trips made by the write-behind."},
    {"popup_impressions_dropped_total", Type::counter,
     "Impressions the write-behind gave up (Redis and MySQL down)."},
    {"popup_fastcgi_connections_expired_total", Type::counter,
     "FastCGI connections closed because their request was not whole within 5 s of its start."},
    {"popup_invalidations_total", Type::counter,
     "Owned users dropped from memory because Redis reported a write by another process or host "
     "(or a flush)."},
    {"popup_invalidation_checks_total", Type::counter,
     "Owned users read back from Redis after it reported a write, to tell the owner's own apart."},
    {"popup_invalidation_feed_losses_total", Type::counter,
     "Times a worker lost Redis's invalidation feed (then it trusts no memory until resubscribed)."},
    {"popup_redis_replica_wait_misses_total", Type::counter,
     "Action batches no Redis replica acknowledged within redis_replica_wait_ms (through "
     "Sentinel); their actions were written to MySQL directly."},
    {"popup_build_info", Type::gauge, "The running popupd's version; always 1."},
    {"popup_requests_total", Type::counter, "Requests by endpoint and status."},
    {"popup_request_duration_seconds", Type::histogram,
     "Time from request start to answer, by endpoint."},
    {"popup_worker_requests_total", Type::counter,
     "Requests served per worker slot (a respawned worker takes over a slot)."},
    {"popup_workers", Type::gauge, "Live worker processes."},
    {"popup_threads_active", Type::gauge, "Serving threads answering a request now."},
    {"popup_threads_idle", Type::gauge, "Serving threads waiting for a request."},
    {"popup_fastcgi_requests_in_hand", Type::gauge,
     "FastCGI requests begun and not yet answered (arriving, or being served)."},
    {"popup_redis_breaker_open", Type::gauge,
     "Worker processes skipping Redis now (circuit breaker open)."},
    {"popup_redis_primary_known", Type::gauge,
     "1 when the scraped worker reaches a Redis primary (through Sentinel: the one the "
     "sentinels name, ROLE master), else 0."},
    {"popup_memory_state_bytes", Type::gauge,
     "Owned users' states kept in the live workers' memory."},
    {"popup_memory_state_budget_bytes", Type::gauge, "The live workers' memory budgets, summed."},
    {"popup_memory_state_users", Type::gauge, "Owned users kept in the live workers' memory."},
    {"popup_flush_waiting", Type::gauge, "Events waiting for the write-behind."},
    {"popup_config_version_oldest", Type::gauge,
     "The oldest configuration version a live worker serves (0: one has none yet; -1: no "
     "worker)."},
    {"popup_worker_restarts_total", Type::counter, "Workers respawned after dying."},
    {"popup_worker_recycled_total", Type::counter, "Workers that left after max_requests."},
    {"popup_crash_brakes_total", Type::counter, "Times respawning was paused (crash storm)."},
    {"popup_listen_queue", Type::gauge, "Connections waiting in the pool's listen backlog."},
    {"popup_listen_backlog", Type::gauge, "The pool's configured listen backlog."},
    {"popup_queue_depth", Type::gauge, "Events waiting in the Redis queue (-1: unknown)."},
    {"popup_writers_alive", Type::gauge, "Queue writers with a live heartbeat (-1: unknown)."},
    {"popup_queue_oldest_age_seconds", Type::gauge,
     "Age of the oldest event waiting in the queue or in a writer's hands (the real writer "
     "lag; 0 when nothing waits; -1: unknown)."},
    {"popup_writer_alive", Type::gauge, "Whether the writer's heartbeat lives."},
    {"popup_writer_in_hand", Type::gauge, "Events in the writer's processing list."},
    {"popup_writer_batches_total", Type::counter, "Batches the writer committed."},
    {"popup_writer_events_total", Type::counter, "Events the writer committed."},
    {"popup_writer_errors_total", Type::counter, "Failed writer batches."},
    {"popup_writer_dead_events_total", Type::counter,
     "Events the writer could not decode and set aside."},
    {"popup_writer_recovered_batches_total", Type::counter,
     "Processing lists of dead writers (heartbeat expired) this writer took over and applied."},
    {"popup_writer_last_batch_size", Type::gauge, "Events in the writer's last batch."},
    {"popup_writer_last_batch_seconds", Type::gauge, "Duration of the writer's last batch."},
    {"popup_writer_mysql_reachable", Type::gauge,
     "0 when the writer's last batch, or while its queue is empty its check every 5 s, found no "
     "database node that answers and takes statements (mysql_hosts: none of them); 1 "
     "otherwise."},
    {"popup_writer_lag_seconds", Type::gauge,
     "Age of the oldest event of the writer's last batch at commit (0 once its queue is "
     "empty); only while the writer is alive."},
    {"process_cpu_seconds_total", Type::counter,
     "CPU time of the pool's processes (supervisor and workers, past and present)."},
    {"process_resident_memory_bytes", Type::gauge, "Resident memory of the pool's live processes."},
    {"process_virtual_memory_bytes", Type::gauge, "Virtual memory of the pool's live processes."},
    {"process_open_fds", Type::gauge, "Open file descriptors of the pool's live processes."},
    {"process_max_fds", Type::gauge, "The file descriptor limit of one pool process."},
    {"process_start_time_seconds", Type::gauge,
     "Start of the pool (its supervisor, else its oldest worker), unix seconds."},
    {"popup_popup_events_total", Type::counter,
     "Impressions (kind=show), ignores and clicks this host stored, by popup (at most 1,024 "
     "popups; the rest as popup=\"other\")."},
};
constexpr int kFamilyCount = sizeof kFamilies / sizeof kFamilies[0];

const char* type_name(Type t) {
  switch (t) {
    case Type::counter: return "counter";
    case Type::gauge: return "gauge";
    case Type::histogram: return "histogram";
  }
  return "untyped";
}

int family_index(std::string_view name) {
  for (int i = 0; i < kFamilyCount; ++i)
    if (name == kFamilies[i].name) return i;
  return -1;
}

}  // namespace

const char* counter_family_name(int c) { return kFamilies[c].name; }
static_assert(kFamilyCount > kCounters);

MetricsText::MetricsText() : samples_(kFamilyCount) {}

bool MetricsText::add(std::string_view family, std::string_view labels, std::string_view value,
                      std::string_view suffix) {
  int i = family_index(family);
  if (i < 0) return false;
  std::string& out = samples_[i];
  out.append(family).append(suffix).append(labels).append(" ").append(value).append("\n");
  return true;
}

std::string MetricsText::str() const {
  std::string out;
  for (int i = 0; i < kFamilyCount; ++i) {
    if (samples_[i].empty()) continue;
    const Family& f = kFamilies[i];
    out.append("# HELP ").append(f.name).append(" ").append(f.help).append("\n");
    out.append("# TYPE ").append(f.name).append(" ").append(type_name(f.type)).append("\n");
    out += samples_[i];
  }
  return out;
}

std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::vector<std::string> metric_family_names() {
  std::vector<std::string> out;
  for (const auto& f : kFamilies) out.push_back(f.name);
  return out;
}

}  // namespace popup
