#include "fcgi/mysql_reader.h"

#include <chrono>

namespace popup {

MysqlReader::MysqlReader(const Settings& s, int deadline_ms) : s_(s), deadline_ms_(deadline_ms) {}

MysqlReader::~MysqlReader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

MysqlReader::Outcome MysqlReader::user_states(const std::string& uid, UserStates* out,
                                              std::string* err) {
  std::unique_lock<std::mutex> lock(mu_);
  if (busy_) {
    *err = "mysql: an earlier read still waits for the server";
    return Outcome::late;
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  uid_ = uid;
  busy_ = true;
  done_ = false;
  abandoned_ = false;
  cv_.notify_all();
  if (!cv_.wait_for(lock, std::chrono::milliseconds(deadline_ms_), [this] { return done_; })) {
    abandoned_ = true;
    *err = "mysql: no answer within " + std::to_string(deadline_ms_) + " ms";
    return Outcome::late;
  }
  busy_ = false;
  done_ = false;
  if (!ok_) {
    *err = std::move(err_);
    return Outcome::failed;
  }
  *out = std::move(result_);
  result_.clear();
  return Outcome::ok;
}

void MysqlReader::run() {
  Mysql mysql(s_, Mysql::kRequestTimeoutS);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || (busy_ && !done_); });
    if (stop_) return;
    std::string uid = uid_;
    lock.unlock();
    UserStates states;
    std::string err;
    bool ok = mysql.load_user_states(uid, &states, &err);
    lock.lock();
    if (abandoned_) {  // the visit was answered without it
      busy_ = false;
      abandoned_ = false;
      continue;
    }
    ok_ = ok;
    result_ = std::move(states);
    err_ = std::move(err);
    done_ = true;
    cv_.notify_all();
  }
}

}  // namespace popup
