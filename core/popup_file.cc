// The checks mirror what the popups table can hold (unsigned ids and
// cooldowns, VARCHAR lengths in characters, TINYINT rollout) and what
// core/ can select with (parsable versions, known platforms), so a file
// that passes here cannot be rejected by MySQL or skipped by a worker.
#include "core/popup_file.h"
#include "core/text.h"

#include <boost/json.hpp>
#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "core/iso_time.h"
#include "core/version.h"

namespace popup {
namespace {

namespace json = boost::json;

constexpr int64_t kUintMax = 4294967295;
constexpr int64_t kIntMin = -2147483648LL, kIntMax = 2147483647;

const char* const kFields[] = {
    "id", "name", "priority", "enabled", "starts_at", "ends_at", "platforms", "min_version",
    "max_version", "langs", "rollout_percent", "max_impressions", "show_cooldown_s",
    "ignore_cooldown_s", "click_cooldown_s", "title", "body", "image_url", "link_url",
    "button_text"};

// ISO 639-1, the two-letter language codes.
const char* const kLanguages[] = {
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh",
    "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da",
    "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr",
    "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz",
    "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj",
    "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln",
    "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb",
    "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi",
    "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk",
    "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti",
    "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo",
    "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu"};

bool all_of(std::string_view s, int (*pred)(int)) {
  return std::all_of(s.begin(), s.end(), [&](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}

size_t utf8_chars(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// 1-based line and column of byte `offset` in `text` (columns in bytes).
std::string line_column(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1, start = 0;
  for (size_t i = 0; i < offset; ++i)
    if (text[i] == '\n') ++line, start = i + 1;
  return "line " + std::to_string(line) + ", column " + std::to_string(offset - start + 1);
}

// Parses JSON; on an error, *problem names it with its line and column.
std::optional<json::value> parse_json(std::string_view text, std::string* problem) {
  json::stream_parser p;
  json::error_code ec;
  size_t used = p.write_some(text.data(), text.size(), ec);
  if (!ec && used < text.size()) ec = json::error::extra_data;
  if (!ec) p.finish(ec);
  if (ec) {
    *problem = "not valid JSON at " + line_column(text, used) + ": " + ec.message();
    return std::nullopt;
  }
  return p.release();
}

// Reads one popup object, collecting every problem with its field name.
struct Reader {
  const json::object& o;
  std::vector<std::pair<std::string, std::string>> problems;
  PopupChecks checks = PopupChecks::all;

  void bad(const char* field, std::string what) { problems.emplace_back(field, std::move(what)); }
  const json::value* get(const char* f) {
    auto* v = o.if_contains(f);
    return v && !v->is_null() ? v : nullptr;
  }
  bool null_or_absent(const char* f) { return get(f) == nullptr; }

  void integer(const char* f, int64_t* out, int64_t lo, int64_t hi, bool required = false) {
    auto* v = get(f);
    if (!v) {
      if (required) bad(f, "is required");
      return;
    }
    if (!v->is_int64() || v->get_int64() < lo || v->get_int64() > hi)
      return bad(f, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    *out = v->get_int64();
  }
  void opt_integer(const char* f, std::optional<int64_t>* out, int64_t lo, int64_t hi) {
    if (null_or_absent(f)) return out->reset();
    int64_t v = lo - 1;
    integer(f, &v, lo, hi);
    if (v >= lo) *out = v;
  }
  // max_chars counts characters (VARCHAR); max_bytes, when set, bytes (TEXT).
  void text(const char* f, std::string* out, size_t max_chars, bool required = false,
            size_t max_bytes = 0) {
    auto* v = get(f);
    if (!v) {
      if (required) bad(f, "is required");
      return;
    }
    if (!v->is_string()) return bad(f, "must be a string");
    std::string s(v->get_string());
    if (max_bytes && s.size() > max_bytes)
      return bad(f, "must be at most " + std::to_string(max_bytes) + " bytes");
    if (utf8_chars(s) > max_chars) return bad(f, "must be at most " + std::to_string(max_chars) + " characters");
    if (required && s.empty()) return bad(f, "must not be empty");
    *out = std::move(s);
  }
  void time(const char* f, std::optional<int64_t>* out) {
    auto* v = get(f);
    if (!v) return out->reset();
    auto t = v->is_string() ? parse_iso_time(v->get_string()) : std::nullopt;
    if (!t) return bad(f, "must be an ISO-8601 time with a zone (2026-12-01T09:00:00+01:00) or null");
    *out = t;
  }
  void version(const char* f, std::optional<Version>* out) {
    auto* v = get(f);
    if (!v) return out->reset();
    auto ver = v->is_string() ? parse_version(v->get_string()) : std::nullopt;
    if (!ver) return bad(f, "must be a dotted version of 1 to 4 numbers (\"2.1\") or null");
    *out = ver;
  }
  bool strings(const char* f, std::vector<std::string>* out) {
    auto* v = get(f);
    if (!v) return true;
    bool ok = v->is_array();
    for (size_t i = 0; ok && i < v->get_array().size(); ++i) {
      ok = v->get_array()[i].is_string();
      if (ok) out->emplace_back(v->get_array()[i].get_string());
    }
    if (!ok) bad(f, "must be a list of strings");
    return ok;
  }
  void platforms(std::vector<Platform>* out) {
    std::vector<std::string> names;
    if (!strings("platforms", &names)) return;
    for (const auto& n : names) {
      auto p = parse_platform(n);
      if (!p) return bad("platforms", "unknown platform \"" + n + "\" (web, ios, android)");
      if (std::find(out->begin(), out->end(), *p) != out->end())
        return bad("platforms", n + " is listed twice");
      out->push_back(*p);
    }
  }
  void langs(std::vector<std::string>* out) {
    std::vector<std::string> tags;
    if (!strings("langs", &tags)) return;
    size_t total = 0;
    for (const auto& t : tags) {
      std::string l = lower(t);
      bool ok = checks == PopupChecks::all ? known_language_tag(l)
                                           : !l.empty() && l.size() <= 35 && l.find(',') == std::string::npos;
      if (!ok)
        return bad("langs", "\"" + t + "\" is not a language code: ISO 639-1 (\"en\", \"de\"),"
                            " optionally with a region or script (\"pt-br\", \"zh-hant\")");
      if (std::find(out->begin(), out->end(), l) != out->end())
        return bad("langs", t + " is listed twice");
      total += l.size() + 1;
      out->push_back(l);
    }
    if (total > 256) bad("langs", "the list must fit in 255 characters");
  }
};

void check_unknown(Reader& r) {
  for (const auto& kv : r.o) {
    if (std::find_if(std::begin(kFields), std::end(kFields),
                     [&](const char* f) { return kv.key() == f; }) == std::end(kFields))
      r.problems.emplace_back(std::string(kv.key()), "is not a popup field");
  }
}

void check_ranges(Reader& r, const Popup& p) {
  if (p.starts_at && p.ends_at && *p.starts_at >= *p.ends_at)
    r.bad("ends_at", "must be after starts_at");
  if (p.min_version && p.max_version && *p.min_version > *p.max_version)
    r.bad("max_version", "must not be below min_version");
}

bool blank(std::string_view s) { return trim(s).empty(); }

// The rules beyond types and ranges (PopupChecks::all), for fields that
// were read without a problem.
void check_content(Reader& r, const Popup& p) {
  auto fine = [&](const char* f) {
    return std::none_of(r.problems.begin(), r.problems.end(), [&](const auto& pr) { return pr.first == f; });
  };
  if (fine("title") && blank(p.title)) r.bad("title", "must not be empty");
  if (fine("body") && blank(p.body)) r.bad("body", "must not be empty");
  for (const char* f : {"image_url", "link_url"}) {
    std::string why = url_problem(f[0] == 'i' ? p.image_url : p.link_url);
    if (fine(f) && !why.empty()) r.bad(f, why);
  }
  std::string why = button_text_problem(p.button_text);
  if (fine("button_text") && !why.empty()) r.bad("button_text", why);
}

Popup read_popup(Reader& r) {
  Popup p;
  p.click_cooldown_s.reset();
  check_unknown(r);
  r.integer("id", &p.id, 1, kUintMax, true);
  r.text("name", &p.name, 200, true);
  r.integer("priority", &p.priority, kIntMin, kIntMax);
  if (auto* v = r.get("enabled")) {
    if (v->is_bool()) p.enabled = v->get_bool();
    else r.bad("enabled", "must be true or false");
  }
  r.time("starts_at", &p.starts_at);
  r.time("ends_at", &p.ends_at);
  r.platforms(&p.platforms);
  r.version("min_version", &p.min_version);
  r.version("max_version", &p.max_version);
  r.langs(&p.langs);
  int64_t rollout = 100;
  r.integer("rollout_percent", &rollout, 0, 100);
  p.rollout_percent = static_cast<int>(rollout);
  r.opt_integer("max_impressions", &p.max_impressions, 0, kUintMax);
  r.integer("show_cooldown_s", &p.show_cooldown_s, 0, kUintMax);
  r.integer("ignore_cooldown_s", &p.ignore_cooldown_s, 0, kUintMax);
  r.opt_integer("click_cooldown_s", &p.click_cooldown_s, 0, kUintMax);
  r.text("title", &p.title, 500);
  r.text("body", &p.body, 65535, false, 65535);
  r.text("image_url", &p.image_url, 1000);
  r.text("link_url", &p.link_url, 1000);
  r.text("button_text", &p.button_text, 64);
  check_ranges(r, p);
  if (r.checks == PopupChecks::all) check_content(r, p);
  return p;
}

std::string where(const std::string& file, size_t index, const json::object& o) {
  std::string id = "?";
  if (auto* v = o.if_contains("id"); v && v->is_int64()) id = std::to_string(v->get_int64());
  return file + ": popup " + id + " (#" + std::to_string(index + 1) + ")";
}

// Every popup of one file into *out, every problem into *errors.
void parse_file(const SourceFile& f, PopupChecks checks, ParsedPopups* out) {
  std::string problem;
  auto parsed = parse_json(f.text, &problem);
  if (!parsed) return out->errors.push_back(f.name + ": " + problem);
  const json::value& doc = *parsed;
  auto* popups = doc.is_object() ? doc.get_object().if_contains("popups") : nullptr;
  if (!popups || !popups->is_array())
    return out->errors.push_back(f.name + ": must be an object {\"popups\": [...]}");
  for (const auto& kv : doc.get_object())
    if (kv.key() != "popups") out->errors.push_back(f.name + ": " + std::string(kv.key()) + ": is not a file field");
  const auto& list = popups->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) {
      out->errors.push_back(f.name + ": popup #" + std::to_string(i + 1) + ": must be an object");
      continue;
    }
    Reader r{list[i].get_object(), {}, checks};
    Popup p = read_popup(r);
    for (const auto& [field, what] : r.problems)
      out->errors.push_back(where(f.name, i, r.o) + ": " + field + ": " + what);
    if (r.problems.empty()) out->popups.push_back(std::move(p));
  }
}

json::value opt_int(const std::optional<int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }
json::value opt_time(const std::optional<int64_t>& v) {
  return v ? json::value(format_iso_time(*v)) : json::value(nullptr);
}
json::value opt_version(const std::optional<Version>& v) {
  return v ? json::value(format_version(*v)) : json::value(nullptr);
}

std::vector<std::pair<std::string, json::value>> field_values(const Popup& p) {
  json::array platforms, langs;
  for (auto pl : p.platforms) platforms.emplace_back(to_string(pl));
  for (const auto& l : p.langs) langs.emplace_back(l);
  return {{"id", p.id},
          {"name", json::value(p.name)},
          {"priority", p.priority},
          {"enabled", p.enabled},
          {"starts_at", opt_time(p.starts_at)},
          {"ends_at", opt_time(p.ends_at)},
          {"platforms", platforms},
          {"min_version", opt_version(p.min_version)},
          {"max_version", opt_version(p.max_version)},
          {"langs", langs},
          {"rollout_percent", p.rollout_percent},
          {"max_impressions", opt_int(p.max_impressions)},
          {"show_cooldown_s", p.show_cooldown_s},
          {"ignore_cooldown_s", p.ignore_cooldown_s},
          {"click_cooldown_s", opt_int(p.click_cooldown_s)},
          {"title", json::value(p.title)},
          {"body", json::value(p.body)},
          {"image_url", json::value(p.image_url)},
          {"link_url", json::value(p.link_url)},
          {"button_text", json::value(p.button_text)}};
}

}  // namespace

ParsedPopups parse_popup_files(const std::vector<SourceFile>& files, PopupChecks checks) {
  ParsedPopups out;
  for (const auto& f : files) parse_file(f, checks, &out);
  std::set<int64_t> seen;
  for (const auto& p : out.popups)
    if (!seen.insert(p.id).second)
      out.errors.push_back("popup " + std::to_string(p.id) + ": id: given more than once");
  return out;
}

std::string encode_popup_file(const std::vector<Popup>& popups) {
  std::string out = "{\n  \"popups\": [";
  for (size_t i = 0; i < popups.size(); ++i) {
    out += i ? ",\n    {" : "\n    {";
    auto fields = field_values(popups[i]);
    for (size_t k = 0; k < fields.size(); ++k)
      out += (k ? ",\n      \"" : "\n      \"") + fields[k].first + "\": " + json::serialize(fields[k].second);
    out += "\n    }";
  }
  return out + (popups.empty() ? "]\n}\n" : "\n  ]\n}\n");
}

std::vector<std::string> popup_problems(const Popup& p) {
  json::object o;
  for (auto& [k, v] : field_values(p)) o[k] = std::move(v);
  Reader r{o, {}, PopupChecks::all};
  read_popup(r);
  std::vector<std::string> out;
  for (const auto& [field, what] : r.problems) out.push_back(field + ": " + what);
  return out;
}

bool known_language_tag(std::string_view tag) {
  // language ["-" script] ["-" region]: script 4 letters, region 2 letters or 3 digits.
  size_t dash = tag.find('-');
  std::string_view lang = tag.substr(0, dash);
  if (std::find_if(std::begin(kLanguages), std::end(kLanguages),
                   [&](const char* l) { return lang == l; }) == std::end(kLanguages))
    return false;
  std::string_view rest = dash == std::string_view::npos ? "" : tag.substr(dash + 1);
  if (dash != std::string_view::npos && rest.empty()) return false;
  auto next = [&]() {
    size_t d = rest.find('-');
    std::string_view part = rest.substr(0, d);
    rest = d == std::string_view::npos ? "" : rest.substr(d + 1);
    return part;
  };
  std::string_view part = rest.empty() ? "" : next();
  if (part.size() == 4 && all_of(part, islower)) part = rest.empty() ? "" : next();
  if (!part.empty() && !((part.size() == 2 && all_of(part, islower)) ||
                         (part.size() == 3 && all_of(part, isdigit))))
    return false;
  return rest.empty();
}

std::string url_problem(std::string_view url) {
  if (url.empty()) return "";
  if (static_cast<unsigned char>(url.front()) <= ' ' || static_cast<unsigned char>(url.back()) <= ' ')
    return "must not begin or end with a space or control character";
  if (url.find_first_of("\t\r\n") != std::string_view::npos) return "must not contain tabs or line breaks";
  // A scheme is letters, digits, + - . before the first ':' that comes
  // before any / ? #; without one the URL is relative to the page.
  size_t colon = url.find(':');
  size_t path = url.find_first_of("/?#");
  if (colon != std::string_view::npos && (path == std::string_view::npos || colon < path)) {
    std::string scheme = lower(url.substr(0, colon));
    if (scheme != "http" && scheme != "https")
      return "must be an http(s) URL or a relative one, not a " + std::string(url.substr(0, colon)) +
             ": URL";
    std::string_view rest = url.substr(colon + 1);
    if (rest.substr(0, 2) != "//" || rest.size() == 2 || rest[2] == '/' || rest[2] == '?' || rest[2] == '#')
      return "must name a host (https://example.com/...)";
  }
  return "";
}

std::string button_text_problem(std::string_view text) {
  if (text.empty()) return "";
  if (utf8_chars(text) > kButtonTextMax)
    return "must be at most " + std::to_string(kButtonTextMax) + " characters";
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return "must be plain text on one line (no control characters)";
  if (text.find_first_of("<>") != std::string_view::npos)
    return "must be plain text (no < or >: it is shown as text, never as HTML)";
  if (blank(text)) return "must not be only spaces (leave it out for the page's own label)";
  if (trim(text).size() != text.size()) return "must not begin or end with a space";
  return "";
}

std::string popup_json(const Popup& p) {
  json::object o;
  for (auto& [k, v] : field_values(p)) o[k] = std::move(v);
  return json::serialize(o);
}

std::vector<std::pair<std::string, std::string>> popup_fields(const Popup& p) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : field_values(p)) out.emplace_back(k, json::serialize(v));
  return out;
}

}  // namespace popup
