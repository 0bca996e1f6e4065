// The operator pages: /api/healthz (SPEC: one Redis round trip, one MySQL
// query) and /api/metrics (the pool's shared counters plus the queue and
// writer figures read from Redis).
#pragma once

#include "core/settings.h"
#include "fcgi/config_loader.h"
#include "fcgi/metrics.h"
#include "lib/mysql.h"
#include "lib/redis.h"
#include "fcgi/response.h"
#include "lib/store.h"

namespace popup {

Response health_page(const Settings& s, const Keys& keys, Redis& redis, Mysql& mysql,
                     ConfigCache& cache, ConfigLoader& config);

// The pool's figures (Metrics::render) and, with s.queue_metrics, the
// queue's and writers' read from Redis.
Response metrics_page(const Settings& s, const Keys& keys, Redis& redis, const Metrics& metrics);

}  // namespace popup
