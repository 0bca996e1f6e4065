// The operator pages: /api/healthz (one Redis round trip and the MySQL
// probe's latest verdict, fcgi/store_probe.h) and /api/metrics (the pool's shared counters plus the queue and
// writer figures read from Redis).
#pragma once

#include "core/settings.h"
#include "fcgi/config_loader.h"
#include "fcgi/metrics.h"
#include "lib/mysql.h"
#include "lib/redis.h"
#include "fcgi/response.h"
#include "fcgi/store_probe.h"
#include "lib/store.h"

namespace popup {

// probe: the process's MySQL probe; null: one query on `mysql` instead.
Response health_page(const Settings& s, const Keys& keys, Redis& redis, Mysql& mysql,
                     MysqlProbe* probe, ConfigCache& cache, ConfigLoader& config);

// The pool's figures (Metrics::render) and, with s.queue_metrics, the
// queue's and writers' read from Redis.
Response metrics_page(const Settings& s, const Keys& keys, Redis& redis, const Metrics& metrics);

}  // namespace popup
