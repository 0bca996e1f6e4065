// Pool-wide counters in a shared memory file (state_dir/metrics.shm).
//
// Why a file and not per-process memory: a scrape of /api/metrics lands on
// one arbitrary worker, yet must report the whole pool, whether the pool was
// started by our supervisor or by spawn-fcgi (which has no parent of ours).
// Every process maps the same file and claims one slot; a slot whose owner
// died is taken over by the next process, and its counters keep counting, so
// every *_total stays monotonic across respawns.
//
// Why one table of families (kFamilies in metrics.cc): Prometheus wants a
// HELP and a TYPE line for every family, each family's samples together,
// base units and counters named *_total. Every sample goes through
// MetricsText, which accepts only names from the table and prints each
// family under its header, so a new figure cannot be exposed untyped.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fcgi/endpoints.h"

namespace popup {

class Redis;
struct Keys;

// The text of one scrape: samples collected per family, printed in the
// table's order.
class MetricsText {
 public:
  MetricsText();
  // Adds one sample of `family`, a name in the table. labels: "" or
  // `{name="value",...}` (values escaped with label_value); suffix: "" or,
  // for a histogram, "_bucket", "_sum" or "_count". Returns false, adding
  // nothing, when the family is not in the table.
  bool add(std::string_view family, std::string_view labels, std::string_view value,
           std::string_view suffix = "");
  // Each family with samples, under its HELP and TYPE lines.
  std::string str() const;

