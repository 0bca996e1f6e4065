// The queue writer's real ports (writer/ports.h): the queue and the
// processing list in Redis, MySQL's batch transaction, and the clocks.
#pragma once

#include <string>

#include "core/settings.h"
#include "lib/mysql.h"
#include "lib/redis.h"
#include "lib/store.h"
#include "writer/ports.h"

namespace popup {

// Over one Redis connection (owned), for writer s.writer_id and `owner`.
class RedisWriterQueue : public WriterQueue {
 public:
  RedisWriterQueue(const Settings& s, RedisTarget a, const std::string& owner);
  const QueueNames& names() const override { return names_; }
  Lease heartbeat(bool starting, std::string* holder) override;
  bool release(std::string* err) override;
  Wait wait_first(std::string* item, std::string* err) override;
  std::optional<int64_t> depth() override;
  bool take(int want, int whole, int batch, std::vector<std::string>* items,
            std::string* err) override;
  bool in_hand(int batch, std::vector<std::string>* items, std::string* err) override;
  std::optional<int64_t> in_hand_count() override;
  Ack acknowledge(const std::vector<std::string>& items, std::string* err) override;
  Claim claim(std::string* from, int64_t* n, std::string* err) override;
  std::optional<int64_t> give_back(std::string* err) override;
  bool dead_letter(const std::string& item, std::string* err) override;
  // Also writes the store's database node and whether it reaches one
  // (mysql_node, mysql_reachable: the alert "writer cannot reach any
  // database node", deploy/prometheus/popup-rules.yml).
  void publish(const WriterStats& st) override;

 private:
  const Settings& s_;
  Keys keys_;
  QueueNames names_;
  Redis redis_;
};

class MysqlWriterStore : public WriterStore {
 public:
  explicit MysqlWriterStore(const Settings& s) : mysql_(s) {}
  bool apply(const std::vector<Event>& batch, std::string* err) override {
    return mysql_.apply_events(batch, err);
  }
  // Mysql::ping: COM_PING, or wsrep_ready on a Galera node.
  bool check(std::string* err) override { return mysql_.ping(err); }
  std::string node() const override { return mysql_.node(); }
  bool reachable() const override { return !mysql_.no_node(); }

 private:
  Mysql mysql_;
};

class SystemClock : public WriterClock {
 public:
  int64_t steady_ms() override;
  int64_t wall_us() override;
  void sleep_ms(int64_t ms) override;
};

}  // namespace popup
