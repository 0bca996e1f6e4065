#include "writer/writer.h"

#include "lib/log.h"
#include "lib/redis.h"
#include "writer/adapters.h"
#include "writer/drain.h"

namespace popup {

int run_writer(const Settings& s, volatile sig_atomic_t* stop, const std::string& owner) {
  if (s.redis_sentinels.empty() && !parse_address(s.redis)) {
    log_error("writer: invalid redis address %s", s.redis.c_str());
    return 1;
  }
  RedisWriterQueue queue(s, redis_address(s), owner);
  MysqlWriterStore store(s);
  SystemClock clock;
  return Drain(s, stop, queue, store, clock).run();
}

}  // namespace popup
