#include "master/operator_json.hpp"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "common/json.hpp"
#include "common/metric_families.hpp"
#include "common/strings.hpp"
#include "common/task_state.hpp"
#include "master/state_json.hpp"

namespace stoa::master {

picojson::value roles_json(const MasterState& st, const allocator::View& view) {
  std::map<std::string, Resources> offered_by_role;
  for (const auto& [oid, o] : st.offers) {
    offered_by_role[o.offer.allocation_info().role()] += o.resources;
  }
  picojson::array roles;
  for (const allocator::RoleInfo& r : view.roles) {
    picojson::object o;
    o["name"] = picojson::value(r.name);
    o["weight"] = json_number(r.weight);
    picojson::array fws;
    for (const std::string& f : r.frameworks) {
      fws.emplace_back(f);
    }
    o["frameworks"] = picojson::value(fws);
    Resources offered = offered_by_role[r.name];
    o["resources"] = resources_to_json(r.allocated);
    o["allocated"] = resources_to_json(r.allocated - offered.scalars());
    o["offered"] = resources_to_json(offered);
    o["reserved"] = resources_to_json(r.reserved);
    o["share"] = json_number(r.share);
    if (r.quota) {
      picojson::object q;
      q["role"] = picojson::value(r.name);
      q["guarantee"] = resources_to_json(*r.quota);
      q["consumed"] = resources_to_json(r.allocated);
      q["limit"] = picojson::value(picojson::object());  // no quota limits in Stoa (yet)
      o["quota"] = picojson::value(q);
    }
    roles.emplace_back(o);
  }
  picojson::object out;
  out["roles"] = picojson::value(roles);
  return picojson::value(out);
}

picojson::value weights_json(const std::map<std::string, double>& weights) {
  picojson::array a;
  for (const auto& [role, w] : weights) {
    picojson::object o;
    o["role"] = picojson::value(role);
    o["weight"] = json_number(w);
    a.emplace_back(o);
  }
  return picojson::value(a);
}

picojson::value quota_json(const std::map<std::string, Resources>& quotas) {
  picojson::array infos;
  for (const auto& [role, guarantee] : quotas) {
    picojson::object o;
    o["role"] = picojson::value(role);
    o["guarantee"] = resources_to_json(guarantee);
    o["limit"] = picojson::value(picojson::object());  // no quota limits in Stoa (yet)
    infos.emplace_back(o);
  }
  picojson::object out;
  out["infos"] = picojson::value(infos);
  return picojson::value(out);
}

std::optional<std::string> check_paging(const std::map<std::string, std::string>& query) {
  for (const char* key : {"limit", "offset"}) {
    auto it = query.find(key);
    if (it == query.end()) {
      continue;
    }
    const std::string& text = it->second;
    errno = 0;
    char* end = nullptr;
    long long v = text.empty() ? -1 : std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) || end != text.c_str() + text.size() ||
        errno == ERANGE || v < 0) {
      return std::string("Invalid '") + key + "' parameter '" + text.substr(0, 64) +
             "': expected an integer from 0 to " + std::to_string(LLONG_MAX);
    }
  }
  return std::nullopt;
}

std::tuple<int, std::string> json_error(int status, const std::string& message) {
  picojson::object e;
  e["message"] = picojson::value(message);
  return {status, json_serialize(picojson::value(e))};
}

std::map<std::string, double> master_gauges(const MasterState& st, double now) {
  std::map<std::string, double> g;
  // The slave and task figures are the kept totals (master_tally.hpp), not
  // a walk over every task: a scrape stays O(frameworks).
  const MasterTally& tally = st.tally;
  double active = static_cast<double>(tally.slaves_active);
  double inactive = static_cast<double>(st.slaves.size()) - active;
  double fw_active = 0;
  double fw_connected = 0;
  for (const auto& [id, f] : st.frameworks) {
    fw_active += f.active ? 1 : 0;
    fw_connected += f.connected ? 1 : 0;
  }
  std::map<TaskState, double> by_state;
  for (int i = 0; i < TaskState_ARRAYSIZE; ++i) {
    if (tally.tasks_by_state[i] != 0) {
      by_state[static_cast<TaskState>(i)] = static_cast<double>(tally.tasks_by_state[i]);
    }
  }
  Resources total;
  Resources used;
  for (size_t i = 0; i < ScalarTally::NAMES.size(); ++i) {
    total += Resources::scalar_resource(ScalarTally::NAMES[i], fixed_to_scalar(tally.total.units[i]));
    used += Resources::scalar_resource(ScalarTally::NAMES[i], fixed_to_scalar(tally.used.units[i]));
  }
  double frameworks = static_cast<double>(st.frameworks.size());
  g["master/uptime_secs"] = now - st.start_time;
  g["master/slaves_active"] = active;
  g["master/slaves_inactive"] = inactive;
  g["master/slaves_connected"] = active;
  g["master/slaves_disconnected"] = inactive;
  g["master/frameworks_active"] = fw_active;
  g["master/frameworks_inactive"] = frameworks - fw_active;
  g["master/frameworks_connected"] = fw_connected;
  g["master/frameworks_disconnected"] = frameworks - fw_connected;
  g["master/outstanding_offers"] = static_cast<double>(st.offers.size());
  metrics::task_state_gauges("master", by_state, &g);
  metrics::resource_gauges("master", total, used, &g);
  return g;
}

}  // namespace stoa::master
