#include "fcgi/metrics.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <new>

#include "lib/log.h"

namespace popup {
namespace {

constexpr uint64_t kMagic = 0x706f707570763036ULL;  // "popupv06"

const char* endpoint_name(int e) {
  static const char* names[] = {"popup", "action", "healthz", "metrics", "other"};
  return names[e];
}

const char* counter_name(int c) {
  static const char* names[] = {
      "popup_config_cache_hits_total",  "popup_config_redis_loads_total",
      "popup_config_mysql_loads_total", "popup_state_cache_hits_total",
      "popup_state_cache_misses_total", "popup_events_queued_total",
      "popup_events_direct_total",      "popup_redis_errors_total",
      "popup_mysql_errors_total",       "popup_get_redis_round_trips_total",
      "popup_get_requests_total",       "popup_kept_connections_released_total",
      "popup_redis_breaker_skips_total",  "popup_redis_repairs_total",
      "popup_memory_state_hits_total",  "popup_memory_state_misses_total",
      "popup_shared_gets_total",        "popup_flush_batches_total",
      "popup_flush_redis_round_trips_total", "popup_impressions_dropped_total"};
  static_assert(sizeof names / sizeof names[0] == kCounters);
  return names[c];
}

bool alive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0 && static_cast<size_t>(n) < sizeof buf) {
    out.append(buf, n);
  } else if (n > 0) {  // longer than the buffer: format into the string itself
    size_t at = out.size();
    out.resize(at + n + 1);
    vsnprintf(out.data() + at, n + 1, fmt, again);
    out.resize(at + n);
  }
  va_end(again);
}

}  // namespace

