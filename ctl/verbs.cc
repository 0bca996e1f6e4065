// The day-to-day verbs. Each change loads the popup, changes one thing,
// validates the result with the file format's own checks (so `schedule`
// cannot store what `apply` would refuse), and writes it with its audit row
// and publishes, all or nothing (commit_and_publish). A popup stored before
// a rule existed may break it already; a verb refuses only the problems its
// change would add, so such a popup can still be disabled.
#include <boost/json.hpp>
#include <algorithm>
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
  fputs(usage_error(c.args.words[0] + ": not a popup id").c_str(), stderr);
  return false;
}

// "popup ID: FIELD: what; ...; nothing was written" for the problems of
// `after` that `before` did not have; "" when there are none.
std::string new_problems(int64_t id, const Popup* before, const Popup& after) {
  auto had = before ? popup_problems(*before) : std::vector<std::string>{};
  std::string out;
  for (const auto& p : popup_problems(after))
    if (std::find(had.begin(), had.end(), p) == had.end()) out += (out.empty() ? "" : "; ") + p;
  return out.empty() ? "" : "popup " + std::to_string(id) + ": " + out + "; nothing was written";
}

// Writes popup `p` (which was `had`, or did not exist) with its audit row
// and publishes; prints "unchanged" instead when nothing differs.
int write_popup(Ctl& c, const std::string& command, const Popup* had, const Popup& p) {
  std::string problem = new_problems(p.id, had, p);
  if (!problem.empty()) return fail(problem);
  std::string before = had ? popup_json(*had) : "", after = popup_json(p);
  if (after == before) {
    if (!c.args.json) printf("popupctl: popup %lld unchanged\n", static_cast<long long>(p.id));
    return 0;
  }
  return commit_and_publish(c, {upsert_sql(p), audit_sql(c, command, p.id, before, after)});
}

// Loads popup `id`, applies `change` and writes the result (write_popup).
int change_popup(Ctl& c, const std::string& command, const std::function<void(Popup*)>& change) {
  int64_t id = 0;
  if (!word_id(c, &id)) return 2;
  Popup p;
  std::string err;
  if (!load_popup(c, id, &p, &err)) return fail(err);
  Popup had = p;
  change(&p);
  return write_popup(c, command, &had, p);
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

// A --from/--until value, which parse_ctl_args checked: an ISO time with a
// zone, or "none" (unbounded).
std::optional<int64_t> schedule_bound(const std::string& v) {
  return v == "none" ? std::nullopt : parse_iso_time(v);
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
  return change_popup(c, "enable", [](Popup* p) { p->enabled = true; });
}

int cmd_disable(Ctl& c) {
  return change_popup(c, "disable", [](Popup* p) { p->enabled = false; });
}

int cmd_schedule(Ctl& c) {
  if (!c.args.has("--from") && !c.args.has("--until"))
    return fputs(usage_error("schedule needs --from TIME and/or --until TIME (or none)").c_str(), stderr), 2;
  return change_popup(c, "schedule", [&](Popup* p) {
    if (c.args.has("--from")) p->starts_at = schedule_bound(c.args.get("--from"));
    if (c.args.has("--until")) p->ends_at = schedule_bound(c.args.get("--until"));
  });
}

int cmd_rollout(Ctl& c) {
  const std::string& w = c.args.words[1];
  if (w.empty() || w.size() > 3 || w.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(w) > 100)
    return fputs(usage_error("rollout: PERCENT must be 0 to 100, not " + w).c_str(), stderr), 2;
  return change_popup(c, "rollout", [&](Popup* p) { p->rollout_percent = std::stoi(w); });
}

int cmd_revert(Ctl& c) {
  int64_t id = 0, entry = 0;
  if (!word_id(c, &id)) return 2;
  const std::string& w = c.args.words[1];
  std::string digits = w.substr(w.rfind('#', 0) == 0 ? 1 : 0);
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos)
    return fputs(usage_error("revert: ENTRY must be a history entry number (#12 or 12), not " + w).c_str(),
                 stderr), 2;
  entry = std::stoll(digits);
  std::vector<Mysql::Row> rows;
  std::string err;
  if (!c.mysql->query_rows({"SELECT popup_id, after_json FROM popup_audit WHERE id = ?", {entry}}, &rows, &err))
    return fail(err);
  std::string sid = std::to_string(id), sentry = "#" + std::to_string(entry);
  if (rows.empty()) return fail("there is no history entry " + sentry + " (popupctl history " + sid + ")");
  if (!rows[0][0] || *rows[0][0] != sid)
    return fail("history entry " + sentry + " is not a change of popup " + sid + " (popupctl history " + sid + ")");
  if (!rows[0][1]) return fail("history entry " + sentry + " deleted popup " + sid + ": there is nothing to revert to");
  auto parsed = parse_popup_files({{"history entry " + sentry, "{\"popups\":[" + *rows[0][1] + "]}"}},
                                  PopupChecks::stored);
  if (!parsed.errors.empty() || parsed.popups.size() != 1)
    return fail("history entry " + sentry + " cannot be read back: " +
                (parsed.errors.empty() ? std::string("no popup") : parsed.errors[0]));
  Popup target = parsed.popups[0];
  Popup had;
  bool exists = load_popup(c, id, &had, &err);
  if (!exists && err != "no popup " + sid) return fail(err);
  // A revert must meet every rule of today, whatever the old entry allowed.
  auto problems = popup_problems(target);
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    return fail("popup " + sid + " as of history entry " + sentry + ": " + all + "; nothing was written");
  }
  if (!c.args.json) printf("popupctl: reverting popup %s to history entry %s\n", sid.c_str(), sentry.c_str());
  return write_popup(c, "revert", exists ? &had : nullptr, target);
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
  return commit_and_publish(c, {audit_sql(c, "publish", 0, "", "")}, false);
}

}  // namespace popup
