// Instances, deployments and their JSON (instance.hpp), and the store's
// forms of instances, deployments and apps.

#include "apps/services/instance.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

#include "common/json.hpp"

namespace stoa::services {

namespace {
namespace instance_detail {

picojson::value num(int64_t v) { return picojson::value(v); }

picojson::value int_array(const std::vector<int>& v) {
  picojson::array a;
  a.reserve(v.size());
  for (int i : v) {
    a.push_back(num(i));
  }
  return picojson::value(std::move(a));
}

picojson::value string_array(const std::vector<std::string>& v) {
  picojson::array a;
  for (const std::string& s : v) {
    a.emplace_back(s);
  }
  return picojson::value(std::move(a));
}

picojson::value steps_json(const Deployment& d) {
  picojson::array steps;
  for (const std::vector<DeploymentAction>& step : d.steps) {
    picojson::array actions;
    for (const DeploymentAction& a : step) {
      actions.push_back(action_json(a));
    }
    picojson::object s;
    s["actions"] = picojson::value(std::move(actions));
    steps.emplace_back(std::move(s));
  }
  return picojson::value(std::move(steps));
}

// The instance id of a task id: "web.instance-<uuid>._app.1" → "web.instance-<uuid>".
std::string instance_id_of(const std::string& task_id) {
  size_t at = task_id.rfind("._app.");
  return at == std::string::npos ? task_id : task_id.substr(0, at);
}

bool is_ipv4_literal(const std::string& host) {
  int parts = 0;
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    std::string part = host.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), [](char c) {
          return c >= '0' && c <= '9';
        }) || std::stoi(part) > 255) {
      return false;
    }
    ++parts;
    if (dot == std::string::npos) {
      break;
    }
    start = dot + 1;
  }
  return parts == 4;
}

// Reading the store's JSON: every field checked, errors name the field.
class StoreReader {
 public:
  StoreReader(const picojson::value& v, std::string what) : what_(std::move(what)) {
    if (v.is<picojson::object>()) {
      obj_ = &v.get<picojson::object>();
    } else {
      fail("", "an object");
    }
  }

  bool ok() const { return !error_; }
  Error error() const { return Error(*error_); }

  const picojson::value* get(const std::string& key, bool required = true) {
    if (obj_ == nullptr) {
      return nullptr;
    }
    auto it = obj_->find(key);
    if (it == obj_->end() || it->second.is<picojson::null>()) {
      if (required) {
        fail(key, "present");
      }
      return nullptr;
    }
    return &it->second;
  }

  std::string string(const std::string& key) {
    const picojson::value* v = get(key);
    if (v != nullptr && !v->is<std::string>()) {
      fail(key, "a string");
      return "";
    }
    return v == nullptr ? "" : v->get<std::string>();
  }

  std::optional<int64_t> opt_int(const std::string& key) {
    const picojson::value* v = get(key, false);
    if (v == nullptr) {
      return std::nullopt;
    }
    return to_int(*v, key);
  }

  int64_t integer(const std::string& key) {
    const picojson::value* v = get(key);
    return v == nullptr ? 0 : to_int(*v, key).value_or(0);
  }

  bool boolean(const std::string& key) {
    const picojson::value* v = get(key);
    if (v != nullptr && !v->is<bool>()) {
      fail(key, "a boolean");
      return false;
    }
    return v != nullptr && v->get<bool>();
  }

  const picojson::array* array(const std::string& key) {
    const picojson::value* v = get(key);
    if (v != nullptr && !v->is<picojson::array>()) {
      fail(key, "an array");
      return nullptr;
    }
    return v == nullptr ? nullptr : &v->get<picojson::array>();
  }

  const picojson::object* object(const std::string& key) {
    const picojson::value* v = get(key);
    if (v != nullptr && !v->is<picojson::object>()) {
      fail(key, "an object");
      return nullptr;
    }
    return v == nullptr ? nullptr : &v->get<picojson::object>();
  }

  std::vector<int> int_list(const std::string& key) {
    std::vector<int> out;
    if (const picojson::array* a = array(key)) {
      for (const picojson::value& e : *a) {
        std::optional<int64_t> i = to_int(e, key);
        if (!i || *i < INT_MIN || *i > INT_MAX) {
          fail(key, "an array of integers");
          return {};
        }
        out.push_back(static_cast<int>(*i));
      }
    }
    return out;
  }

