// The MySQL side of /api/healthz, measured apart from the request that asks.
//
// Why a thread: a hung MariaDB answers nothing, and a query waits out its
// read timeout (a second at best, whole seconds by default) before it
// fails. A load balancer that asks /api/healthz must get an answer within a
// second whatever hangs, so each worker process probes MySQL on its own
// thread and connection, and healthz reads the latest verdict: "ok",
// "slow" (a probe has waited longer than kSlowMs) or "down" (the last
// probe failed).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "core/settings.h"

namespace popup {

class MysqlProbe {
 public:
  static constexpr int kIntervalMs = 500;
  static constexpr int kSlowMs = 500;
  // Starts probing at once (a ping every kIntervalMs on its own connection).
  explicit MysqlProbe(const Settings& s);
  ~MysqlProbe();  // stops and joins the thread
  MysqlProbe(const MysqlProbe&) = delete;
  MysqlProbe& operator=(const MysqlProbe&) = delete;

  enum class Verdict { ok, slow, down };
  // The latest verdict; before the first probe ends, waits for it (at most
  // kSlowMs, then "slow").
  Verdict verdict();
  // The database node the probe's connection is on (Mysql::node()); "" when
  // the last probe found none that answers.
  std::string node();

 private:
  void run();

  const Settings& s_;
  std::mutex mu_;
  std::condition_variable cv_;  // stop, and the first verdict
  bool stop_ = false;
  bool known_ = false;              // a probe has ended
  bool last_ok_ = false;            // how the last one ended
  int64_t in_flight_since_ms_ = 0;  // 0: none in flight
  std::string node_;                // after the last probe
  std::thread thread_;
};

const char* to_string(MysqlProbe::Verdict v);

}  // namespace popup
