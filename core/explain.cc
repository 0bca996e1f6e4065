#include "core/explain.h"

#include <boost/json.hpp>

#include "core/iso_time.h"
#include "core/rules.h"
#include "core/select.h"
#include "core/targeting.h"
#include "core/version.h"

namespace popup {
namespace {

// The popup with every targeting and schedule criterion removed: targets()
// and is_active() admit every visit and time for it.
Popup neutral(const Popup& p) {
  Popup n = p;
  n.enabled = true;
  n.starts_at.reset();
  n.ends_at.reset();
  n.platforms.clear();
  n.min_version.reset();
  n.max_version.reset();
  n.langs.clear();
  n.rollout_percent = 100;
  return n;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string version_range(const Popup& p) {
  return (p.min_version ? format_version(*p.min_version) : "*") + ".." +
         (p.max_version ? format_version(*p.max_version) : "*");
}

void schedule_reasons(const Popup& p, int64_t now, std::vector<std::string>* out) {
  if (!p.enabled) out->push_back("disabled");
  Popup n = neutral(p);
  n.starts_at = p.starts_at;
  if (!is_active(n, now)) out->push_back("not started: starts " + format_iso_time(*p.starts_at));
  n = neutral(p);
  n.ends_at = p.ends_at;
  if (!is_active(n, now)) out->push_back("ended " + format_iso_time(*p.ends_at));
}

void targeting_reasons(const Popup& p, const Visit& v, int bucket, std::vector<std::string>* out) {
  Popup n = neutral(p);
  n.platforms = p.platforms;
  if (!targets(n, v)) {
    std::vector<std::string> names;
    for (auto pl : p.platforms) names.push_back(to_string(pl));
    out->push_back(std::string("platform ") + to_string(v.platform) + " not in " + join(names));
  }
  n = neutral(p);
  n.min_version = p.min_version;
  n.max_version = p.max_version;
  if (!targets(n, v))
    out->push_back(v.version ? "version " + format_version(*v.version) + " outside " + version_range(p)
                             : "no version given; the popup wants " + version_range(p));
  n = neutral(p);
  n.langs = p.langs;
  if (!targets(n, v))
    out->push_back(v.lang ? "language " + *v.lang + " not in " + join(p.langs)
                          : "no language given; the popup wants " + join(p.langs));
  n = neutral(p);
  n.rollout_percent = p.rollout_percent;
  if (!targets(n, v))
    out->push_back("rollout: bucket " + std::to_string(bucket) + " is not below " +
                   std::to_string(p.rollout_percent) + "%");
}

void state_reasons(const Popup& p, const UserState* st, int64_t now, std::vector<std::string>* out) {
  Popup uncapped = p;
  uncapped.max_impressions.reset();
  if (st && !state_allows(uncapped, st, now))
    out->push_back(st->next_show_at == kNever
                       ? std::string("never again after a ") + to_string(st->last_action)
                       : "cooldown after " + std::string(to_string(st->last_action)) + " until " +
                             format_iso_time(st->next_show_at));
  UserState due = st ? *st : UserState{};
  due.next_show_at = 0;
  if (!state_allows(p, &due, now))
    out->push_back("impressions cap reached: " + std::to_string(due.impressions) + " of " +
                   std::to_string(*p.max_impressions));
}

}  // namespace

std::vector<std::string> live_reasons(const Popup& p, int64_t now) {
  std::vector<std::string> out;
  schedule_reasons(p, now, &out);
  return out;
}

std::string targeting_summary(const Popup& p) {
  std::vector<std::string> parts, names;
  for (auto pl : p.platforms) names.push_back(to_string(pl));
  if (!names.empty()) parts.push_back(join(names));
  if (p.min_version || p.max_version) parts.push_back("v" + version_range(p));
  if (!p.langs.empty()) parts.push_back(join(p.langs));
  if (parts.empty()) return "everyone";
  std::string out;
  for (const auto& s : parts) out += (out.empty() ? "" : " ") + s;
  return out;
}

Explanation explain(const ConfigSet& cfg, const Visit& visit, const UserStates& states, int64_t now) {
  ConfigSet sorted = cfg;
  sort_for_selection(sorted.popups);
  const Popup* answer = select_popup(sorted, visit, states, now);
  Explanation e;
  if (answer) e.answer = answer->id;
  for (const auto& p : sorted.popups) {
    Verdict v;
    v.id = p.id;
    v.name = p.name;
    v.bucket = rollout_bucket(visit.uid, p.id);
    auto it = states.find(p.id);
    const UserState* st = it == states.end() ? nullptr : &it->second;
    if (st) v.state = *st;
    v.eligible = is_active(p, now) && targets(p, visit) && state_allows(p, st, now);
    v.shown = &p == answer;
    schedule_reasons(p, now, &v.reasons);
    targeting_reasons(p, visit, v.bucket, &v.reasons);
    state_reasons(p, st, now, &v.reasons);
    if (v.eligible && !v.shown && answer)
      v.reasons.push_back("eligible, but popup " + std::to_string(answer->id) + " comes first (priority)");
    if (!v.eligible && v.reasons.empty()) v.reasons.push_back("not eligible");
    e.popups.push_back(std::move(v));
  }
  return e;
}

std::string format_explanation(const Explanation& e) {
  std::string out = e.answer ? "answer: popup " + std::to_string(*e.answer) + "\n" : "answer: no popup\n";
  for (const auto& v : e.popups) {
    out += "  " + std::to_string(v.id) + "  " + v.name + "  ";
    if (v.shown) {
      out += "shown\n";
      continue;
    }
    out += "not shown: ";
    for (size_t i = 0; i < v.reasons.size(); ++i) out += (i ? "; " : "") + v.reasons[i];
    out += "\n";
  }
  return out;
}

std::string explanation_json(const Explanation& e) {
  namespace json = boost::json;
  json::array list;
  for (const auto& v : e.popups) {
    json::array reasons;
    for (const auto& r : v.reasons) reasons.emplace_back(r);
    json::value state = nullptr;
    if (v.state)
      state = json::object{{"next_show_at", v.state->next_show_at},
                           {"impressions", v.state->impressions},
                           {"last_action", to_string(v.state->last_action)}};
    list.push_back(json::object{{"id", v.id}, {"name", v.name}, {"shown", v.shown},
                                {"eligible", v.eligible}, {"bucket", v.bucket},
                                {"state", std::move(state)}, {"reasons", std::move(reasons)}});
  }
  json::value answer = e.answer ? json::value(*e.answer) : json::value(nullptr);
  return json::serialize(json::object{{"answer", answer}, {"popups", std::move(list)}});
}

}  // namespace popup