  std::vector<std::string> string_list(const std::string& key) {
    std::vector<std::string> out;
    if (const picojson::array* a = array(key)) {
      for (const picojson::value& e : *a) {
        if (!e.is<std::string>()) {
          fail(key, "an array of strings");
          return {};
        }
        out.push_back(e.get<std::string>());
      }
    }
    return out;
  }

  void fail(const std::string& key, const std::string& expected) {
    if (!error_) {
      error_ = "corrupt stored " + what_ + (key.empty() ? "" : ": field '" + key + "'") + " must be " + expected;
    }
  }
  void fail_with(const std::string& message) {
    if (!error_) {
      error_ = "corrupt stored " + what_ + ": " + message;
    }
  }

 private:
  std::optional<int64_t> to_int(const picojson::value& v, const std::string& key) {
    if (v.is<int64_t>()) {
      return v.get<int64_t>();
    }
    if (v.is<double>() && std::floor(v.get<double>()) == v.get<double>() && std::abs(v.get<double>()) < 9.0e15) {
      return static_cast<int64_t>(v.get<double>());
    }
    fail(key, "an integer");
    return std::nullopt;
  }

  std::string what_;
  const picojson::object* obj_ = nullptr;
  std::optional<std::string> error_;
};

picojson::value health_to_store(const HealthResult& h) {
  picojson::object o;
  o["consecutiveFailures"] = num(h.consecutive_failures);
  if (h.first_success) {
    o["firstSuccess"] = num(*h.first_success);
  }
  if (h.last_success) {
    o["lastSuccess"] = num(*h.last_success);
  }
  if (h.last_failure) {
    o["lastFailure"] = num(*h.last_failure);
  }
  o["lastFailureCause"] = picojson::value(h.last_failure_cause);
  return picojson::value(std::move(o));
}

std::optional<DeploymentAction> action_from_store(const picojson::value& v, StoreReader* outer) {
  StoreReader r(v, "deployment action");
  DeploymentAction a;
  a.action = r.string("action");
  a.app = r.string("app");
  if (!r.ok()) {
    outer->fail_with(r.error().message);
    return std::nullopt;
  }
  return a;
}

bool apps_from_store(const picojson::object* o, std::map<std::string, App>* out, StoreReader* r,
                     const std::string& key) {
  if (o == nullptr) {
    return false;
  }
  for (const auto& [id, v] : *o) {
    Try<App> app = app_from_store(v);
    if (app.is_error()) {
      r->fail_with("field '" + key + "' app '" + id + "': " + app.error());
      return false;
    }
    (*out)[id] = std::move(*app);
  }
  return true;
}

}  // namespace instance_detail
}  // namespace

// ---------------------------------------------------------------------------
// Instance.

bool Instance::active() const {
  return state == "TASK_STAGING" || state == "TASK_STARTING" || state == "TASK_RUNNING" ||
         state == "TASK_KILLING" || state == "TASK_UNREACHABLE";
}

bool Instance::healthy(const App& app) const {
  if (!running()) {
    return false;
  }
  size_t marathon_checks = 0;
  bool mesos_checks = false;
  for (const HealthCheck& hc : app.health_checks) {
    if (hc.marathon_level()) {
      ++marathon_checks;
    } else {
      mesos_checks = true;
    }
  }
  if (health.size() < marathon_checks) {
    return false;
  }
  for (size_t i = 0; i < marathon_checks; ++i) {
    if (!health[i].alive()) {
      return false;
    }
  }
  return !mesos_checks || mesos_healthy == std::optional<bool>(true);
}

// ---------------------------------------------------------------------------
// JSON.

picojson::value action_json(const DeploymentAction& a) {
  picojson::object o;
  o["action"] = picojson::value(a.action);
  o["app"] = picojson::value(a.app);
  return picojson::value(std::move(o));
}

picojson::value readiness_result_json(const ReadinessCheckResult& r) {
  picojson::object o;
  o["name"] = picojson::value(r.name);
  o["taskId"] = picojson::value(r.task_id);
  o["ready"] = picojson::value(r.ready);
  if (r.last_response) {
    picojson::object lr;
    lr["status"] = instance_detail::num(static_cast<int64_t>(r.last_response->status));
    lr["contentType"] = picojson::value(r.last_response->content_type);
    lr["body"] = picojson::value(r.last_response->body);
    o["lastResponse"] = picojson::value(std::move(lr));
  }
  return picojson::value(std::move(o));
}

