// The comma-separated lists of the settings (mysql_hosts, admin_networks,
// redis_sentinels): one splitter, so each parser only parses its items.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/popup.h"
#include "core/text.h"

namespace popup {

// "a, b ,c" as its items, in order, without the white space around them
// (views into `list`). A list of nothing but white space has no items. An
// empty item ("a,,b", "a,", ",a") is an error naming its position: an item
// left out is a typo the operator should hear about, not skip.
inline Result<std::vector<std::string_view>> split_comma_list(std::string_view list) {
  std::vector<std::string_view> items;
  if (trim(list).empty()) return items;
  for (;;) {
    size_t comma = list.find(',');
    items.push_back(trim(list.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].empty())
      return Error{"bad_request", "item " + std::to_string(i + 1) + " of " +
                                      std::to_string(items.size()) +
                                      " is empty (two commas in a row, or one at an end)"};
  return items;
}

}  // namespace popup
