// The popups table as popupctl reads and writes it. Every value goes to
// MySQL as a bound parameter of a prepared statement (Mysql::Statement):
// no text, number or NULL is ever spliced into SQL.
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
      {"link_url", p.link_url}};
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
  return {"INSERT INTO popup_audit (at, os_user, command, popup_id, before_json, after_json)"
          " VALUES (?, ?, ?, ?, ?, ?)",
          {c.now, c.os_user, command, popup_id > 0 ? Mysql::Param(popup_id) : Mysql::Param(nullptr),
           opt_text(before), opt_text(after)}};
}

int publish(Ctl& c, bool quiet) {
  std::string err;
  int64_t version = 0;
  ConfigSet cfg;
  if (!c.mysql->bump_version(&version, &err) || !c.mysql->load_config(&cfg, &err)) return fail(err);
  auto addr = parse_address(c.s.redis);
  if (!addr) return fail("bad redis address " + c.s.redis);
  Redis redis(*addr, c.s.redis_timeout_ms);
  if (!publish_config(redis, Keys{c.s.key_prefix}, cfg, &err)) return fail(err);
  size_t enabled = 0;
  for (const auto& p : cfg.popups) enabled += p.enabled;
  if (quiet) return 0;
  if (c.args.json)
    printf("{\"published_version\":%lld,\"popups\":%zu,\"enabled\":%zu}\n",
           static_cast<long long>(cfg.version), cfg.popups.size(), enabled);
  else
    printf("popupctl: published version %lld with %zu popups (%zu enabled)\n",
           static_cast<long long>(cfg.version), cfg.popups.size(), enabled);
  return 0;
}

int commit_and_publish(Ctl& c, const std::vector<Mysql::Statement>& stmts) {
  std::string err;
  if (!c.mysql->transaction(stmts, &err)) return fail(err + " (nothing was written)");
  return publish(c);
}

bool parse_id(const std::string& word, int64_t* id) {
  if (word.empty() || word.size() > 10 || word.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *id = std::strtoll(word.c_str(), nullptr, 10);
  return *id >= 1 && *id <= 4294967295LL;
}

}  // namespace popup