picojson::object deployment_json(const Deployment& d) {
  picojson::object o;
  o["id"] = picojson::value(d.id);
  o["version"] = picojson::value(format_timestamp(d.version));
  o["affectedApps"] = instance_detail::string_array(d.affected_apps);
  o["affectedPods"] = picojson::value(picojson::array{});
  o["steps"] = instance_detail::steps_json(d);
  picojson::array current;
  if (d.current_step >= 1 && d.current_step <= d.steps.size()) {
    for (const DeploymentAction& a : d.steps[d.current_step - 1]) {
      picojson::object ao = action_json(a).get<picojson::object>();
      picojson::array results;
      for (const ReadinessCheckResult& r : d.readiness) {
        if (r.app_id == a.app) {
          results.emplace_back(readiness_result_json(r));
        }
      }
      ao["readinessCheckResults"] = picojson::value(std::move(results));
      current.emplace_back(std::move(ao));
    }
  }
  o["currentActions"] = picojson::value(std::move(current));
  o["currentStep"] = instance_detail::num(static_cast<int64_t>(d.current_step));
  o["totalSteps"] = instance_detail::num(static_cast<int64_t>(d.steps.size()));
  return o;
}

picojson::object plan_json(const Deployment& d) {
  picojson::object o;
  o["id"] = picojson::value(d.id);
  o["steps"] = instance_detail::steps_json(d);
  o["version"] = picojson::value(format_timestamp(d.version));
  return o;
}

picojson::object task_json(const Instance& instance, const App* app, bool with_service_ports) {
  using instance_detail::num;
  picojson::object o;
  o["id"] = picojson::value(instance.task_id);
  o["appId"] = picojson::value(instance.app_id);
  o["host"] = picojson::value(instance.host);
  o["slaveId"] = picojson::value(instance.slave_id);
  o["state"] = picojson::value(instance.state);
  bool active = instance.active();
  o["ports"] = instance_detail::int_array(active ? instance.host_ports : std::vector<int>{});
  o["servicePorts"] = instance_detail::int_array(with_service_ports ? instance.service_ports : std::vector<int>{});
  picojson::array ips;
  if (!instance.host.empty()) {
    picojson::object ip;
    ip["ipAddress"] = picojson::value(instance.host);
    bool v6 = instance.host.find(':') != std::string::npos && !instance_detail::is_ipv4_literal(instance.host);
    ip["protocol"] = picojson::value(v6 ? "IPv6" : "IPv4");
    ips.emplace_back(std::move(ip));
  }
  o["ipAddresses"] = picojson::value(std::move(ips));
  o["stagedAt"] = picojson::value(format_timestamp(instance.staged_at));
  if (instance.started_at) {
    o["startedAt"] = picojson::value(format_timestamp(*instance.started_at));
  }
  o["version"] = picojson::value(format_timestamp(instance.app_version));
  std::string instance_id = instance_detail::instance_id_of(instance.task_id);
  picojson::array results;
  for (const HealthResult& h : instance.health) {
    picojson::object r;
    r["alive"] = picojson::value(h.alive());
    r["consecutiveFailures"] = num(h.consecutive_failures);
    if (h.first_success) {
      r["firstSuccess"] = picojson::value(format_timestamp(*h.first_success));
    }
    if (h.last_success) {
      r["lastSuccess"] = picojson::value(format_timestamp(*h.last_success));
    }
    if (h.last_failure) {
      r["lastFailure"] = picojson::value(format_timestamp(*h.last_failure));
    }
    if (!h.last_failure_cause.empty()) {
      r["lastFailureCause"] = picojson::value(h.last_failure_cause);
    }
    r["instanceId"] = picojson::value(instance_id);
    results.emplace_back(std::move(r));
  }
  // A Mesos-level check reports through TaskStatus.healthy only.
  if (app != nullptr && instance.mesos_healthy &&
      std::any_of(app->health_checks.begin(), app->health_checks.end(),
                  [](const HealthCheck& hc) { return !hc.marathon_level(); })) {
    picojson::object r;
    r["alive"] = picojson::value(*instance.mesos_healthy);
    r["consecutiveFailures"] = num(0);
    r["instanceId"] = picojson::value(instance_id);
    results.emplace_back(std::move(r));
  }
  o["healthCheckResults"] = picojson::value(std::move(results));
  o["localVolumes"] = picojson::value(picojson::array{});
  o["role"] = picojson::value(app != nullptr ? app->role : std::string("*"));
  return o;
}

