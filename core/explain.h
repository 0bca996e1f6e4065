// `popupctl explain`: for one visit at one time, which popup GET
// /api/popup would answer and, for every other popup, why not. The answer
// and each popup's eligibility come from core/ itself (select_popup,
// is_active, targets, state_allows); the reasons come from asking the same
// functions about the popup with one criterion kept at a time, so they can
// never disagree with what the service does.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/popup.h"

namespace popup {

struct Verdict {
  int64_t id = 0;
  std::string name;
  bool shown = false;     // the popup the visit gets
  bool eligible = false;  // active, targeted and allowed by the user's state
  int bucket = 0;         // the user's rollout bucket for this popup
  std::optional<UserState> state;    // the user's stored state, if any
  std::vector<std::string> reasons;  // why not shown; empty when shown
};

struct Explanation {
  std::optional<int64_t> answer;  // the popup id GET would return
  std::vector<Verdict> popups;    // selection order (priority desc, id asc)
};

// Why the popup is not live at `now` ("disabled", "not started: starts
// T", "ended T"), from is_active; empty when it is live.
std::vector<std::string> live_reasons(const Popup& p, int64_t now);

// Who the popup is for, short: "web,ios v1.2..* de,en" or "everyone".
std::string targeting_summary(const Popup& p);

// Works whatever the order of cfg.popups; `states` is the user's state.
Explanation explain(const ConfigSet& cfg, const Visit& visit, const UserStates& states, int64_t now);

// One line per popup: "ID  NAME  shown" or "ID  NAME  not shown: reason; reason",
// after a first line naming the answer.
std::string format_explanation(const Explanation& e);

// {"answer":ID|null,"popups":[{"id","name","shown","eligible","bucket","state","reasons"}]}
std::string explanation_json(const Explanation& e);

}  // namespace popup
