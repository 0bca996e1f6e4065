#include "fcgi/status.h"

#include <boost/json.hpp>
#include <cstdio>

#include "core/health.h"
#include "fcgi/stamper.h"

namespace popup {

// One Redis round trip (PING and kQueueHealthScript) and one MySQL query.
Response health_page(const Settings& s, const Keys& keys, Redis& redis, Mysql& mysql,
                     MysqlProbe* probe, ConfigCache& cache, ConfigLoader& config) {
  std::vector<RedisReply> replies;
  std::string err;
  // The health check always asks Redis itself, past an open breaker (and
  // closes it when Redis answers): it is the probe operators use.
  bool redis_ok = redis.pipeline({{"PING"}, queue_health_command(keys)}, &replies, &err,
                                  /*past_breaker=*/true) &&
                  !replies[0].is_error();
  QueueHealth q;
  bool queue_known = redis_ok && parse_queue_health(replies[1], &q);
  int64_t one = 0;
  MysqlProbe::Verdict mysql_state =
      probe ? probe->verdict()
            : mysql.query_int("SELECT 1", &one, &err) ? MysqlProbe::Verdict::ok
                                                       : MysqlProbe::Verdict::down;
  bool mysql_ok = mysql_state == MysqlProbe::Verdict::ok;
  auto cfg = cache.get();
  if (!cfg && redis_ok) {
    config.warm_up();
    cfg = cache.get();
  }
  HealthFacts f;
  f.config = cfg != nullptr;
  f.redis = redis_ok;
  f.mysql = mysql_ok;
  f.writers_alive = queue_known ? q.writers_alive() : -1;
  f.queue_oldest_age_s = queue_known ? oldest_event_age_us(q.oldest, wall_us()) / 1000000 : -1;
  HealthVerdict v = judge_health(f, s.queue_age_degraded_s);
  boost::json::object o;
  o["status"] = v.status;
  o["redis"] = redis_ok ? "ok" : "down";
  // The Redis in use: through Sentinel, the primary it names; null while
  // none is known (then Redis counts as down, and the status is degraded).
  std::string primary = redis_ok ? redis.connected_to() : "";
  if (primary.empty())
    o["redis_primary"] = nullptr;
  else
    o["redis_primary"] = primary;
  o["mysql"] = to_string(mysql_state);
  // The node answering this process (mysql_hosts: which member of the
  // cluster); "" when none answers.
  o["mysql_node"] = probe ? probe->node() : (mysql_ok ? mysql.node() : std::string());
  o["queue_depth"] = queue_known ? q.depth : -1;
  o["queue_oldest_age_s"] = f.queue_oldest_age_s;
  o["writers_alive"] = f.writers_alive;
  o["config_version"] = cfg ? cfg->version : -1;
  o["popups"] = cfg ? static_cast<int64_t>(cfg->popups.size()) : 0;
  return Response{v.http_status, boost::json::serialize(o)};
}

// The queue's figures are the same from every host: only hosts with
// queue_metrics = on report them (add_queue_metrics, fcgi/metrics.h).
Response metrics_page(const Settings& s, const Keys& keys, Redis& redis, const Metrics& metrics) {
  MetricsText t;
  // Whether this worker reaches a Redis primary now (past an open breaker,
  // as /api/healthz asks): the "no Redis primary" alert reads it.
  std::vector<RedisReply> replies;
  std::string err;
  bool primary = redis.pipeline({{"PING"}}, &replies, &err, /*past_breaker=*/true) &&
                 !replies[0].is_error();
  t.add("popup_redis_primary_known", "", primary ? "1" : "0");
  if (s.queue_metrics) add_queue_metrics(&t, redis, keys);
  return Response{200, metrics.render(&t)};
}

}  // namespace popup