picojson::object task_failure_json(const TaskFailure& f) {
  picojson::object o;
  o["appId"] = picojson::value(f.app_id);
  o["host"] = picojson::value(f.host);
  o["message"] = picojson::value(f.message);
  o["state"] = picojson::value(f.state);
  o["taskId"] = picojson::value(f.task_id);
  o["timestamp"] = picojson::value(format_timestamp(f.timestamp));
  o["version"] = picojson::value(format_timestamp(f.version));
  o["slaveId"] = picojson::value(f.slave_id);
  return o;
}

// ---------------------------------------------------------------------------
// The store's forms.

picojson::value instance_to_store(const Instance& i) {
  using instance_detail::num;
  picojson::object o;
  o["taskId"] = picojson::value(i.task_id);
  o["appId"] = picojson::value(i.app_id);
  o["appVersion"] = num(i.app_version);
  o["slaveId"] = picojson::value(i.slave_id);
  o["host"] = picojson::value(i.host);
  o["hostPorts"] = instance_detail::int_array(i.host_ports);
  o["servicePorts"] = instance_detail::int_array(i.service_ports);
  o["state"] = picojson::value(i.state);
  o["message"] = picojson::value(i.message);
  o["stagedAt"] = num(i.staged_at);
  if (i.started_at) {
    o["startedAt"] = num(*i.started_at);
  }
  o["goal"] = picojson::value(i.goal == Goal::RUNNING ? "RUNNING" : "DECOMMISSIONED");
  picojson::array health;
  for (const HealthResult& h : i.health) {
    health.push_back(instance_detail::health_to_store(h));
  }
  o["health"] = picojson::value(std::move(health));
  if (i.mesos_healthy) {
    o["mesosHealthy"] = picojson::value(*i.mesos_healthy);
  }
  return picojson::value(std::move(o));
}

Try<Instance> instance_from_store(const picojson::value& v) {
  instance_detail::StoreReader r(v, "instance");
  Instance i;
  i.task_id = r.string("taskId");
  i.app_id = r.string("appId");
  i.app_version = r.integer("appVersion");
  i.slave_id = r.string("slaveId");
  i.host = r.string("host");
  i.host_ports = r.int_list("hostPorts");
  i.service_ports = r.int_list("servicePorts");
  i.state = r.string("state");
  i.message = r.string("message");
  i.staged_at = r.integer("stagedAt");
  if (std::optional<int64_t> started = r.opt_int("startedAt")) {
    i.started_at = *started;
  }
  std::string goal = r.string("goal");
  if (goal == "RUNNING") {
    i.goal = Goal::RUNNING;
  } else if (goal == "DECOMMISSIONED") {
    i.goal = Goal::DECOMMISSIONED;
  } else if (r.ok()) {
    r.fail("goal", "RUNNING or DECOMMISSIONED (got '" + goal + "')");
  }
  if (const picojson::array* health = r.array("health")) {
    for (const picojson::value& h : *health) {
      instance_detail::StoreReader hr(h, "instance health result");
      HealthResult result;
      std::optional<int64_t> failures = hr.opt_int("consecutiveFailures");
      result.consecutive_failures = static_cast<int>(failures.value_or(0));
      result.first_success = hr.opt_int("firstSuccess");
      result.last_success = hr.opt_int("lastSuccess");
      result.last_failure = hr.opt_int("lastFailure");
      result.last_failure_cause = hr.string("lastFailureCause");
      if (!hr.ok()) {
        r.fail_with("field 'health': " + hr.error().message);
        break;
      }
      i.health.push_back(result);
    }
  }
  if (const picojson::value* mh = r.get("mesosHealthy", false)) {
    if (!mh->is<bool>()) {
      r.fail("mesosHealthy", "a boolean");
    } else {
      i.mesos_healthy = mh->get<bool>();
    }
  }
  if (!r.ok()) {
    return r.error();
  }
  if (i.task_id.empty()) {
    return Error("corrupt stored instance: field 'taskId' must not be empty");
  }
  return i;
}

