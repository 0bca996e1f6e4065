#include "fcgi/status.h"

#include <boost/json.hpp>
#include <cstdio>

#include "core/health.h"
#include "fcgi/stamper.h"

namespace popup {

// One Redis round trip (PING and kQueueHealthScript) and one MySQL query.
Response health_page(const Settings& s, const Keys& keys, Redis& redis, Mysql& mysql,
                     ConfigCache& cache, ConfigLoader& config) {
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
  bool mysql_ok = mysql.query_int("SELECT 1", &one, &err);
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
  o["mysql"] = mysql_ok ? "ok" : "down";
  o["queue_depth"] = queue_known ? q.depth : -1;
  o["queue_oldest_age_s"] = f.queue_oldest_age_s;
  o["writers_alive"] = f.writers_alive;
  o["config_version"] = cfg ? cfg->version : -1;
  o["popups"] = cfg ? static_cast<int64_t>(cfg->popups.size()) : 0;
  return Response{v.http_status, boost::json::serialize(o)};
}

namespace {

// Appends one gauge with its HELP and TYPE lines.
void add_gauge(std::string* out, const char* name, const char* help, const std::string& value) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name +
          " " + value + "\n";
}

// The queue gauges: depth, live writers, age of the oldest waiting event.
void add_queue_gauges(std::string* out, const QueueHealth& q) {
  char age[32];
  snprintf(age, sizeof age, "%.3f", oldest_event_age_us(q.oldest, wall_us()) / 1e6);
  add_gauge(out, "popup_queue_depth", "Events waiting in the Redis queue.", std::to_string(q.depth));
  add_gauge(out, "popup_writers_alive", "Queue writers with a live heartbeat.",
            std::to_string(q.writers_alive()));
  add_gauge(out, "popup_queue_oldest_age_seconds",
            "Age of the oldest event waiting in the queue or in a writer's hands (the real "
            "writer lag; 0 when nothing waits).",
            age);
}

}  // namespace

// Per writer: its counters from <p>:writer:<id>, its batch in hand and
// whether it is alive. lag_seconds (the oldest event of its last batch, at
// commit) is shown only while the writer's heartbeat lives: a dead writer's
// last figure says nothing about now; popup_queue_oldest_age_seconds does.
Response metrics_page(const Keys& keys, Redis& redis, const Metrics& metrics) {
  std::string extra;
  std::vector<RedisReply> replies;
  std::string err;
  // One sample line; names come from Redis field names, so they are text
  // here, never a format string.
  auto add = [&extra](const std::string& name, const std::string& label, const std::string& value) {
    extra += name + label + " " + value + "\n";
  };
  QueueHealth q;
  if (!redis.pipeline({queue_health_command(keys)}, &replies, &err) ||
      !parse_queue_health(replies[0], &q)) {
    extra += "popup_queue_depth -1\n";
    return Response{200, metrics.render(extra)};
  }
  add_queue_gauges(&extra, q);
  std::vector<RedisCommand> cmds;
  for (const auto& w : q.writers) {
    cmds.push_back({"HGETALL", keys.writer(w.id)});
    cmds.push_back({"LLEN", keys.processing(w.id)});
  }
  std::vector<RedisReply> stats;
  if (!cmds.empty() && redis.pipeline(cmds, &stats, &err)) {
    for (size_t i = 0; i < q.writers.size(); ++i) {
      std::string label = "{writer=\"" + q.writers[i].id + "\"}";
      add("popup_writer_alive", label, q.writers[i].alive ? "1" : "0");
      add("popup_writer_in_hand", label, std::to_string(stats[2 * i + 1].integer));
      const auto& h = stats[2 * i].elements;
      for (size_t f = 0; f + 1 < h.size(); f += 2) {
        if (h[f].str == "lag_seconds" && !q.writers[i].alive) continue;
        add("popup_writer_" + h[f].str, label, h[f + 1].str);
      }
    }
  }
  return Response{200, metrics.render(extra)};
}

}  // namespace popup
