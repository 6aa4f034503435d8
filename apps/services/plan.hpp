#pragma once
// Deployment plans (Marathon's DeploymentPlan) and the rolling-restart
// arithmetic (TaskReplaceActor). Pure functions (unit tests: plan_test.cpp).
// Facts: shared/reference/marathon.md §4.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "apps/services/instance.hpp"
#include "apps/services/model.hpp"

namespace stoa::services {

// The plan from `original` to `target` (every app, by id; apps equal in
// both are unchanged): StopApplication for removed apps, StartApplication
// (0 instances) for new ones, then dependency-ordered steps of
// ScaleApplication (new apps, scale-only changes) and RestartApplication
// (is_upgrade, or an id in `restart`). Empty steps are dropped.
// The returned Deployment has a fresh id, `version`, affected_apps, steps,
// and original/target restricted to the affected apps.
Deployment make_plan(const std::map<std::string, App>& original, const std::map<std::string, App>& target,
                     const std::set<std::string>& restart, Timestamp version);

// The revert of a running deployment (DELETE /v2/deployments/{id} without
// force): the plan from `current` (the apps now) back to d.original.
Deployment revert_plan(const Deployment& d, const std::map<std::string, App>& current, Timestamp version);

// Rolling restart of one app to `target` (TaskReplaceActor).
struct RestartState {
  size_t instances = 0;     // n = target.instances
  size_t old_healthy = 0;   // old-version active instances considered healthy
  size_t old_active = 0;    // old-version active instances (goal RUNNING)
  size_t new_started = 0;   // new-version active instances (any state)
  size_t new_ready = 0;     // new-version instances healthy (and ready)
  // Old-version instances already chosen for killing (goal DECOMMISSIONED)
  // that are not terminal yet: they still take capacity, so no new instance
  // is launched in their place before they are gone. `old_healthy` and
  // `old_active` do not count them.
  size_t old_terminating = 0;
};
struct RestartDecision {
  size_t kill_old = 0;    // old instances to kill now
  size_t launch_new = 0;  // new instances to launch now
  bool done = false;      // n new ready and no old active
};
// minHealthy = ceil(n * minimumHealthCapacity),
// maxCapacity = floor(n * (1 + maximumOverCapacity)); if minHealthy ==
// maxCapacity <= healthy, maxCapacity += 1. Kill old while
// healthy(old)+new_ready > minHealthy (and old instances beyond n anyway);
// launch while old_active + old_terminating + new_started < maxCapacity and
// new_started < n. Call it again whenever a count changes (an instance
// became healthy, an old one terminated): each call decides only what to
// do now, counting the kills it asked for as old_terminating next time.
RestartDecision restart_step(const UpgradeStrategy& strategy, const RestartState& state);

// True if a running deployment touching any of `apps` exists in `running`
// (then a new change is refused with 409 unless force).
std::vector<std::string> conflicting_deployments(const std::vector<Deployment>& running,
                                                 const std::set<std::string>& apps);

}  // namespace stoa::services