 private:
  std::vector<std::string> samples_;  // one per table row
};

// A label value escaped for the text format (backslash, quote, newline).
std::string label_value(std::string_view v);

// The names of every family in the table (tests, documentation).
std::vector<std::string> metric_family_names();

// The family of Counter c (the table's first kCounters rows, in order).
const char* counter_family_name(int c);

inline constexpr int kStatuses[] = {200, 202, 400, 404, 405, 413, 500, 503};
inline constexpr int kStatusCount = sizeof(kStatuses) / sizeof(kStatuses[0]);
inline constexpr double kBucketsMs[] = {0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000};
inline constexpr int kBucketCount = sizeof(kBucketsMs) / sizeof(kBucketsMs[0]);
inline constexpr int kMaxSlots = 256;

enum class Counter {
  config_hits,         // request served from the in-process copy
  config_redis_loads,  // new version fetched from Redis
  config_mysql_loads,  // set loaded from MySQL (cache miss in Redis)
  state_hits,          // user state found in Redis
  state_misses,        // user state read from MySQL
  events_queued,       // events pushed on the Redis list
  events_direct,       // events written straight to MySQL (Redis down)
  redis_errors,
  mysql_errors,
  redis_round_trips,  // Redis round trips made by GET /api/popup
  popup_requests,     // GET /api/popup requests that reached the service
  fastcgi_accepted,   // FastCGI connections accepted (fcgi/conn_loop.h)
  redis_skips,        // Redis calls skipped while the circuit breaker was open
  redis_repairs,      // direct MySQL writes copied into Redis afterwards
  memory_hits,        // GETs decided from the owner's memory (no Redis round trip)
  memory_misses,      // owned users read from Redis (or MySQL) into memory
  shared_gets,        // GETs decided in Redis (not the owner: spawn-fcgi, the shared socket)
  flush_batches,      // write-behind batches stored (fcgi/flusher.h)
  flush_round_trips,  // Redis round trips made by the write-behind
  impressions_dropped,  // impressions the write-behind gave up (Redis and MySQL down)
  fastcgi_expired,    // connections closed: their request was not whole in time
  invalidations,      // owned users dropped from memory: Redis reported a write by another
  invalidation_checks,       // reported users read back to tell the owner's own writes apart
  invalidation_feed_losses,  // Redis's invalidation feed lost (fcgi/invalidator.h)
  replica_wait_misses,  // action batches no Redis replica acknowledged in time (Sentinel)
  count
};
inline constexpr int kCounters = static_cast<int>(Counter::count);

struct WorkerSlot {
  std::atomic<int32_t> pid;
  std::atomic<int64_t> started_at;
  std::atomic<int32_t> threads;
  std::atomic<int32_t> busy;
  // Requests begun and not yet answered (from their first bytes, while the
  // rest arrives, through libfcgi's parsing, to the answer): > 0 in a
  // process that died means it died with a request in hand, which the
  // supervisor's crash brake does not count (core/crash_brake.h).
  std::atomic<int32_t> in_hand;
  std::atomic<uint64_t> requests;
  std::atomic<uint64_t> by_status[kEndpoints][kStatusCount + 1];  // last: other
  std::atomic<uint64_t> buckets[kEndpoints][kBucketCount + 1];    // last: +Inf
  std::atomic<uint64_t> latency_us_sum[kEndpoints];
  std::atomic<uint64_t> counters[kCounters];
  // The process's Redis breaker (core/breaker.h): skipping Redis until this
  // CLOCK_MONOTONIC millisecond, which every process of the machine shares.
  std::atomic<int64_t> redis_breaker_open_until_ms;
  std::atomic<int64_t> config_version;  // the configuration version it serves
  std::atomic<int64_t> memory_bytes;    // its owned users' states (core/user_cache.h)
  std::atomic<int64_t> memory_users;
  std::atomic<int64_t> memory_budget;
  std::atomic<int64_t> flush_waiting;   // events waiting for the write-behind
  // CPU clock ticks of the slot's earlier owners, and the most seen of its
  // current owner's: process_cpu_seconds_total stays monotonic when a
  // worker is replaced (a killed worker loses only its ticks since the
  // last scrape).
  std::atomic<uint64_t> cpu_ticks_base;
  std::atomic<uint64_t> cpu_ticks_seen;
};

// Events stored per popup (per-popup counters): an open
// addressing table keyed by popup id, so the label takes at most
// kPopupSlots values; popups beyond that count under popup="other".
inline constexpr int kPopupSlots = 1024;
struct PopupEvents {
  std::atomic<int64_t> popup_id;    // 0: free
  std::atomic<uint64_t> by_kind[3];  // LastAction: show, ignore, click
};

struct MetricsShm {
  uint64_t magic;
  std::atomic<int32_t> supervisor_pid;
  std::atomic<uint64_t> restarts;       // workers respawned after dying
  std::atomic<uint64_t> crash_brakes;   // times respawning was paused
  std::atomic<uint64_t> recycled;       // workers that left after max_requests
  std::atomic<int64_t> listen_queue;    // connections waiting in the backlog
  std::atomic<int64_t> listen_backlog;  // configured backlog
  std::atomic<int32_t> target_workers;
  WorkerSlot slots[kMaxSlots];
  PopupEvents popups[kPopupSlots];
  std::atomic<uint64_t> other_popups[3];
};

// Counts one stored event of popup `popup_id` (kind: 0 show, 1 ignore,
// 2 click) in the pool's table; no-op for nullptr.
void count_popup_event(MetricsShm* shm, int64_t popup_id, int kind);

class Metrics {
 public:
  // Maps state_dir/metrics.shm (created when missing); with an empty
  // state_dir, or when the file cannot be mapped, uses private memory so the
  // process still runs (its metrics then cover only itself).
  explicit Metrics(const std::string& state_dir);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  MetricsShm& shm() { return *shm_; }
  // Claims a free (or dead owner's) slot for this process; nullptr when full.
  WorkerSlot* claim_slot(pid_t pid, int threads);
  void release_slot(WorkerSlot* slot);
  // Whether the (dead, not yet replaced) process `pid` had work in hand
  // (WorkerSlot::in_hand); false when no slot names it.
  bool died_in_request(pid_t pid) const;

  // Prometheus text for the pool (requests, counters, workers, the pool's
  // process_* figures, popup_build_info) together with what `extra` holds
  // already (queue and writer figures, add_queue_metrics).
  std::string render(MetricsText* extra) const;

 private:
  MetricsShm* shm_ = nullptr;
  bool mapped_ = false;
};

// Records one request in a slot (no-op for nullptr).
void record_request(WorkerSlot* slot, Endpoint ep, int status, uint64_t latency_us);
inline void bump(WorkerSlot* slot, Counter c, uint64_t n = 1) {
  if (slot) slot->counters[static_cast<int>(c)].fetch_add(n, std::memory_order_relaxed);
}

// The shared queue's figures (depth, oldest event age, live writers) and
// each writer's (popup_writer_*{writer="id"}), read from Redis in two round
// trips. They are the same from every host, so only hosts with
// queue_metrics = on call this (a sum over hosts would count them twice).
// When Redis does not answer, the three queue gauges are -1.
void add_queue_metrics(MetricsText* t, Redis& redis, const Keys& keys);

}  // namespace popup
