// The configuration model and per-user state: plain values shared by every
// layer. No IO here; see SPEC.md "Popup configuration" and "Per-user state".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace popup {

enum class Platform { web, ios, android };

// A dotted numeric app version with 1 to 4 parts; missing parts are 0.
struct Version {
  std::array<uint32_t, 4> parts{};
  friend auto operator<=>(const Version&, const Version&) = default;
};

struct Popup {
  int64_t id = 0;
  std::string name;
  int64_t priority = 0;
  bool enabled = true;
  std::optional<int64_t> starts_at;  // unix seconds, inclusive
  std::optional<int64_t> ends_at;    // unix seconds, exclusive
  std::vector<Platform> platforms;   // empty = all
  std::optional<Version> min_version;  // inclusive
  std::optional<Version> max_version;  // inclusive
  std::vector<std::string> langs;      // lower-case; empty = all
  int rollout_percent = 100;           // 0..100
  std::optional<int64_t> max_impressions;  // per user; nullopt = unlimited
  int64_t show_cooldown_s = 0;
  int64_t ignore_cooldown_s = 0;
  std::optional<int64_t> click_cooldown_s;  // nullopt = never again
  std::string title, body, image_url, link_url;
  // The label of the popup's link button; "" = the page's own label
  // (web/popup.js linkText). Plain text (core/popup_file.h).
  std::string button_text;
};

// The configuration set as published: every popup in MySQL, enabled or not
// (an action on a popup disabled a moment ago is still recorded, with that
// popup's cooldowns; selection skips disabled ones), ordered by priority
// descending then id ascending (the order selection walks).
struct ConfigSet {
  int64_t version = 0;
  std::vector<Popup> popups;
};

enum class LastAction { show, ignore, click };

// next_show_at value meaning "never again".
inline constexpr int64_t kNever = -1;

struct UserState {
  int64_t next_show_at = 0;  // unix seconds, or kNever
  int64_t impressions = 0;
  LastAction last_action = LastAction::show;
  int64_t updated_at = 0;
  // The order stamp (wall-clock microseconds, fcgi/stamper.h) of the event
  // that produced this state: its version. Every store keeps, per (uid,
  // popup), the state with the larger order, so a late write of an older
  // decision never takes the user back. 0: unknown (a state stored before
  // orders were kept, or one that no event produced yet).
  int64_t order = 0;
  friend bool operator==(const UserState&, const UserState&) = default;
};

// One user's state for every popup he has state for, keyed by popup id.
using UserStates = std::unordered_map<int64_t, UserState>;

// What a GET /api/popup asks for, validated.
struct Visit {
  std::string uid;
  Platform platform = Platform::web;
  std::optional<Version> version;
  std::optional<std::string> lang;  // lower-case
};

enum class Action { click, ignore };

// What a POST /api/popup/action asks for, validated.
struct ActionRequest {
  std::string uid;
  int64_t popup_id = 0;
  Action action = Action::click;
  std::string key;  // idempotency key; "" = none
};

// A failure of expected input: `code` is the SPEC error code
// (bad_request, not_found, ...), `message` a human sentence.
struct Error {
  std::string code;
  std::string message;
};

// A value or an Error; core/ reports bad input through this, never by throwing.
template <class T>
class Result {
 public:
  Result(T v) : value_(std::move(v)) {}
  Result(Error e) : error_(std::move(e)) {}
  bool ok() const { return value_.has_value(); }
  const T& value() const { return *value_; }
  T& value() { return *value_; }
  const Error& error() const { return error_; }

 private:
  std::optional<T> value_;
  Error error_;
};

const char* to_string(Platform p);
const char* to_string(LastAction a);
const char* to_string(Action a);
std::optional<Platform> parse_platform(std::string_view s);
std::optional<LastAction> parse_last_action(std::string_view s);
std::optional<Action> parse_action(std::string_view s);

}  // namespace popup
