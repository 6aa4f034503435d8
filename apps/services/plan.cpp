// Deployment plans and the rolling-restart arithmetic (marathon.md §4).

#include "apps/services/plan.hpp"

#include <algorithm>
#include <cmath>

#include "common/uuid.hpp"

namespace stoa::services {

namespace {

// Slack for products like 10 * 0.3 (= 3.0000000000000004) before ceil/floor.
constexpr double PLAN_CAPACITY_EPSILON = 1e-9;

// The apps of `target` by the length of their longest dependency path
// (dependencies outside `target` do not count), shortest first. Apps on or
// behind a dependency cycle cannot be ordered: they come last, together.
std::vector<std::vector<std::string>> plan_dependency_levels(const std::map<std::string, App>& target) {
  std::map<std::string, size_t> level;
  bool progress = true;
  while (progress) {
    progress = false;
    for (const auto& [id, app] : target) {
      if (level.contains(id)) {
        continue;
      }
      size_t mine = 0;
      bool ready = true;
      for (const std::string& dep : app.dependencies) {
        if (dep == id || !target.contains(dep)) {
          continue;
        }
        auto known = level.find(dep);
        if (known == level.end()) {
          ready = false;
          break;
        }
        mine = std::max(mine, known->second + 1);
      }
      if (ready) {
        level[id] = mine;
        progress = true;
      }
    }
  }
  size_t depth = 0;
  for (const auto& [id, l] : level) {
    depth = std::max(depth, l + 1);
  }
  std::vector<std::vector<std::string>> levels(depth);
  std::vector<std::string> unordered;
  for (const auto& [id, app] : target) {
    auto known = level.find(id);
    if (known == level.end()) {
      unordered.push_back(id);
    } else {
      levels[known->second].push_back(id);
    }
  }
  if (!unordered.empty()) {
    levels.push_back(std::move(unordered));
  }
  return levels;
}

void plan_add_step(Deployment& d, std::vector<DeploymentAction> step) {
  if (!step.empty()) {
    d.steps.push_back(std::move(step));
  }
}

}  // namespace

Deployment make_plan(const std::map<std::string, App>& original, const std::map<std::string, App>& target,
                     const std::set<std::string>& restart, Timestamp version) {
  Deployment d;
  d.id = random_uuid();
  d.version = version;
  std::set<std::string> affected;

  std::vector<DeploymentAction> stops;
  for (const auto& [id, app] : original) {
    if (!target.contains(id)) {
      stops.push_back({"StopApplication", id});
      affected.insert(id);
    }
  }
  std::vector<DeploymentAction> starts;
  for (const auto& [id, app] : target) {
    if (!original.contains(id)) {
      starts.push_back({"StartApplication", id});
    }
  }
  plan_add_step(d, std::move(stops));
  plan_add_step(d, std::move(starts));

  for (const std::vector<std::string>& level : plan_dependency_levels(target)) {
    std::vector<DeploymentAction> step;
    for (const std::string& id : level) {
      const App& to = target.at(id);
      auto from = original.find(id);
      if (from == original.end()) {
        step.push_back({"ScaleApplication", id});
      } else if (restart.contains(id) || is_upgrade(from->second, to)) {
        step.push_back({"RestartApplication", id});
      } else if (from->second.instances != to.instances) {
        step.push_back({"ScaleApplication", id});
      } else {
        continue;
      }
      affected.insert(id);
    }
    plan_add_step(d, std::move(step));
  }

  d.affected_apps.assign(affected.begin(), affected.end());
  for (const std::string& id : affected) {
    if (auto it = original.find(id); it != original.end()) {
      d.original.emplace(id, it->second);
    }
    if (auto it = target.find(id); it != target.end()) {
      d.target.emplace(id, it->second);
    }
  }
  return d;
}

Deployment revert_plan(const Deployment& d, const std::map<std::string, App>& current, Timestamp version) {
  std::map<std::string, App> now;
  for (const std::string& id : d.affected_apps) {
    if (auto it = current.find(id); it != current.end()) {
      now.emplace(id, it->second);
    }
  }
  return make_plan(now, d.original, {}, version);
}

RestartDecision restart_step(const UpgradeStrategy& strategy, const RestartState& state) {
  const auto n = static_cast<long long>(state.instances);
  const auto min_healthy =
      static_cast<long long>(std::ceil(static_cast<double>(n) * strategy.minimum_health_capacity - PLAN_CAPACITY_EPSILON));
  auto max_capacity = static_cast<long long>(
      std::floor(static_cast<double>(n) * (1 + strategy.maximum_over_capacity) + PLAN_CAPACITY_EPSILON));
  const auto healthy = static_cast<long long>(state.old_healthy + state.new_ready);
  if (min_healthy == max_capacity && max_capacity <= healthy) {
    max_capacity += 1;
  }
  const auto old_active = static_cast<long long>(state.old_active);
  const auto old_terminating = static_cast<long long>(state.old_terminating);
  const auto new_started = static_cast<long long>(state.new_started);

  RestartDecision decision;
  // Healthy instances above the minimum may go; old instances beyond n go anyway.
  const long long extras = std::max(0LL, old_active - n);
  const long long kill = std::min(old_active, std::max({0LL, healthy - min_healthy, extras}));
  decision.kill_old = static_cast<size_t>(kill);
  // Launch while the instances alive (old ones being killed included) stay
  // within maxCapacity, up to n new instances.
  const long long room = max_capacity - old_active - old_terminating - new_started;
  const long long launch = std::min(n - new_started, room);
  decision.launch_new = static_cast<size_t>(std::max(0LL, launch));
  decision.done = state.new_ready >= state.instances && old_active == 0 && old_terminating == 0;
  return decision;
}

std::vector<std::string> conflicting_deployments(const std::vector<Deployment>& running,
                                                 const std::set<std::string>& apps) {
  std::vector<std::string> ids;
  for (const Deployment& d : running) {
    if (std::any_of(d.affected_apps.begin(), d.affected_apps.end(),
                    [&apps](const std::string& id) { return apps.contains(id); })) {
      ids.push_back(d.id);
    }
  }
  return ids;
}

}  // namespace stoa::services
