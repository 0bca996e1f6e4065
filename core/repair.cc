#include "core/repair.h"

#include <map>
#include <utility>

namespace popup {

std::vector<StateWrite> latest_writes(const std::vector<StateWrite>& writes) {
  std::map<std::pair<std::string, int64_t>, size_t> last;
  for (size_t i = 0; i < writes.size(); ++i) last[{writes[i].uid, writes[i].popup_id}] = i;
  std::vector<StateWrite> out;
  out.reserve(last.size());
  for (size_t i = 0; i < writes.size(); ++i)
    if (last[{writes[i].uid, writes[i].popup_id}] == i) out.push_back(writes[i]);
  return out;
}

}  // namespace popup
