// The configuration set crosses a process boundary through Redis, so decoding
// trusts nothing: every field must be present with its JSON type, and the
// unsigned MySQL columns (cooldowns, max_impressions, rollout) keep their
// ranges. The first problem found is reported, naming the field.
#include "core/config_json.h"

#include <boost/json.hpp>
#include <cstdint>

#include "core/select.h"
#include "core/version.h"

namespace popup {
namespace {

namespace json = boost::json;

json::value opt(const std::optional<int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value opt(const std::optional<Version>& v) {
  return v ? json::value(format_version(*v)) : json::value(nullptr);
}

struct Reader {
  const json::object& o;
  std::string err;

  bool fail(const char* key, const char* what) {
    if (err.empty()) err = std::string("config: ") + key + " must be " + what;
    return false;
  }
  bool integer(const char* key, int64_t* out, int64_t min = INT64_MIN) {
    auto* v = o.if_contains(key);
    if (!v || !v->is_int64()) return fail(key, "an integer");
    if (v->get_int64() < min) return fail(key, min == 0 ? "non-negative" : "in range");
    *out = v->get_int64();
    return true;
  }
  bool opt_integer(const char* key, std::optional<int64_t>* out, int64_t min = INT64_MIN) {
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return out->reset(), true;
    if (!v->is_int64()) return fail(key, "an integer or null");
    if (v->get_int64() < min) return fail(key, min == 0 ? "non-negative or null" : "in range");
    *out = v->get_int64();
    return true;
  }
  bool string(const char* key, std::string* out) {
    auto* v = o.if_contains(key);
    if (!v || !v->is_string()) return fail(key, "a string");
    *out = std::string(v->get_string());
    return true;
  }
  bool opt_version(const char* key, std::optional<Version>* out) {
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return out->reset(), true;
    if (!v->is_string()) return fail(key, "a version or null");
    auto parsed = parse_version(std::string(v->get_string()));
    if (!parsed) return fail(key, "a version or null");
    *out = *parsed;
    return true;
  }
  bool strings(const char* key, std::vector<std::string>* out) {
    auto* v = o.if_contains(key);
    if (!v || !v->is_array()) return fail(key, "an array of strings");
    for (const auto& s : v->get_array()) {
      if (!s.is_string()) return fail(key, "an array of strings");
      out->emplace_back(s.get_string());
    }
    return true;
  }
};

bool read_popup(const json::object& o, Popup* p, std::string* err) {
  Reader r{o, {}};
  int64_t enabled = 0, rollout = 0;
  std::vector<std::string> platforms;
  bool ok = r.integer("id", &p->id) && r.string("name", &p->name) &&
            r.integer("priority", &p->priority) && r.integer("enabled", &enabled) &&
            r.opt_integer("starts_at", &p->starts_at) && r.opt_integer("ends_at", &p->ends_at) &&
            r.strings("platforms", &platforms) && r.opt_version("min_version", &p->min_version) &&
            r.opt_version("max_version", &p->max_version) && r.strings("langs", &p->langs) &&
            r.integer("rollout_percent", &rollout) &&
            r.opt_integer("max_impressions", &p->max_impressions, 0) &&
            r.integer("show_cooldown_s", &p->show_cooldown_s, 0) &&
            r.integer("ignore_cooldown_s", &p->ignore_cooldown_s, 0) &&
            r.opt_integer("click_cooldown_s", &p->click_cooldown_s, 0) &&
            r.string("title", &p->title) && r.string("body", &p->body) &&
            r.string("image_url", &p->image_url) && r.string("link_url", &p->link_url);
  // button_text came later (sql/migrations/004): a set published before it
  // has none, which means the page's own label.
  if (ok && o.contains("button_text")) ok = r.string("button_text", &p->button_text);
  if (ok && (rollout < 0 || rollout > 100)) ok = r.fail("rollout_percent", "0..100");
  for (const auto& name : platforms) {
    auto pl = parse_platform(name);
    if (!pl) {
      ok = r.fail("platforms", "web, ios or android");
      break;
    }
    p->platforms.push_back(*pl);
  }
  p->enabled = enabled != 0;
  p->rollout_percent = static_cast<int>(rollout);
  if (!ok) *err = r.err;
  return ok;
}

}  // namespace

std::string encode_config(const ConfigSet& cfg) {
  json::array popups;
  for (const auto& p : cfg.popups) {
    json::array platforms, langs;
    for (auto pl : p.platforms) platforms.emplace_back(to_string(pl));
    for (const auto& l : p.langs) langs.emplace_back(l);
    popups.push_back(json::object{
        {"id", p.id}, {"name", p.name}, {"priority", p.priority}, {"enabled", p.enabled ? 1 : 0},
        {"starts_at", opt(p.starts_at)}, {"ends_at", opt(p.ends_at)}, {"platforms", platforms},
        {"min_version", opt(p.min_version)}, {"max_version", opt(p.max_version)},
        {"langs", langs}, {"rollout_percent", p.rollout_percent},
        {"max_impressions", opt(p.max_impressions)}, {"show_cooldown_s", p.show_cooldown_s},
        {"ignore_cooldown_s", p.ignore_cooldown_s}, {"click_cooldown_s", opt(p.click_cooldown_s)},
        {"title", p.title}, {"body", p.body}, {"image_url", p.image_url},
        {"link_url", p.link_url}, {"button_text", p.button_text}});
  }
  return json::serialize(json::object{{"version", cfg.version}, {"popups", popups}});
}

Result<ConfigSet> decode_config(std::string_view text) {
  json::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return Error{"bad_request", "config: not a JSON object"};
  const auto& o = doc.get_object();
  ConfigSet cfg;
  auto* version = o.if_contains("version");
  auto* popups = o.if_contains("popups");
  if (!version || !version->is_int64()) return Error{"bad_request", "config: version must be an integer"};
  if (!popups || !popups->is_array()) return Error{"bad_request", "config: popups must be an array"};
  cfg.version = version->get_int64();
  for (const auto& item : popups->get_array()) {
    if (!item.is_object()) return Error{"bad_request", "config: a popup must be an object"};
    Popup p;
    std::string err;
    if (!read_popup(item.get_object(), &p, &err)) return Error{"bad_request", err};
    cfg.popups.push_back(std::move(p));
  }
  sort_for_selection(cfg.popups);
  return cfg;
}

}  // namespace popup
