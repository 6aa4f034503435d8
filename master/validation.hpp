#pragma once
// Validation of what frameworks send (Mesos master/validation.cpp). Each
// function returns the reason for rejecting, naming the offending value, or
// nothing when the input is valid. Pure functions, unit-tested.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/resources.hpp"
#include "common/try.hpp"
#include "master/master_state.hpp"

namespace stoa::master {

// Name, user, roles (and the --roles whitelist when given: comma-separated).
// The roles a framework subscribes to: `roles`, else its `role`, else "*".
std::vector<std::string> framework_roles(const FrameworkInfo& info);

std::optional<std::string> validate_framework_info(const FrameworkInfo& info,
                                                   const std::optional<std::string>& whitelist);

// The offers of one ACCEPT: non-empty, known, this framework's, one slave,
// no duplicates.
std::optional<std::string> validate_offers(const MasterState& st, const std::string& framework_id,
                                           const std::vector<std::string>& offer_ids);

// One task of a LAUNCH against what is still available of the offers.
// `seen` holds the ids launched earlier in the same ACCEPT. On success
// `*resources` holds the task's resources.
std::optional<std::string> validate_task(const TaskInfo& task, const FrameworkRecord& framework,
                                         const std::string& slave_id, const Resources& available,
                                         const std::set<std::string>& seen, Resources* resources);

// A task's ContainerInfo (Mesos' rules): MESOS without docker; DOCKER with
// an image; USER networks named; no hostname with HOST; port mappings only
// with BRIDGE/USER, ports in 1..65535, host ports among the task's `ports`,
// protocol tcp or udp; volumes with a container and a host path; parameter
// keys without dashes. The error names the field and its value.
std::optional<std::string> validate_container(const ContainerInfo& info, const Resources& task_resources);

// A task's health check (Mesos' checks validation): a known type with its
// section (command, http or tcp), ports 1..65535, scheme "http" ("https"
// is not supported), a path starting with '/', statuses 100..599,
// durations finite and from 0 to MAX_HEALTH_CHECK_SECONDS (interval and
// timeout above 0), consecutive_failures at least 1. The reason names the
// field ("health_check.http.port") and its value. validate_task() calls it.
inline constexpr double MAX_HEALTH_CHECK_SECONDS = 365.0 * 24 * 3600;
std::optional<std::string> validate_health_check(const HealthCheck& check);

// "role1=2,role2=1.5" -> weights. Errors name the bad entry (negative, NaN,
// zero, missing '=', empty role).
Try<std::map<std::string, double>> parse_weights(const std::string& text);

// A role's weight divides its dominant share, so it is bounded on both sides:
// a denormal weight (5e-324) made shares infinite and a huge one made every
// share 0. Mesos only requires > 0; every weight operators use is in range.
inline constexpr double MIN_ROLE_WEIGHT = 1e-6;
inline constexpr double MAX_ROLE_WEIGHT = 1e6;
// std::nullopt when `weight` is finite and within [MIN_ROLE_WEIGHT, MAX_ROLE_WEIGHT].
std::optional<std::string> validate_weight(double weight);

// The body of PUT /master/weights: [{"role": "web", "weight": 2.0}, ...].
// Errors name the offending entry or field: invalid JSON, not an array, an
// empty array, a missing or mistyped field, an invalid role, a weight out of
// range, a role given twice.
Try<std::map<std::string, double>> parse_weights_body(std::string_view body);

// The body of POST /master/quota: {"role": "web", "guarantee": G} where G is
// Mesos' Resource JSON array, a {"cpus": 2} object or the text "cpus:2;mem:1024".
struct QuotaRequest {
  std::string role;
  Resources guarantee;
};
Try<QuotaRequest> parse_quota_body(std::string_view body);

// Role names as Mesos allows them: not empty, not "." or "..", no leading
// '-', no whitespace, '/' or control characters ("*" is the default role).
std::optional<std::string> validate_role(const std::string& role);

}  // namespace stoa::master
