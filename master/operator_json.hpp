#pragma once
// The operator API's views as pure functions over the master's records and
// the allocator's view (no actor, no I/O): /master/roles, /master/weights,
// /master/quota, the paging parameters every view shares, and the gauges
// a metrics scrape reads.

#include <map>
#include <optional>
#include <string>
#include <tuple>

#include <picojson.h>

#include "master/allocator_actor.hpp"
#include "master/master_state.hpp"

namespace stoa::master {

picojson::value roles_json(const MasterState& st, const allocator::View& view);
picojson::value weights_json(const std::map<std::string, double>& weights);
picojson::value quota_json(const std::map<std::string, Resources>& quotas);

// `limit` and `offset` mean the same on every view: a non-negative integer.
// Error text names the parameter and its value.
std::optional<std::string> check_paging(const std::map<std::string, std::string>& query);

// {status, {"message": text}}
std::tuple<int, std::string> json_error(int status, const std::string& message);

// Gauges derived from the records: slaves/frameworks by state, outstanding
// offers, active tasks by state, resources total/used/percent, uptime.
std::map<std::string, double> master_gauges(const MasterState& st, double now);

}  // namespace stoa::master
