// The popups table as popupctl reads and writes it. Every value goes to
// MySQL as a bound parameter of a prepared statement (Mysql::Statement):
// no text, number or NULL is ever spliced into SQL.
#include <boost/json.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/config_json.h"
#include "core/popup_file.h"
#include "core/select.h"
#include "core/version.h"
#include "ctl/ctl.h"
#include "lib/redis.h"
#include "lib/store.h"

namespace popup {
namespace {

Mysql::Param opt_num(const std::optional<int64_t>& v) {
  return v ? Mysql::Param(*v) : Mysql::Param(nullptr);
}
Mysql::Param opt_version(const std::optional<Version>& v) {
  return v ? Mysql::Param(format_version(*v)) : Mysql::Param(nullptr);
}
Mysql::Param opt_text(const std::string& s) { return s.empty() ? Mysql::Param(nullptr) : Mysql::Param(s); }

std::string join_list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

int fail(const std::string& msg) {
  fprintf(stderr, "popupctl: %s\n", msg.c_str());
  return 1;
}

bool load_popups(Ctl& c, std::vector<Popup>* out, std::string* err) {
  ConfigSet cfg;
  if (!c.mysql->load_config(&cfg, err)) return false;
  *out = std::move(cfg.popups);
  std::sort(out->begin(), out->end(), [](const Popup& a, const Popup& b) { return a.id < b.id; });
  return true;
}

bool load_popup(Ctl& c, int64_t id, Popup* out, std::string* err) {
  std::vector<Popup> all;
  if (!load_popups(c, &all, err)) return false;
  for (auto& p : all)
    if (p.id == id) return *out = std::move(p), true;
  *err = "no popup " + std::to_string(id);
  return false;
}

Mysql::Statement upsert_sql(const Popup& p) {
  std::vector<std::string> platforms;
  for (auto pl : p.platforms) platforms.emplace_back(to_string(pl));
  std::vector<std::pair<const char*, Mysql::Param>> cols = {
      {"id", p.id},
      {"name", p.name},
      {"priority", p.priority},
      {"enabled", int64_t{p.enabled ? 1 : 0}},
      {"starts_at", opt_num(p.starts_at)},
      {"ends_at", opt_num(p.ends_at)},
      {"platforms", join_list(platforms)},
      {"min_version", opt_version(p.min_version)},
      {"max_version", opt_version(p.max_version)},
      {"langs", join_list(p.langs)},
      {"rollout_percent", int64_t{p.rollout_percent}},
      {"max_impressions", opt_num(p.max_impressions)},
      {"show_cooldown_s", p.show_cooldown_s},
      {"ignore_cooldown_s", p.ignore_cooldown_s},
      {"click_cooldown_s", opt_num(p.click_cooldown_s)},
      {"title", p.title},
      {"body", p.body},
      {"image_url", p.image_url},
      {"link_url", p.link_url},
      {"button_text", p.button_text}};
  std::string names, values, update;
  std::vector<Mysql::Param> params;
  for (auto& [col, v] : cols) {
    names += std::string(names.empty() ? "" : ", ") + col;
    values += values.empty() ? "?" : ", ?";
    params.push_back(std::move(v));
    if (std::string(col) != "id")
      update += std::string(update.empty() ? "" : ", ") + col + " = VALUES(" + col + ")";
  }
  return {"INSERT INTO popups (" + names + ") VALUES (" + values + ") ON DUPLICATE KEY UPDATE " + update,
          std::move(params)};
}

Mysql::Statement audit_sql(const Ctl& c, const std::string& command, int64_t popup_id,
                           const std::string& before, const std::string& after) {
  return {"INSERT INTO popup_audit (at, os_user, os_user_from, command, popup_id, before_json, after_json)"
          " VALUES (?, ?, ?, ?, ?, ?, ?)",
          {c.now, c.os_user, c.os_user_from, command,
           popup_id > 0 ? Mysql::Param(popup_id) : Mysql::Param(nullptr), opt_text(before),
           opt_text(after)}};
}

int commit_and_publish(Ctl& c, const std::vector<Mysql::Statement>& stmts, bool changed, bool quiet) {
  if (c.s.redis_sentinels.empty() && !parse_address(c.s.redis))
    return fail("bad redis address " + c.s.redis + "; nothing was written");
  Redis redis(redis_address(c.s), c.s.redis_timeout_ms);
  auto to_redis = [&](const ConfigSet& cfg, std::string* e) {
    return publish_config(redis, Keys{c.s.key_prefix}, cfg, e);
  };
  ConfigSet cfg;
  bool published = false;
  std::string err;
  if (!c.mysql->commit_published(stmts, to_redis, &cfg, &published, &err)) {
    if (!published && err.rfind("mysql", 0) == 0) return fail(err + " (nothing was written)");
    if (!published)
      return fail("cannot publish (" + err + "): nothing was written; a change is written only"
                  " together with its publication, so run it again once Redis answers");
    // Redis took a set that MySQL did not commit: publish what MySQL holds
    // under a newer version, so the service drops the uncommitted change.
    std::string err2;
    ConfigSet back;
    Mysql::Statement skip("UPDATE config_meta SET version = version + 1 WHERE id = 1");
    if (c.mysql->commit_published({skip}, to_redis, &back, &published, &err2))
      return fail("the commit failed after publishing (" + err + "): nothing was written, and"
                  " MySQL's popups were published again as version " + std::to_string(back.version));
    return fail("the commit failed after publishing (" + err + ") and publishing MySQL's popups"
                " again failed too (" + err2 + "): run popupctl publish once both answer");
  }
  size_t enabled = 0;
  for (const auto& p : cfg.popups) enabled += p.enabled;
  if (quiet) return 0;
  if (c.args.json)
    printf("{\"published_version\":%lld,\"popups\":%zu,\"enabled\":%zu,\"by\":%s,\"by_from\":\"%s\"}\n",
           static_cast<long long>(cfg.version), cfg.popups.size(), enabled,
           boost::json::serialize(boost::json::value(c.os_user)).c_str(), c.os_user_from.c_str());
  else
    printf("popupctl: %spublished version %lld with %zu popups (%zu enabled) by %s (from %s)\n",
           changed ? "written, audited and " : "", static_cast<long long>(cfg.version),
           cfg.popups.size(), enabled, c.os_user.c_str(), c.os_user_from.c_str());
  return 0;
}

bool parse_id(const std::string& word, int64_t* id) {
  if (word.empty() || word.size() > 10 || word.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *id = std::strtoll(word.c_str(), nullptr, 10);
  return *id >= 1 && *id <= 4294967295LL;
}

}  // namespace popup