picojson::value deployment_to_store(const Deployment& d) {
  using instance_detail::num;
  picojson::object o;
  o["id"] = picojson::value(d.id);
  o["version"] = num(d.version);
  o["affectedApps"] = instance_detail::string_array(d.affected_apps);
  o["steps"] = instance_detail::steps_json(d);
  o["currentStep"] = num(static_cast<int64_t>(d.current_step));
  picojson::object original;
  for (const auto& [id, app] : d.original) {
    original[id] = app_to_store(app);
  }
  o["original"] = picojson::value(std::move(original));
  picojson::object target;
  for (const auto& [id, app] : d.target) {
    target[id] = app_to_store(app);
  }
  o["target"] = picojson::value(std::move(target));
  o["toKill"] = instance_detail::string_array(d.to_kill);
  return picojson::value(std::move(o));
}

Try<Deployment> deployment_from_store(const picojson::value& v) {
  instance_detail::StoreReader r(v, "deployment");
  Deployment d;
  d.id = r.string("id");
  d.version = r.integer("version");
  d.affected_apps = r.string_list("affectedApps");
  if (const picojson::array* steps = r.array("steps")) {
    for (const picojson::value& s : *steps) {
      instance_detail::StoreReader sr(s, "deployment step");
      std::vector<DeploymentAction> step;
      if (const picojson::array* actions = sr.array("actions")) {
        for (const picojson::value& a : *actions) {
          if (std::optional<DeploymentAction> action = instance_detail::action_from_store(a, &sr)) {
            step.push_back(*action);
          }
        }
      }
      if (!sr.ok()) {
        r.fail_with("field 'steps': " + sr.error().message);
        break;
      }
      d.steps.push_back(std::move(step));
    }
  }
  int64_t current = r.integer("currentStep");
  if (r.ok() && (current < 0 || static_cast<size_t>(current) > d.steps.size())) {
    r.fail("currentStep", "between 0 and the number of steps (got " + std::to_string(current) + ")");
  }
  d.current_step = static_cast<size_t>(std::max<int64_t>(current, 0));
  if (r.ok()) {
    instance_detail::apps_from_store(r.object("original"), &d.original, &r, "original");
  }
  if (r.ok()) {
    instance_detail::apps_from_store(r.object("target"), &d.target, &r, "target");
  }
  d.to_kill = r.string_list("toKill");
  if (!r.ok()) {
    return r.error();
  }
  return d;
}

picojson::value app_to_store(const App& app) { return picojson::value(app_json(app)); }

Try<App> app_from_store(const picojson::value& v) {
  if (!v.is<picojson::object>()) {
    return Error("corrupt stored app: not a JSON object");
  }
  const picojson::object& o = v.get<picojson::object>();
  std::variant<App, ApiError> parsed = parse_app(v);
  if (std::holds_alternative<ApiError>(parsed)) {
    const ApiError& e = std::get<ApiError>(parsed);
    std::string id = o.count("id") != 0 && o.at("id").is<std::string>() ? o.at("id").get<std::string>() : "?";
    return Error("corrupt stored app '" + id + "': " + json_serialize(e.body));
  }
  App app = std::get<App>(std::move(parsed));
  auto stamp = [](const picojson::object& obj, const std::string& key, Timestamp* out) -> std::optional<Error> {
    auto it = obj.find(key);
    if (it == obj.end() || !it->second.is<std::string>()) {
      return Error("field '" + key + "' must be an ISO-8601 timestamp string");
    }
    Try<Timestamp> t = parse_timestamp(it->second.get<std::string>());
    if (t.is_error()) {
      return Error("field '" + key + "': " + t.error());
    }
    *out = *t;
    return std::nullopt;
  };
  if (std::optional<Error> e = stamp(o, "version", &app.version)) {
    return Error("corrupt stored app '" + app.id + "': " + e->message);
  }
  auto vi = o.find("versionInfo");
  if (vi == o.end() || !vi->second.is<picojson::object>()) {
    return Error("corrupt stored app '" + app.id + "': field 'versionInfo' must be an object");
  }
  const picojson::object& info = vi->second.get<picojson::object>();
  for (const auto& [key, out] : {std::pair<std::string, Timestamp*>{"lastScalingAt", &app.last_scaling_at},
                                 std::pair<std::string, Timestamp*>{"lastConfigChangeAt", &app.last_config_change_at}}) {
    if (std::optional<Error> e = stamp(info, key, out)) {
      return Error("corrupt stored app '" + app.id + "': versionInfo." + e->message);
    }
  }
  return app;
}

}  // namespace stoa::services
