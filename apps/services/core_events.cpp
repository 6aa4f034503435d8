// The events the services core publishes (marathon.md §5). The EventBus
// adds eventType and timestamp.

#include <algorithm>

#include "apps/services/core_internal.hpp"
#include "apps/services/events.hpp"

namespace stoa::services {

namespace {

picojson::value core_str(const std::string& s) { return picojson::value(s); }

// Marathon's instance id: the task id without its "._app.<n>" suffix.
picojson::value core_instance_id(const std::string& task_id) {
  size_t at = task_id.rfind("._app.");
  return picojson::value(at == std::string::npos ? task_id : task_id.substr(0, at));
}

picojson::value core_step_json(const Deployment& d) {
  picojson::array actions;
  if (d.current_step >= 1 && d.current_step <= d.steps.size()) {
    for (const DeploymentAction& a : d.steps[d.current_step - 1]) {
      actions.push_back(action_json(a));
    }
  }
  picojson::object step;
  step["actions"] = picojson::value(std::move(actions));
  return picojson::value(std::move(step));
}

}  // namespace

std::string core_condition_name(const std::string& mesos_state) {
  static const std::map<std::string, std::string> names = {
      {"TASK_STAGING", "Staging"},       {"TASK_STARTING", "Starting"},   {"TASK_RUNNING", "Running"},
      {"TASK_KILLING", "Killing"},       {"TASK_FINISHED", "Finished"},   {"TASK_FAILED", "Failed"},
      {"TASK_KILLED", "Killed"},         {"TASK_ERROR", "Error"},         {"TASK_LOST", "Gone"},
      {"TASK_DROPPED", "Dropped"},       {"TASK_UNREACHABLE", "Unreachable"}, {"TASK_GONE", "Gone"},
      {"TASK_GONE_BY_OPERATOR", "Gone"}, {"TASK_UNKNOWN", "Unknown"},
  };
  auto it = names.find(mesos_state);
  return it == names.end() ? "Unknown" : it->second;
}

void CoreState::publish(const std::string& type, picojson::object fields) {
  if (options.events) {
    options.events->publish(type, std::move(fields));
  }
}

void CoreState::publish_status(const Instance& i) {
  if (!options.events || !options.events->listening()) {
    return;
  }
  picojson::object f;
  f["slaveId"] = core_str(i.slave_id);
  f["taskId"] = core_str(i.task_id);
  f["taskStatus"] = core_str(i.state);
  f["message"] = core_str(i.message);
  f["appId"] = core_str(i.app_id);
  f["host"] = core_str(i.host);
  f["ipAddresses"] = picojson::value(picojson::array{});
  picojson::array ports;
  for (int p : i.host_ports) {
    ports.emplace_back(static_cast<double>(p));
  }
  f["ports"] = picojson::value(std::move(ports));
  f["version"] = core_str(format_timestamp(i.app_version));
  publish("status_update_event", std::move(f));
}

void CoreState::publish_instance_changed(const Instance& i) {
  if (!options.events || !options.events->listening()) {
    return;
  }
  picojson::object f;
  f["instanceId"] = core_instance_id(i.task_id);
  f["condition"] = core_str(core_condition_name(i.state));
  f["runSpecId"] = core_str(i.app_id);
  f["agentId"] = core_str(i.slave_id);
  f["host"] = core_str(i.host);
  f["runSpecVersion"] = core_str(format_timestamp(i.app_version));
  f["goal"] = core_str(i.goal == Goal::RUNNING ? "Running" : "Decommissioned");
  publish("instance_changed_event", std::move(f));
}

void CoreState::publish_health_changed(const Instance& i, bool alive) {
  picojson::object f;
  f["appId"] = core_str(i.app_id);
  f["instanceId"] = core_instance_id(i.task_id);
  f["version"] = core_str(format_timestamp(i.app_version));
  f["alive"] = picojson::value(alive);
  publish("health_status_changed_event", std::move(f));
}

void CoreState::note_instance_health(const Instance& i) {
  const App* a = app(i.app_id);
  if (a == nullptr || a->health_checks.empty()) {
    return;
  }
  // null until some check has a result; then healthy as deployments see it.
  bool any_result = i.mesos_healthy.has_value();
  for (const HealthResult& h : i.health) {
    any_result = any_result || h.last_success.has_value() || h.last_failure.has_value();
  }
  std::optional<bool> now = any_result ? std::optional<bool>(i.healthy(*a)) : std::nullopt;
  auto [it, inserted] = health_published_.try_emplace(i.task_id, std::nullopt);
  if (!inserted && it->second == now) {
    return;
  }
  if (inserted && !now) {
    return;  // null is where every instance starts
  }
  it->second = now;
  picojson::object f;
  f["instanceId"] = core_instance_id(i.task_id);
  f["runSpecId"] = core_str(i.app_id);
  f["runSpecVersion"] = core_str(format_timestamp(i.app_version));
  f["healthy"] = now ? picojson::value(*now) : picojson::value();
  publish("instance_health_changed_event", std::move(f));
}

void CoreState::publish_unknown_terminated(const std::string& task_id, const std::string& state) {
  picojson::object f;
  f["instanceId"] = core_instance_id(task_id);
  // The app id is in the task id ("prod_web.instance-<uuid>._app.1"): a
  // known app with that prefix, else the prefix with '_' read as '/'.
  std::string prefix = task_id_app_prefix(task_id);
  std::string run_spec;
  for (const auto& [id, a] : apps_) {
    if (task_id_prefix(id) == prefix) {
      run_spec = id;
      break;
    }
  }
  if (run_spec.empty()) {
    run_spec = "/" + prefix;
    std::replace(run_spec.begin(), run_spec.end(), '_', '/');
  }
  f["runSpecId"] = core_str(run_spec);
  f["condition"] = core_str(core_condition_name(state));
  publish("unknown_instance_terminated_event", std::move(f));
}

void CoreState::publish_failed_health_check(const Instance& i, const HealthCheck& hc) {
  picojson::object f;
  f["appId"] = core_str(i.app_id);
  f["taskId"] = core_instance_id(i.task_id);
  f["instanceId"] = core_instance_id(i.task_id);
  f["healthCheck"] = health_check_json(hc);
  publish("failed_health_check_event", std::move(f));
}

void CoreState::publish_unhealthy_kill(const Instance& i, const std::string& reason) {
  picojson::object f;
  f["appId"] = core_str(i.app_id);
  f["taskId"] = core_str(i.task_id);
  f["instanceId"] = core_instance_id(i.task_id);
  f["version"] = core_str(format_timestamp(i.app_version));
  f["reason"] = core_str(reason);
  f["host"] = core_str(i.host);
  f["slaveId"] = core_str(i.slave_id);
  publish("unhealthy_instance_kill_event", std::move(f));
}

void CoreState::publish_deployment(const std::string& type, const Deployment& d, std::optional<std::string> reason) {
  picojson::object f;
  f["plan"] = picojson::value(plan_json(d));
  if (type == "deployment_success" || type == "deployment_failed") {
    f["id"] = core_str(d.id);
    if (reason) {
      f["reason"] = core_str(*reason);
    }
  } else {
    f["currentStep"] = core_step_json(d);
  }
  publish(type, std::move(f));
}

void CoreState::publish_group_change(Timestamp version) {
  picojson::object f;
  f["groupId"] = core_str("/");
  f["version"] = core_str(format_timestamp(version));
  publish("group_change_success", std::move(f));
}

void CoreState::publish_api_post(const Change& c, const App& app) {
  picojson::object f;
  f["clientIp"] = core_str(c.client_ip);
  f["uri"] = core_str(c.uri);
  f["appDefinition"] = picojson::value(app_json(app));
  publish("api_post_event", std::move(f));
}

void CoreState::publish_app_terminated(const std::string& app_id) {
  picojson::object f;
  f["appId"] = core_str(app_id);
  publish("app_terminated_event", std::move(f));
}

void CoreState::publish_scheduler_registered(bool reregistered) {
  picojson::object f;
  f["master"] = core_str(master_address_);
  if (reregistered) {
    publish("scheduler_reregistered_event", std::move(f));
    return;
  }
  f["frameworkId"] = core_str(framework_id_.value_or(""));
  publish("scheduler_registered_event", std::move(f));
}

void CoreState::publish_scheduler_disconnected() { publish("scheduler_disconnected_event", {}); }

}  // namespace stoa::services
