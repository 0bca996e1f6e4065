// retention: deletes raw events older than retention_days in batches of
// --batch rows (default 1000), each its own short autocommit statement
// walking the ts index, so the writer's transactions wait for at most one
// batch; the daily roll-ups are left alone.
#include <cstdio>

#include "ctl/ctl.h"

namespace popup {

int cmd_retention(Ctl& c) {
  int64_t days = c.s.retention_days, batch = 1000;
  for (auto [opt, out, hi] : {std::tuple{"--days", &days, 36500LL}, std::tuple{"--batch", &batch, 100000LL}}) {
    if (!c.args.has(opt)) continue;
    std::string w = c.args.get(opt);
    if (w.empty() || w.size() > 6 || w.find_first_not_of("0123456789") != std::string::npos ||
        std::stoll(w) > hi || (std::stoll(w) == 0 && std::string(opt) == "--batch"))
      return fputs(usage_error(std::string(opt) + " must be a number up to " + std::to_string(hi)).c_str(), stderr), 2;
    *out = std::stoll(w);
  }
  if (days == 0) {
    printf("popupctl: retention_days is 0: raw events are kept forever\n");
    return 0;
  }
  int64_t cutoff = c.now - days * 86400, deleted = 0, n = 0;
  std::string err;
  do {
    if (!c.mysql->execute_count({"DELETE FROM popup_events WHERE ts < ? ORDER BY ts LIMIT ?",
                                 {cutoff, batch}},
                                &n, &err))
      return fail(err + " (after deleting " + std::to_string(deleted) + " events)");
    deleted += n;
  } while (n == batch);
  std::string what = "{\"days\":" + std::to_string(days) + ",\"before_ts\":" + std::to_string(cutoff) +
                     ",\"deleted\":" + std::to_string(deleted) + "}";
  if (!c.mysql->execute(audit_sql(c, "retention", 0, "", what), &err)) return fail(err);
  if (c.args.json) printf("%s\n", what.c_str());
  else printf("popupctl: deleted %lld raw events older than %lld days; daily roll-ups kept\n",
              static_cast<long long>(deleted), static_cast<long long>(days));
  return 0;
}

}  // namespace popup
