#include "fcgi/store_probe.h"

#include <chrono>

#include "lib/mysql.h"
#include "lib/clock.h"

namespace popup {
MysqlProbe::MysqlProbe(const Settings& s) : s_(s), thread_([this] { run(); }) {}

MysqlProbe::~MysqlProbe() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void MysqlProbe::run() {
  Mysql mysql(s_, Mysql::kRequestTimeoutS);
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    in_flight_since_ms_ = steady_ms();
    l.unlock();
    std::string err;
    bool ok = mysql.ping(&err);
    l.lock();
    in_flight_since_ms_ = 0;
    last_ok_ = ok;
    node_ = ok ? mysql.node() : "";
    known_ = true;
    cv_.notify_all();
    cv_.wait_for(l, std::chrono::milliseconds(kIntervalMs), [this] { return stop_; });
  }
}

MysqlProbe::Verdict MysqlProbe::verdict() {
  std::unique_lock<std::mutex> l(mu_);
  if (!known_)
    cv_.wait_for(l, std::chrono::milliseconds(kSlowMs), [this] { return known_ || stop_; });
  if (in_flight_since_ms_ != 0 && steady_ms() - in_flight_since_ms_ > kSlowMs) return Verdict::slow;
  if (!known_) return Verdict::slow;
  return last_ok_ ? Verdict::ok : Verdict::down;
}

std::string MysqlProbe::node() {
  std::lock_guard<std::mutex> l(mu_);
  return node_;
}

const char* to_string(MysqlProbe::Verdict v) {
  switch (v) {
    case MysqlProbe::Verdict::ok: return "ok";
    case MysqlProbe::Verdict::slow: return "slow";
    case MysqlProbe::Verdict::down: return "down";
  }
  return "down";
}

}  // namespace popup
