// report and chart: read the daily roll-ups only (popup_daily and
// popup_daily_users), never the raw event log, so a report costs the same
// however many events there are.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "core/iso_time.h"
#include "core/report.h"
#include "ctl/ctl.h"

namespace popup {
namespace {

// The SQL condition for --from/--until (UTC dates, inclusive) and --popup,
// with `?` for each value, which goes to *params in order.
bool range_where(const Ctl& c, int64_t popup, std::string* where, std::vector<Mysql::Param>* params,
                 std::string* err) {
  *where = "1";
  params->clear();
  for (const char* opt : {"--from", "--until"}) {
    if (!c.args.has(opt)) continue;
    auto day = parse_iso_date(c.args.get(opt));
    if (!day) return *err = std::string(opt) + " must be a date (2026-12-01)", false;
    *where += std::string(" AND day ") + (opt[2] == 'f' ? ">= ?" : "<= ?");
    params->emplace_back(format_iso_date(*day));
  }
  if (popup > 0) {
    *where += " AND popup_id = ?";
    params->emplace_back(popup);
  }
  return true;
}

int64_t num(const std::optional<std::string>& v) { return v ? std::atoll(v->c_str()) : 0; }

bool load_report(Ctl& c, int64_t popup, Report* out, std::string* err) {
  std::string where;
  std::vector<Mysql::Param> params;
  if (!range_where(c, popup, &where, &params, err)) return false;
  std::vector<Mysql::Row> rows;
  if (!c.mysql->query_rows(
          {"SELECT d.popup_id, TO_DAYS(d.day) - TO_DAYS('1970-01-01'), d.impressions, d.clicks,"
           " d.ignores, (SELECT COUNT(*) FROM popup_daily_users u WHERE u.popup_id = d.popup_id"
           " AND u.day = d.day) FROM popup_daily d WHERE " + where,
           params},
          &rows, err))
    return false;
  std::vector<DayRow> days;
  for (const auto& r : rows)
    days.push_back(DayRow{num(r[0]), num(r[1]), Counts{num(r[2]), num(r[5]), num(r[3]), num(r[4])}});
  if (!c.mysql->query_rows({"SELECT popup_id, COUNT(DISTINCT uid) FROM popup_daily_users WHERE " +
                                where + " GROUP BY popup_id",
                            params},
                           &rows, err))
    return false;
  std::map<int64_t, int64_t> users;
  for (const auto& r : rows) users[num(r[0])] = num(r[1]);
  int64_t total_users = 0;
  if (!c.mysql->query_int({"SELECT COUNT(DISTINCT uid) FROM popup_daily_users WHERE " + where, params},
                          &total_users, err))
    return false;
  *out = build_report(std::move(days), users, total_users);
  return true;
}

int popup_option(const Ctl& c, int64_t* popup) {
  if (!c.args.has("--popup")) return 0;
  if (parse_id(c.args.get("--popup"), popup)) return 0;
  fputs(usage_error("--popup must be a popup id").c_str(), stderr);
  return 2;
}

}  // namespace

int cmd_report(Ctl& c) {
  int64_t popup = 0;
  if (int rc = popup_option(c, &popup)) return rc;
  Report r;
  std::string err;
  if (!load_report(c, popup, &r, &err)) return fail(err);
  std::string out = c.args.json ? report_json(r) + "\n"
                    : c.args.has("--csv") ? format_report_csv(r)
                                          : format_report_text(r);
  fputs(out.c_str(), stdout);
  return 0;
}

int cmd_chart(Ctl& c) {
  int64_t id = 0;
  if (!parse_id(c.args.words[0], &id)) return fputs(usage_error(c.args.words[0] + ": not a popup id").c_str(), stderr), 2;
  std::string png = c.args.get("--out", "popup-" + std::to_string(id) + ".png");
  if (png.find('\'') != std::string::npos) return fail("--out must not contain a single quote");
  Report r;
  std::string err;
  if (!load_report(c, id, &r, &err)) return fail(err);
  std::string data = chart_data(r, id);
  if (data.empty()) return fail("popup " + std::to_string(id) + " has no recorded days in this range");
  char dir[] = "/tmp/popupctl-chart.XXXXXX";
  if (!mkdtemp(dir)) return fail("cannot make a temporary folder");
  std::string data_path = std::string(dir) + "/data", script_path = std::string(dir) + "/chart.gp";
  std::ofstream(data_path) << data;
  std::ofstream(script_path) << chart_script(r, id, data_path, png);
  std::string cmd = "gnuplot '" + script_path + "'";
  int rc = system(cmd.c_str());
  unlink(data_path.c_str());
  unlink(script_path.c_str());
  rmdir(dir);
  if (rc != 0) return fail("gnuplot failed (exit " + std::to_string(WEXITSTATUS(rc)) + ")");
  if (c.args.json) printf("{\"chart\":\"%s\"}\n", png.c_str());
  else printf("popupctl: wrote %s\n", png.c_str());
  return 0;
}

}  // namespace popup
