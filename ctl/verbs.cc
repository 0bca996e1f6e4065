// The day-to-day verbs. Each change loads the popup, changes one thing,
// validates the result with the file format's own checks (so `schedule`
// cannot store what `apply` would refuse), writes it with its audit row in
// one transaction and publishes.
#include <boost/json.hpp>
#include <cstdio>
#include <functional>

#include "core/explain.h"
#include "core/iso_time.h"
#include "core/popup_file.h"
#include "ctl/ctl.h"

namespace popup {
namespace {

// The id in the command's first word; prints the problem and returns 2 when it is not one.
bool word_id(const Ctl& c, int64_t* id) {
  if (parse_id(c.args.words[0], id)) return true;
  fprintf(stderr, "popupctl: %s: not a popup id\n", c.args.words[0].c_str());
  return false;
}

// Loads popup `id`, applies `change` (which returns "" or the problem),
// validates, writes with an audit row and publishes.
int change_popup(Ctl& c, const std::string& command, const std::function<std::string(Popup*)>& change) {
  int64_t id = 0;
  if (!word_id(c, &id)) return 2;
  Popup p;
  std::string err;
  if (!load_popup(c, id, &p, &err)) return fail(err);
  std::string before = popup_json(p);
  std::string problem = change(&p);
  if (!problem.empty()) return fail(problem);
  std::string after = popup_json(p);
  auto check = parse_popup_files({{"popup " + std::to_string(id), "{\"popups\":[" + after + "]}"}});
  if (!check.errors.empty()) return fail(check.errors[0] + "; nothing was written");
  if (after == before) {
    if (!c.args.json) printf("popupctl: popup %lld unchanged\n", static_cast<long long>(id));
    return 0;
  }
  return commit_and_publish(c, {upsert_sql(p), audit_sql(c, command, id, before, after)});
}

std::string schedule_text(const Popup& p) {
  if (!p.starts_at && !p.ends_at) return "always";
  if (!p.ends_at) return "from " + format_iso_time(*p.starts_at);
  if (!p.starts_at) return "until " + format_iso_time(*p.ends_at);
  return format_iso_time(*p.starts_at) + ".." + format_iso_time(*p.ends_at);
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "; ") + s;
  return out;
}

// A --from/--until value: an ISO time with a zone, or "none" (unbounded).
bool schedule_bound(const std::string& v, std::optional<int64_t>* out) {
  if (v == "none") return out->reset(), true;
  auto t = parse_iso_time(v);
  if (t) *out = t;
  return t.has_value();
}

}  // namespace

int cmd_list(Ctl& c) {
  std::vector<Popup> popups;
  std::string err;
  if (!load_popups(c, &popups, &err)) return fail(err);
  if (c.args.json) {
    boost::json::array out;
    for (const auto& p : popups) {
      auto o = boost::json::parse(popup_json(p)).as_object();
      auto why = live_reasons(p, c.now);
      boost::json::array reasons(why.begin(), why.end());
      o["live"] = why.empty();
      o["not_live_because"] = std::move(reasons);
      out.push_back(std::move(o));
    }
    printf("%s\n", boost::json::serialize(out).c_str());
    return 0;
  }
  printf("%-6s %-24s %-7s %-42s %-22s %-7s %s\n", "ID", "NAME", "ENABLED", "SCHEDULE", "TARGETING",
         "ROLLOUT", "LIVE");
  for (const auto& p : popups) {
    auto why = live_reasons(p, c.now);
    printf("%-6lld %-24s %-7s %-42s %-22s %6d%% %s\n", static_cast<long long>(p.id), p.name.c_str(),
           p.enabled ? "yes" : "no", schedule_text(p).c_str(), targeting_summary(p).c_str(),
           p.rollout_percent, why.empty() ? "live" : ("no: " + joined(why)).c_str());
  }
  return 0;
}

int cmd_show(Ctl& c) {
  int64_t id = 0;
  if (!word_id(c, &id)) return 2;
  Popup p;
  std::string err;
  if (!load_popup(c, id, &p, &err)) return fail(err);
  fputs(c.args.json ? (popup_json(p) + "\n").c_str() : encode_popup_file({p}).c_str(), stdout);
  return 0;
}

int cmd_enable(Ctl& c) {
  return change_popup(c, "enable", [](Popup* p) { return p->enabled = true, std::string(); });
}

int cmd_disable(Ctl& c) {
  return change_popup(c, "disable", [](Popup* p) { return p->enabled = false, std::string(); });
}

int cmd_schedule(Ctl& c) {
  if (!c.args.has("--from") && !c.args.has("--until")) {
    fprintf(stderr, "popupctl: schedule needs --from TIME and/or --until TIME (or none)\n");
    return 2;
  }
  return change_popup(c, "schedule", [&](Popup* p) -> std::string {
    for (const char* opt : {"--from", "--until"}) {
      if (!c.args.has(opt)) continue;
      auto* field = opt[2] == 'f' ? &p->starts_at : &p->ends_at;
      if (!schedule_bound(c.args.get(opt), field))
        return std::string(opt) + ": not an ISO-8601 time with a zone (2026-12-01T09:00:00+01:00) or none";
    }
    return "";
  });
}

int cmd_rollout(Ctl& c) {
  const std::string& w = c.args.words[1];
  if (w.empty() || w.size() > 3 || w.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(w) > 100) {
    fprintf(stderr, "popupctl: rollout: PERCENT must be 0 to 100\n");
    return 2;
  }
  return change_popup(c, "rollout", [&](Popup* p) { return p->rollout_percent = std::stoi(w), std::string(); });
}

int cmd_delete(Ctl& c) {
  int64_t id = 0;
  if (!word_id(c, &id)) return 2;
  Popup p;
  std::string err;
  if (!load_popup(c, id, &p, &err)) return fail(err);
  int64_t used = 0;
  std::string sid = std::to_string(id);
  if (!c.mysql->query_int({"SELECT EXISTS(SELECT 1 FROM popup_events WHERE popup_id = ?)"
                           " OR EXISTS(SELECT 1 FROM popup_daily WHERE popup_id = ?)",
                           {id, id}},
                          &used, &err))
    return fail(err);
  if (used)
    return fail("popup " + sid + " has recorded events, so its reports need it: disable it instead (popupctl disable " + sid + ")");
  return commit_and_publish(c, {Mysql::Statement("DELETE FROM popups WHERE id = ?", {id}),
                                audit_sql(c, "delete", id, popup_json(p), "")});
}

int cmd_publish(Ctl& c) {
  std::string err;
  if (!c.mysql->execute(audit_sql(c, "publish", 0, "", ""), &err)) return fail(err);
  return publish(c);
}

}  // namespace popup
