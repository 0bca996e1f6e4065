#include "core/popup_diff.h"

#include <boost/json.hpp>
#include <algorithm>
#include <map>

#include "core/popup_file.h"

namespace popup {

std::vector<PopupChange> diff_popups(const std::vector<Popup>& current,
                                     const std::vector<Popup>& desired) {
  std::map<int64_t, const Popup*> have;
  for (const auto& p : current) have[p.id] = &p;
  std::vector<PopupChange> out;
  for (const auto& want : desired) {
    PopupChange c;
    c.id = want.id;
    c.name = want.name;
    auto after = popup_fields(want);
    auto it = have.find(want.id);
    if (it == have.end()) {
      c.kind = PopupChange::create;
      for (const auto& [f, v] : after) c.fields.push_back({f, "", v});
    } else {
      auto before = popup_fields(*it->second);
      for (size_t i = 0; i < after.size(); ++i)
        if (before[i].second != after[i].second)
          c.fields.push_back({after[i].first, before[i].second, after[i].second});
      c.kind = c.fields.empty() ? PopupChange::unchanged : PopupChange::update;
    }
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

namespace {
int count(const std::vector<PopupChange>& changes, PopupChange::Kind k) {
  return static_cast<int>(std::count_if(changes.begin(), changes.end(),
                                        [k](const PopupChange& c) { return c.kind == k; }));
}
const char* kind_name(PopupChange::Kind k) {
  return k == PopupChange::create ? "create" : k == PopupChange::update ? "update" : "unchanged";
}
}  // namespace

std::string format_diff(const std::vector<PopupChange>& changes) {
  std::string out;
  for (const auto& c : changes) {
    const char* mark = c.kind == PopupChange::create ? "+" : c.kind == PopupChange::update ? "~" : "=";
    out += std::string(mark) + " " + std::to_string(c.id) + " " + c.name + "\n";
    for (const auto& f : c.fields)
      out += c.kind == PopupChange::create ? "    " + f.field + ": " + f.after + "\n"
                                           : "    " + f.field + ": " + f.before + " -> " + f.after + "\n";
  }
  return out + std::to_string(count(changes, PopupChange::create)) + " to create, " +
         std::to_string(count(changes, PopupChange::update)) + " to update, " +
         std::to_string(count(changes, PopupChange::unchanged)) + " unchanged\n";
}

std::string diff_json(const std::vector<PopupChange>& changes) {
  namespace json = boost::json;
  json::array list;
  for (const auto& c : changes) {
    json::array fields;
    for (const auto& f : c.fields) {
      json::object o{{"field", f.field}, {"after", json::parse(f.after)}};
      if (c.kind == PopupChange::update) o["before"] = json::parse(f.before);
      fields.push_back(std::move(o));
    }
    list.push_back(json::object{{"id", c.id}, {"name", c.name}, {"kind", kind_name(c.kind)},
                                {"fields", std::move(fields)}});
  }
  return json::serialize(json::object{{"create", count(changes, PopupChange::create)},
                                      {"update", count(changes, PopupChange::update)},
                                      {"unchanged", count(changes, PopupChange::unchanged)},
                                      {"changes", std::move(list)}});
}

}  // namespace popup
