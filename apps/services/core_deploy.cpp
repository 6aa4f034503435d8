// Changes to the set of apps and the deployments that carry them out
// (marathon.md §4): steps run one after another, the actions of a step in
// parallel; a step is done when each of its apps has reached its target.

#include <algorithm>
#include <utility>

#include <caf/all.hpp>

#include "apps/services/core_internal.hpp"
#include "apps/services/plan.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/uuid.hpp"

namespace stoa::services {

namespace {

// Keeps the service ports an update leaves at 0 where the app had one, so
// that re-sending an app unchanged is not an upgrade.
void core_keep_service_ports(const App& old, App& app) {
  for (size_t k = 0; k < app.port_definitions.size() && k < old.port_definitions.size(); ++k) {
    if (app.port_definitions[k].port == 0) {
      app.port_definitions[k].port = old.port_definitions[k].port;
    }
  }
  if (app.container && old.container) {
    auto& now = app.container->port_mappings;
    const auto& before = old.container->port_mappings;
    for (size_t k = 0; k < now.size() && k < before.size(); ++k) {
      if (now[k].service_port == 0) {
        now[k].service_port = before[k].service_port;
      }
    }
  }
}

bool core_same_app(const App& a, const App& b) { return !is_upgrade(a, b) && a.instances == b.instances; }

}  // namespace

// ---------------------------------------------------------------------------
// Writes.

void CoreState::change(Change c, std::function<void(Outcome)> done) {
  if (std::optional<ApiError> refused = not_leading()) {
    done(std::move(*refused));
    return;
  }
  std::set<std::string> affected;
  for (const auto& [id, a] : c.upserts) {
    affected.insert(id);
  }
  for (const std::string& id : c.removals) {
    if (apps_.count(id) == 0) {
      done(api_error(404, "App '" + id + "' does not exist"));
      return;
    }
    affected.insert(id);
  }
  for (const std::string& id : c.restarts) {
    if (apps_.count(id) == 0 && c.upserts.count(id) == 0) {
      done(api_error(404, "App '" + id + "' does not exist"));
      return;
    }
    affected.insert(id);
  }
  std::map<std::string, App> target = apps_;
  for (const std::string& id : c.removals) {
    target.erase(id);
  }
  for (const auto& [id, a] : c.upserts) {
    target[id] = a;
  }
  std::vector<Violation> violations;
  for (const auto& [id, a] : c.upserts) {
    for (size_t k = 0; k < a.dependencies.size(); ++k) {
      if (target.count(a.dependencies[k]) == 0) {
        violations.push_back({"/dependencies(" + std::to_string(k) + ")",
                              "Dependency '" + a.dependencies[k] + "' of '" + id + "' does not exist"});
      }
    }
  }
  if (!violations.empty()) {
    done(invalid_object(violations));
    return;
  }
  std::vector<Deployment> running;
  for (const Deployment* d : deployments()) {
    running.push_back(*d);
  }
  std::vector<std::string> conflicts = conflicting_deployments(running, affected);
  if (!conflicts.empty()) {
    if (!c.force) {
      ApiError e = api_error(409, "App is locked by one or more deployments. Override with the option "
                                  "'?force=true'. View details at '/v2/deployments/" +
                                      conflicts.front() + "'.");
      picojson::array ids;
      for (const std::string& id : conflicts) {
        picojson::object o;
        o["id"] = picojson::value(id);
        ids.emplace_back(std::move(o));
      }
      e.body.get<picojson::object>()["deployments"] = picojson::value(std::move(ids));
      done(std::move(e));
      return;
    }
    for (const std::string& id : conflicts) {
      finish_deployment(id, false, "cancelled by a forced change");
    }
  }
  if (static_cast<int>(deployments_.size()) >= options.max_running_deployments) {
    done(api_error(403, "Max number of running deployments is exceeded (" +
                            std::to_string(options.max_running_deployments) +
                            "). Wait until some deployments complete, or cancel some with force=true."));
    return;
  }
  std::vector<std::string> to_kill = c.kill_tasks;
  std::set<std::string> restarts = c.restarts;
  apply(std::move(target), restarts, std::move(to_kill), &c, std::move(done));
}

void CoreState::apply(std::map<std::string, App> target, const std::set<std::string>& restarts,
                      std::vector<std::string> to_kill, const Change* request, std::function<void(Outcome)> done) {
  Timestamp version = next_version();
  std::vector<std::string> changed;
  for (auto& [id, a] : target) {
    auto old = apps_.find(id);
    bool restart = restarts.count(id) > 0;
    if (old != apps_.end()) {
      core_keep_service_ports(old->second, a);
      if (!restart && core_same_app(old->second, a)) {
        a = old->second;  // unchanged: keeps its version
        continue;
      }
    }
    std::set<int> taken;
    for (const auto& [other_id, other] : target) {
      if (other_id != id) {
        for (int p : other.service_ports()) {
          if (p != 0) {
            taken.insert(p);
          }
        }
      }
    }
    Try<App> assigned = assign_service_ports(a, taken, options.local_port_min, options.local_port_max);
    if (assigned.is_error()) {
      done(invalid_object({{"/portDefinitions", assigned.error()}}));
      return;
    }
    a = std::move(assigned).get();
    bool is_new = old == apps_.end();
    a.version = version;
    a.last_config_change_at = is_new || restart || is_upgrade(old->second, a) ? version : old->second.last_config_change_at;
    a.last_scaling_at = is_new || old->second.instances != a.instances ? version : old->second.last_scaling_at;
    changed.push_back(id);
  }
  std::vector<std::string> removed;
  for (const auto& [id, a] : apps_) {
    if (target.count(id) == 0) {
      removed.push_back(id);
    }
  }
  if (changed.empty() && removed.empty()) {
    // Nothing to deploy: still a plan id (Marathon always answers one), of
    // a deployment that is finished at once, so a client waiting for it
    // to disappear from /v2/deployments sees it gone.
    done(DeploymentResult{random_uuid(), version});
    return;
  }
  Deployment plan = make_plan(apps_, target, restarts, version);
  plan.to_kill = std::move(to_kill);

  std::vector<StoreOp> ops;
  for (const std::string& id : changed) {
    std::string value = json_serialize(app_to_store(target.at(id)));
    ops.push_back(StoreOp{StoreOp::PUT, app_key(id), value});
    ops.push_back(StoreOp{StoreOp::PUT, app_version_key(id, version), value});
  }
  for (const std::string& id : removed) {
    ops.push_back(StoreOp{StoreOp::DELETE, app_key(id), {}});
    ops.push_back(StoreOp{StoreOp::DELETE_PREFIX, app_versions_prefix(id), {}});
    ops.push_back(StoreOp{StoreOp::DELETE, failure_key(id), {}});
    ops.push_back(StoreOp{StoreOp::DELETE, delay_key(id), {}});
  }
  bool with_deployment = !plan.steps.empty();
  if (with_deployment) {
    ops.push_back(put_deployment(plan));
  }

  // Applied at once (so later calls see it); reverted if the store fails,
  // app by app: only this change's own apps, so that a later change applied
  // while this write was in flight survives.
  std::map<std::string, std::optional<App>> before;
  for (const std::vector<std::string>* ids : {&removed, &changed}) {
    for (const std::string& id : *ids) {
      auto old = apps_.find(id);
      before[id] = old == apps_.end() ? std::nullopt : std::optional<App>(old->second);
    }
  }
  std::map<std::string, std::map<Timestamp, App>> versions_before;
  // The launch delays and failures of the apps this change touches, as they were.
  std::map<std::string, std::optional<Backoff>> backoffs_before;
  std::map<std::string, std::optional<TaskFailure>> failures_before;
  for (const std::vector<std::string>* ids : {&removed, &changed}) {
    for (const std::string& id : *ids) {
      auto b = backoffs_.find(id);
      backoffs_before[id] = b == backoffs_.end() ? std::nullopt : std::optional<Backoff>(b->second);
      auto f = failures_.find(id);
      failures_before[id] = f == failures_.end() ? std::nullopt : std::optional<TaskFailure>(f->second);
    }
  }
  for (const std::string& id : removed) {
    versions_before[id] = versions_[id];
    versions_.erase(id);
    backoffs_.erase(id);
    failures_.erase(id);
    queue_stats_.erase(id);
  }
  for (const std::string& id : changed) {
    versions_[id][version] = target.at(id);
    if (apps_.count(id) == 0 || apps_.at(id).last_config_change_at != target.at(id).last_config_change_at) {
      if (backoffs_.erase(id) > 0) {
        ops.push_back(StoreOp{StoreOp::DELETE, delay_key(id), {}});
      }
    }
  }
  apps_ = std::move(target);
  std::string deployment_id = with_deployment ? plan.id : std::string();
  if (with_deployment) {
    unpersisted_.insert(plan.id);
    deployment_order_.push_back(plan.id);
    deployments_[plan.id] = plan;
  }
  std::vector<App> posted;
  std::string client_ip;
  std::string uri;
  if (request != nullptr && request->post_event) {
    for (const auto& [id, a] : request->upserts) {
      if (apps_.count(id) > 0) {
        posted.push_back(apps_.at(id));
      }
    }
    client_ip = request->client_ip;
    uri = request->uri;
  }
  LOG_INFO << "Change " << version << ": " << changed.size() << " apps changed, " << removed.size() << " removed"
           << (with_deployment ? ", deployment " + deployment_id : std::string());
  persist(std::move(ops), [this, before = std::move(before), versions_before = std::move(versions_before),
                           backoffs_before = std::move(backoffs_before), failures_before = std::move(failures_before), changed,
                           removed, version, deployment_id, posted = std::move(posted), client_ip, uri,
                           done = std::move(done)](std::optional<std::string> error) {
    if (error) {
      LOG_ERROR << "Change " << version << " not stored: " << *error;
      // An app a later change has touched since (a newer version, or
      // re-created after this removal) keeps that change.
      std::set<std::string> undone;
      for (const std::string& id : changed) {
        auto now = apps_.find(id);
        if (now != apps_.end() && now->second.version == version) {
          undone.insert(id);
        }
      }
      for (const std::string& id : removed) {
        if (apps_.count(id) == 0) {
          undone.insert(id);
        }
      }
      for (const std::string& id : undone) {
        const std::optional<App>& b = before.at(id);
        if (b) {
          apps_[id] = *b;
        } else {
          apps_.erase(id);
        }
      }
      for (const auto& [id, b] : backoffs_before) {
        if (undone.count(id) == 0) {
          continue;
        }
        backoffs_.erase(id);
        if (b) {
          backoffs_[id] = *b;
        }
      }
      for (const auto& [id, f] : failures_before) {
        if (undone.count(id) == 0) {
          continue;
        }
        failures_.erase(id);
        if (f) {
          failures_[id] = *f;
        }
      }
      for (const auto& [id, v] : versions_before) {
        if (undone.count(id) > 0) {
          versions_[id] = v;
        }
      }
      for (const std::string& id : changed) {
        auto v = versions_.find(id);
        if (v != versions_.end()) {
          v->second.erase(version);
          if (v->second.empty()) {
            versions_.erase(v);
          }
        }
      }
      if (!deployment_id.empty()) {
        deployments_.erase(deployment_id);
        unpersisted_.erase(deployment_id);
        deployment_order_.erase(std::remove(deployment_order_.begin(), deployment_order_.end(), deployment_id),
                                deployment_order_.end());
      }
      done(api_error(503, "Storing the change failed: " + *error));
      return;
    }
    unpersisted_.erase(deployment_id);
    for (const std::string& id : changed) {
      prune_versions(id);
    }
    publish_group_change(version);
    for (const App& a : posted) {
      Change c;
      c.client_ip = client_ip;
      c.uri = uri;
      publish_api_post(c, a);
    }
    done(DeploymentResult{deployment_id, version});
    advance_deployments();
    update_offer_interest();
  });
}

void CoreState::prune_versions(const std::string& app_id) {
  auto it = versions_.find(app_id);
  if (it == versions_.end()) {
    return;
  }
  std::vector<StoreOp> ops;
  while (it->second.size() > CORE_MAX_VERSIONS) {
    ops.push_back(StoreOp{StoreOp::DELETE, app_version_key(app_id, it->second.begin()->first), {}});
    it->second.erase(it->second.begin());
  }
  persist(std::move(ops));
}

void CoreState::cancel_deployment(const std::string& id, bool force,
                                  std::function<void(std::optional<Outcome>)> done) {
  if (std::optional<ApiError> refused = not_leading()) {
    done(Outcome{std::move(*refused)});
    return;
  }
  auto it = deployments_.find(id);
  if (it == deployments_.end()) {
    done(std::nullopt);
    return;
  }
  Deployment d = it->second;
  finish_deployment(id, false, "cancelled");
  if (force) {
    done(Outcome{DeploymentResult{"", now_ms()}});
    return;
  }
  // The revert: the affected apps back to what they were before.
  std::map<std::string, App> target = apps_;
  for (const std::string& app_id : d.affected_apps) {
    auto original = d.original.find(app_id);
    if (original != d.original.end()) {
      target[app_id] = original->second;
    } else {
      target.erase(app_id);
    }
  }
  apply(std::move(target), {}, {}, nullptr, [done](Outcome o) { done(std::move(o)); });
}

// ---------------------------------------------------------------------------
// Running deployments.

const Deployment* CoreState::deployment_of(const std::string& app_id) const {
  std::vector<const Deployment*> ds = deployments_of(app_id);
  return ds.empty() ? nullptr : ds.front();
}

const DeploymentAction* CoreState::current_action(const std::string& app_id, const Deployment** out) const {
  for (const std::string& id : deployment_order_) {
    auto it = deployments_.find(id);
    if (it == deployments_.end() || unpersisted_.count(id) > 0) {
      continue;
    }
    const Deployment& d = it->second;
    if (d.current_step == 0 || d.current_step > d.steps.size()) {
      continue;
    }
    for (const DeploymentAction& a : d.steps[d.current_step - 1]) {
      if (a.app == app_id) {
        if (out != nullptr) {
          *out = &d;
        }
        return &a;
      }
    }
  }
  return nullptr;
}

int CoreState::restart_launch_budget(const App& a) const {
  RestartState st;
  st.instances = static_cast<size_t>(std::max(a.instances, 0));
  for (const Instance* i : counted_instances(a.id)) {
    if (is_new(*i, a)) {
      ++st.new_started;
      st.new_ready += deploy_ready(*i, a) ? 1 : 0;
    } else {
      ++st.old_active;
      st.old_healthy += i->healthy(a) ? 1 : 0;
    }
  }
  return static_cast<int>(restart_step(a.upgrade_strategy, st).launch_new);
}

bool CoreState::drive_action(Deployment& d, const DeploymentAction& action) {
  const std::string& app_id = action.app;
  if (action.action == "StartApplication") {
    return true;
  }
  if (action.action == "StopApplication") {
    bool any = false;
    for (Instance* i : instances_of(app_id)) {
      if (i->active()) {
        kill_task(*i, true);
        any = true;
      }
    }
    return !any;
  }
  const App* a = app(app_id);
  if (a == nullptr) {
    return true;
  }
  auto decommissioned_active = [this, &app_id]() {
    for (const Instance* i : std::as_const(*this).instances_of(app_id)) {
      if (i->active() && i->goal == Goal::DECOMMISSIONED) {
        return true;
      }
    }
    return false;
  };
  if (action.action == "ScaleApplication") {
    for (const std::string& id : d.to_kill) {
      auto it = instances_.find(id);
      if (it != instances_.end() && it->second.app_id == app_id && it->second.active() &&
          it->second.goal == Goal::RUNNING) {
        kill_task(it->second, true);
      }
    }
    std::vector<const Instance*> counted = counted_instances(app_id);
    if (counted.size() > static_cast<size_t>(a->instances)) {
      for (const Instance* v : select_to_kill(*a, counted, counted.size() - a->instances, slave_fields_)) {
        kill_task(instances_.at(v->task_id), true);
      }
      counted = counted_instances(app_id);
    }
    size_t healthy = 0;
    for (const Instance* i : counted) {
      healthy += deploy_ready(*i, *a) ? 1 : 0;
    }
    return !decommissioned_active() && healthy >= static_cast<size_t>(a->instances);
  }
  // RestartApplication: TaskReplaceActor's arithmetic (plan.hpp).
  RestartState st;
  st.instances = static_cast<size_t>(std::max(a->instances, 0));
  std::vector<Instance*> old;
  for (Instance* instance : instances_of(app_id)) {
    Instance& i = *instance;
    if (!i.active() || i.goal != Goal::RUNNING || inactive_unreachable(i, *a)) {
      continue;
    }
    bool healthy = i.healthy(*a);
    if (is_new(i, *a)) {
      ++st.new_started;
      st.new_ready += healthy && ready(i, *a) ? 1 : 0;
    } else {
      ++st.old_active;
      st.old_healthy += healthy ? 1 : 0;
      old.push_back(&i);
    }
  }
  RestartDecision decision = restart_step(a->upgrade_strategy, st);
  // The unhealthy old ones go first, then the oldest.
  std::sort(old.begin(), old.end(), [a](const Instance* x, const Instance* y) {
    bool hx = x->healthy(*a);
    bool hy = y->healthy(*a);
    return hx != hy ? !hx : x->staged_at < y->staged_at;
  });
  for (size_t k = 0; k < decision.kill_old && k < old.size(); ++k) {
    kill_task(*old[k], true);
  }
  bool old_left = false;
  for (const Instance* i : std::as_const(*this).instances_of(app_id)) {
    if (i->active() && !is_new(*i, *a)) {
      old_left = true;
      break;
    }
  }
  return decision.done && !old_left && !decommissioned_active();
}

void CoreState::advance_deployments(const std::optional<std::string>& app_id) {
  std::vector<std::string> order = deployment_order_;
  for (const std::string& id : order) {
    if (app_id) {
      // Only a current step with an action of this app can have moved.
      auto it = deployments_.find(id);
      if (it == deployments_.end()) {
        continue;
      }
      const Deployment& d = it->second;
      if (d.current_step >= 1 && d.current_step <= d.steps.size() &&
          std::none_of(d.steps[d.current_step - 1].begin(), d.steps[d.current_step - 1].end(),
                       [&app_id](const DeploymentAction& a) { return a.app == *app_id; })) {
        continue;
      }
    }
    while (true) {
      auto it = deployments_.find(id);
      if (it == deployments_.end() || unpersisted_.count(id) > 0) {
        break;
      }
      Deployment& d = it->second;
      if (d.steps.empty()) {
        finish_deployment(id, true, "");
        break;
      }
      if (d.current_step == 0) {
        d.current_step = 1;
        persist({put_deployment(d)});
        publish_deployment("deployment_info", d);
      }
      bool done = true;
      for (const DeploymentAction& a : d.steps[d.current_step - 1]) {
        done = drive_action(d, a) && done;
      }
      if (!done) {
        break;
      }
      publish_deployment("deployment_step_success", d);
      for (const DeploymentAction& a : d.steps[d.current_step - 1]) {
        if (a.action == "StopApplication") {
          publish_app_terminated(a.app);
        }
      }
      if (d.current_step >= d.steps.size()) {
        finish_deployment(id, true, "");
        break;
      }
      ++d.current_step;
      d.readiness.clear();
      persist({put_deployment(d)});
      publish_deployment("deployment_info", d);
    }
  }
}

void CoreState::finish_deployment(const std::string& id, bool success, const std::string& reason) {
  auto it = deployments_.find(id);
  if (it == deployments_.end()) {
    return;
  }
  Deployment d = std::move(it->second);
  deployments_.erase(it);
  unpersisted_.erase(id);
  deployment_order_.erase(std::remove(deployment_order_.begin(), deployment_order_.end(), id),
                          deployment_order_.end());
  LOG_INFO << "Deployment " << id << (success ? " succeeded" : " failed: " + reason);
  if (success) {
    publish_deployment("deployment_success", d);
  } else {
    if (d.current_step >= 1 && d.current_step <= d.steps.size()) {
      publish_deployment("deployment_step_failure", d);  // the step it was in did not finish
    }
    publish_deployment("deployment_failed", d, reason);
  }
  persist({StoreOp{StoreOp::DELETE, deployment_key(id), {}}});
  flush_writes();  // a finished deployment leaves the store at once
  update_offer_interest();
}

}  // namespace stoa::services