Metrics::Metrics(const std::string& state_dir) {
  if (!state_dir.empty()) {
    std::string path = state_dir + "/metrics.shm";
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 &&
        (st.st_size == static_cast<off_t>(sizeof(MetricsShm)) ||
         ftruncate(fd, sizeof(MetricsShm)) == 0)) {
      void* p = mmap(nullptr, sizeof(MetricsShm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) {
        shm_ = static_cast<MetricsShm*>(p);
        mapped_ = true;
      }
    }
    if (fd >= 0) close(fd);
    if (!mapped_) log_warn("metrics: cannot map %s: %s; metrics cover this process only",
                           path.c_str(), strerror(errno));
  }
  if (!shm_) {
    void* p = mmap(nullptr, sizeof(MetricsShm), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    shm_ = static_cast<MetricsShm*>(p);
  }
  // A fresh (zero) file or one from an older layout starts from zero. The
  // magic is written last; racing first users both zero an empty file.
  if (shm_->magic != kMagic) {
    memset(static_cast<void*>(shm_), 0, sizeof(MetricsShm));
    shm_->magic = kMagic;
  }
}

Metrics::~Metrics() { munmap(shm_, sizeof(MetricsShm)); }

WorkerSlot* Metrics::claim_slot(pid_t pid, int threads) {
  for (auto& s : shm_->slots) {
    int32_t owner = s.pid.load();
    if (owner == pid) return &s;
    if (owner != 0 && alive(owner)) continue;
    if (s.pid.compare_exchange_strong(owner, pid)) {
      s.started_at.store(time(nullptr));
      s.threads.store(threads);
      s.busy.store(0);
      s.redis_breaker_open_until_ms.store(0);
      s.config_version.store(0);
      s.memory_bytes.store(0);
      s.memory_users.store(0);
      s.memory_budget.store(0);
      s.flush_waiting.store(0);
      return &s;
    }
  }
  return nullptr;
}

void Metrics::release_slot(WorkerSlot* slot) {
  if (!slot) return;
  slot->busy.store(0);
  int32_t me = getpid();
  slot->pid.compare_exchange_strong(me, -1);  // -1: free, counters kept
}

void record_request(WorkerSlot* slot, Endpoint ep, int status, uint64_t latency_us) {
  if (!slot) return;
  int e = static_cast<int>(ep);
  int si = kStatusCount;
  for (int i = 0; i < kStatusCount; ++i)
    if (kStatuses[i] == status) si = i;
  int bi = kBucketCount;
  for (int i = 0; i < kBucketCount; ++i) {
    if (latency_us <= kBucketsMs[i] * 1000) {
      bi = i;
      break;
    }
  }
  slot->requests.fetch_add(1, std::memory_order_relaxed);
  slot->by_status[e][si].fetch_add(1, std::memory_order_relaxed);
  slot->buckets[e][bi].fetch_add(1, std::memory_order_relaxed);
  slot->latency_us_sum[e].fetch_add(latency_us, std::memory_order_relaxed);
}

std::string Metrics::render(const std::string& extra) const {
  std::string out;
  out.reserve(16384);
  const auto& slots = shm_->slots;
  auto used = [](const WorkerSlot& s) { return s.pid.load() != 0; };

  out += "# HELP popup_requests_total Requests by endpoint and status.\n"
         "# TYPE popup_requests_total counter\n";
  for (int e = 0; e < kEndpoints; ++e) {
    for (int si = 0; si <= kStatusCount; ++si) {
      uint64_t n = 0;
      for (const auto& s : slots) n += used(s) ? s.by_status[e][si].load() : 0;
      if (n == 0) continue;
      if (si < kStatusCount)
        appendf(out, "popup_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
                endpoint_name(e), kStatuses[si], static_cast<unsigned long long>(n));
      else
        appendf(out, "popup_requests_total{endpoint=\"%s\",status=\"other\"} %llu\n",
                endpoint_name(e), static_cast<unsigned long long>(n));
    }
  }
  out += "# HELP popup_request_duration_seconds Time from request start to answer.\n"
         "# TYPE popup_request_duration_seconds histogram\n";
  for (int e = 0; e < kEndpoints; ++e) {
    uint64_t cum = 0, sum_us = 0;
    for (const auto& s : slots) sum_us += used(s) ? s.latency_us_sum[e].load() : 0;
    for (int b = 0; b <= kBucketCount; ++b) {
      for (const auto& s : slots) cum += used(s) ? s.buckets[e][b].load() : 0;
      if (b < kBucketCount)
        appendf(out, "popup_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                endpoint_name(e), kBucketsMs[b] / 1000, static_cast<unsigned long long>(cum));
      else
        appendf(out, "popup_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                endpoint_name(e), static_cast<unsigned long long>(cum));
    }
    appendf(out, "popup_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", endpoint_name(e),
            sum_us / 1e6);
    appendf(out, "popup_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
            endpoint_name(e), static_cast<unsigned long long>(cum));
  }
  for (int c = 0; c < kCounters; ++c) {
    uint64_t n = 0;
    for (const auto& s : slots) n += used(s) ? s.counters[c].load() : 0;
    appendf(out, "# TYPE %s counter\n%s %llu\n", counter_name(c), counter_name(c),
            static_cast<unsigned long long>(n));
  }
  int live = 0, busy = 0, idle = 0, breaker_open = 0;
  int64_t mem_bytes = 0, mem_users = 0, mem_budget = 0, flush_waiting = 0;
  int64_t oldest_version = -1;
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  out += "# HELP popup_worker_requests_total Requests served per worker slot.\n"
         "# TYPE popup_worker_requests_total counter\n";
  for (int i = 0; i < kMaxSlots; ++i) {
    const auto& s = slots[i];
    if (!used(s)) continue;
    int32_t pid = s.pid.load();
    bool up = alive(pid);
    appendf(out, "popup_worker_requests_total{slot=\"%d\",pid=\"%d\",up=\"%d\"} %llu\n", i,
            up ? pid : 0, up ? 1 : 0, static_cast<unsigned long long>(s.requests.load()));
    if (!up) continue;
    ++live;
    int b = s.busy.load(), t = s.threads.load();
    busy += b;
    idle += t > b ? t - b : 0;
    breaker_open += s.redis_breaker_open_until_ms.load() > now_ms;
    mem_bytes += s.memory_bytes.load();
    mem_users += s.memory_users.load();
    mem_budget += s.memory_budget.load();
    flush_waiting += s.flush_waiting.load();
    int64_t v = s.config_version.load();
    if (oldest_version < 0 || v < oldest_version) oldest_version = v;
  }
  appendf(out,
          "# TYPE popup_workers gauge\npopup_workers %d\n"
          "# HELP popup_threads_active Accept threads serving a request now.\n"
          "# TYPE popup_threads_active gauge\npopup_threads_active %d\n"
          "# TYPE popup_threads_idle gauge\npopup_threads_idle %d\n",
          live, busy, idle);
  appendf(out,
          "# HELP popup_redis_breaker_open Worker processes skipping Redis now (circuit breaker"
          " open).\n# TYPE popup_redis_breaker_open gauge\npopup_redis_breaker_open %d\n",
          breaker_open);
  appendf(out,
          "# HELP popup_memory_state_bytes Owned users' states kept in the live workers' memory.\n"
          "# TYPE popup_memory_state_bytes gauge\npopup_memory_state_bytes %lld\n"
          "# HELP popup_memory_state_budget_bytes The live workers' memory budgets, summed.\n"
          "# TYPE popup_memory_state_budget_bytes gauge\npopup_memory_state_budget_bytes %lld\n"
          "# HELP popup_memory_state_users Owned users kept in the live workers' memory.\n"
          "# TYPE popup_memory_state_users gauge\npopup_memory_state_users %lld\n"
          "# HELP popup_flush_waiting Events waiting for the write-behind.\n"
          "# TYPE popup_flush_waiting gauge\npopup_flush_waiting %lld\n",
          static_cast<long long>(mem_bytes), static_cast<long long>(mem_budget),
          static_cast<long long>(mem_users), static_cast<long long>(flush_waiting));
  appendf(out,
          "# HELP popup_config_version_oldest The oldest configuration version a live worker"
          " serves (0: one has none yet; -1: no worker).\n"
          "# TYPE popup_config_version_oldest gauge\npopup_config_version_oldest %lld\n",
          static_cast<long long>(oldest_version));
  appendf(out,
          "# TYPE popup_worker_restarts_total counter\npopup_worker_restarts_total %llu\n"
          "# TYPE popup_worker_recycled_total counter\npopup_worker_recycled_total %llu\n"
          "# TYPE popup_crash_brakes_total counter\npopup_crash_brakes_total %llu\n"
          "# TYPE popup_listen_queue gauge\npopup_listen_queue %lld\n"
          "# TYPE popup_listen_backlog gauge\npopup_listen_backlog %lld\n",
          static_cast<unsigned long long>(shm_->restarts.load()),
          static_cast<unsigned long long>(shm_->recycled.load()),
          static_cast<unsigned long long>(shm_->crash_brakes.load()),
          static_cast<long long>(shm_->listen_queue.load()),
          static_cast<long long>(shm_->listen_backlog.load()));
  out += extra;
  return out;
}

}  // namespace popup
