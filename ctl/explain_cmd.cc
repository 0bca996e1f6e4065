// explain: the configuration the workers serve (the published set in
// Redis; MySQL's when Redis has none) and the user's state as the service
// would read it (the Redis hash when it holds MySQL's copy, else MySQL),
// handed to core/explain.h.
#include <cctype>
#include <cstdio>

#include "core/config_json.h"
#include "core/explain.h"
#include "core/iso_time.h"
#include "core/params.h"
#include "core/version.h"
#include "ctl/ctl.h"
#include "lib/redis.h"
#include "lib/store.h"

namespace popup {
namespace {

// The published set, or MySQL's. *source says which.
bool load_served_config(Ctl& c, Redis& redis, ConfigSet* out, std::string* source, std::string* err) {
  RedisReply r;
  std::string rerr;
  if (redis.command({"GET", Keys{c.s.key_prefix}.config_set()}, &r, &rerr) && r.type == RedisReply::kString) {
    auto cfg = decode_config(r.str);
    if (cfg.ok()) return *out = cfg.value(), *source = "published set in Redis", true;
  }
  *source = "MySQL (Redis holds no published set)";
  return c.mysql->load_config(out, err);
}

bool load_states(Ctl& c, Redis& redis, const std::string& uid, UserStates* out, std::string* source,
                 std::string* err) {
  RedisReply r;
  std::string rerr;
  if (redis.command({"HGETALL", Keys{c.s.key_prefix}.user(uid)}, &r, &rerr) && decode_user_hash(r, out))
    return *source = "Redis", true;
  out->clear();
  *source = "MySQL";
  return c.mysql->load_user_states(uid, out, err);
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

// The visit from the options, parsed by GET /api/popup's own parser
// (core/params.h parse_visit) from the query string they make.
bool visit_from_args(const Ctl& c, Visit* v, std::string* err) {
  std::string q = "uid=" + url_encode(c.args.get("--uid"));
  for (const char* opt : {"--platform", "--version", "--lang"})
    if (c.args.has(opt)) q += std::string("&") + (opt + 2) + "=" + url_encode(c.args.get(opt));
  auto parsed = parse_visit(q);
  if (!parsed.ok()) return *err = parsed.error().message, false;
  *v = parsed.value();
  return true;
}

// --at: an ISO time with a zone or unix seconds; the time now without it.
bool at_from_args(const Ctl& c, int64_t* at) {
  if (!c.args.has("--at")) return *at = c.now, true;
  std::string w = c.args.get("--at");
  if (!w.empty() && w.size() < 19 && w.find_first_not_of("0123456789") == std::string::npos)
    return *at = std::stoll(w), true;
  auto t = parse_iso_time(w);
  if (t) *at = *t;
  return t.has_value();
}

}  // namespace

int cmd_explain(Ctl& c) {
  Visit visit;
  std::string err;
  int64_t at = 0;
  if (!visit_from_args(c, &visit, &err)) return fputs(usage_error(err).c_str(), stderr), 2;
  if (!at_from_args(c, &at))
    return fputs(usage_error("--at must be an ISO-8601 time with a zone or unix seconds").c_str(), stderr), 2;
  if (c.s.redis_sentinels.empty() && !parse_address(c.s.redis))
    return fail("bad redis address " + c.s.redis);
  Redis redis(redis_address(c.s), c.s.redis_timeout_ms);
  ConfigSet cfg;
  UserStates states;
  std::string cfg_source, state_source;
  if (!load_served_config(c, redis, &cfg, &cfg_source, &err)) return fail(err);
  if (!load_states(c, redis, visit.uid, &states, &state_source, &err)) return fail(err);
  Explanation e = explain(cfg, visit, states, at);
  if (c.args.json) return printf("%s\n", explanation_json(e).c_str()), 0;
  printf("visit: uid %s, platform %s, version %s, lang %s, at %s (%lld)\n", visit.uid.c_str(),
         to_string(visit.platform), visit.version ? format_version(*visit.version).c_str() : "-",
         visit.lang ? visit.lang->c_str() : "-", format_iso_time(at).c_str(), static_cast<long long>(at));
  printf("configuration: version %lld, %s; user state: %s\n", static_cast<long long>(cfg.version),
         cfg_source.c_str(), state_source.c_str());
  fputs(format_explanation(e).c_str(), stdout);
  return 0;
}

}  // namespace popup
