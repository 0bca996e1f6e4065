// history: the audit trail, oldest first, with the fields each change
// touched (core/popup_diff.h over the stored before and after).
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>

#include "core/iso_time.h"
#include "core/popup_diff.h"
#include "core/popup_file.h"
#include "ctl/ctl.h"

namespace popup {
namespace {

std::optional<Popup> to_popup(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  // Entries written before today's content rules still read back.
  auto parsed = parse_popup_files({{"audit", "{\"popups\":[" + *text + "]}"}}, PopupChecks::stored);
  if (!parsed.errors.empty() || parsed.popups.empty()) return std::nullopt;
  return parsed.popups[0];
}

std::string what_changed(const Mysql::Row& r) {
  auto before = to_popup(r[6]), after = to_popup(r[7]);
  if (before && after) {
    std::string out;
    for (const auto& ch : diff_popups({*before}, {*after}))
      for (const auto& f : ch.fields) out += "    " + f.field + ": " + f.before + " -> " + f.after + "\n";
    return out;
  }
  if (after) return "    created: " + *r[7] + "\n";
  if (before) return "    deleted: " + *r[6] + "\n";
  return r[7] ? "    " + *r[7] + "\n" : "";
}

boost::json::value json_or_null(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  boost::json::error_code ec;
  auto v = boost::json::parse(*text, ec);
  return ec ? boost::json::value(*text) : v;
}

}  // namespace

int cmd_history(Ctl& c) {
  Mysql::Statement q("SELECT id, at, os_user, os_user_from, command, popup_id, before_json, after_json"
                     " FROM popup_audit ORDER BY id");
  if (!c.args.words.empty()) {
    int64_t id = 0;
    if (!parse_id(c.args.words[0], &id))
      return fputs(usage_error(c.args.words[0] + ": not a popup id").c_str(), stderr), 2;
    q = {"SELECT id, at, os_user, os_user_from, command, popup_id, before_json, after_json"
         " FROM popup_audit WHERE popup_id = ? ORDER BY id",
         {id}};
  }
  std::vector<Mysql::Row> rows;
  std::string err;
  if (!c.mysql->query_rows(q, &rows, &err))
    return fail(err);
  boost::json::array out;
  for (const auto& r : rows) {
    int64_t at = std::atoll(r[1]->c_str());
    if (c.args.json) {
      out.push_back(boost::json::object{
          {"id", std::atoll(r[0]->c_str())}, {"at", format_iso_time(at)}, {"os_user", *r[2]},
          {"os_user_from", *r[3]}, {"command", *r[4]},
          {"popup_id", r[5] ? boost::json::value(std::atoll(r[5]->c_str())) : nullptr},
          {"before", json_or_null(r[6])}, {"after", json_or_null(r[7])}});
      continue;
    }
    std::string from = r[3]->empty() ? "" : " (" + *r[3] + ")";
    printf("#%s %s %s%s %s%s\n%s", r[0]->c_str(), format_iso_time(at).c_str(), r[2]->c_str(),
           from.c_str(), r[4]->c_str(), r[5] ? (" popup " + *r[5]).c_str() : "", what_changed(r).c_str());
  }
  if (c.args.json) printf("%s\n", boost::json::serialize(out).c_str());
  return 0;
}

}  // namespace popup
