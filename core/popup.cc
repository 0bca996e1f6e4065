#include "core/popup.h"

namespace popup {

const char* to_string(Platform p) {
  switch (p) {
    case Platform::ios: return "ios";
    case Platform::android: return "android";
    default: return "web";
  }
}

const char* to_string(LastAction a) {
  switch (a) {
    case LastAction::ignore: return "ignore";
    case LastAction::click: return "click";
    default: return "show";
  }
}

const char* to_string(Action a) { return a == Action::click ? "click" : "ignore"; }

std::optional<Platform> parse_platform(std::string_view s) {
  if (s == "web") return Platform::web;
  if (s == "ios") return Platform::ios;
  if (s == "android") return Platform::android;
  return std::nullopt;
}

std::optional<LastAction> parse_last_action(std::string_view s) {
  if (s == "show") return LastAction::show;
  if (s == "ignore") return LastAction::ignore;
  if (s == "click") return LastAction::click;
  return std::nullopt;
}

std::optional<Action> parse_action(std::string_view s) {
  if (s == "click") return Action::click;
  if (s == "ignore") return Action::ignore;
  return std::nullopt;
}

}  // namespace popup
