// apply and export: popups as files (core/popup_file.h). apply validates
// every file before it looks at MySQL, shows the difference, and writes
// every change and its audit row in one transaction, so a run either
// changes all it showed or nothing.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "core/popup_diff.h"
#include "core/popup_file.h"
#include "ctl/ctl.h"

namespace popup {
namespace {

bool read_source(const std::string& name, SourceFile* out) {
  std::stringstream text;
  if (name == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(name);
    if (!in) return false;
    text << in.rdbuf();
  }
  *out = SourceFile{name, text.str()};
  return true;
}

const Popup* find(const std::vector<Popup>& list, int64_t id) {
  for (const auto& p : list)
    if (p.id == id) return &p;
  return nullptr;
}

}  // namespace

int cmd_apply(Ctl& c) {
  std::vector<SourceFile> files;
  for (const auto& name : c.args.words) {
    SourceFile f;
    if (!read_source(name, &f)) return fail(name + ": cannot read");
    files.push_back(std::move(f));
  }
  ParsedPopups parsed = parse_popup_files(files);
  if (!parsed.errors.empty()) {
    for (const auto& e : parsed.errors) fprintf(stderr, "popupctl: error: %s\n", e.c_str());
    return fail(std::to_string(parsed.errors.size()) + " error(s); nothing was written");
  }
  std::vector<Popup> current;
  std::string err;
  if (!load_popups(c, &current, &err)) return fail(err);
  auto changes = diff_popups(current, parsed.popups);
  fputs(c.args.json ? (diff_json(changes) + "\n").c_str() : format_diff(changes).c_str(), stdout);
  if (c.args.has("--dry-run")) return 0;
  std::vector<Mysql::Statement> stmts;
  for (const auto& ch : changes) {
    if (ch.kind == PopupChange::unchanged) continue;
    const Popup* want = find(parsed.popups, ch.id);
    const Popup* had = find(current, ch.id);
    stmts.push_back(upsert_sql(*want));
    stmts.push_back(audit_sql(c, "apply", ch.id, had ? popup_json(*had) : "", popup_json(*want)));
  }
  if (stmts.empty()) {
    if (!c.args.json) printf("popupctl: nothing to change\n");
    return 0;
  }
  return commit_and_publish(c, stmts, true, c.args.json);
}

int cmd_export(Ctl& c) {
  std::vector<Popup> popups;
  std::string err;
  if (!load_popups(c, &popups, &err)) return fail(err);
  std::string text = encode_popup_file(popups);
  std::string out = c.args.get("--out");
  if (out.empty() || out == "-") return fputs(text.c_str(), stdout), 0;
  std::ofstream f(out);
  if (!(f << text) || !f.flush()) return fail(out + ": cannot write");
  if (!c.args.json) fprintf(stderr, "popupctl: wrote %zu popups to %s\n", popups.size(), out.c_str());
  return 0;
}

}  // namespace popup
