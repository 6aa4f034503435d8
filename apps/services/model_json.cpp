// The app as Marathon writes it (model.hpp: app_json, health_check_json):
// every field defaulted, so clients can index without checking.

#include "apps/services/model.hpp"

#include "common/json.hpp"

namespace stoa::services {

namespace {
namespace model_out {

picojson::value num(int v) { return picojson::value(static_cast<int64_t>(v)); }

picojson::value string_map(const std::map<std::string, std::string>& m) {
  picojson::object o;
  for (const auto& [k, v] : m) {
    o[k] = picojson::value(v);
  }
  return picojson::value(std::move(o));
}

picojson::value string_array(const std::vector<std::string>& v) {
  picojson::array a;
  a.reserve(v.size());
  for (const std::string& s : v) {
    a.emplace_back(s);
  }
  return picojson::value(std::move(a));
}

picojson::value port_definition(const PortDefinition& p) {
  picojson::object o;
  o["port"] = num(p.port);
  o["protocol"] = picojson::value(p.protocol);
  if (p.name) {
    o["name"] = picojson::value(*p.name);
  }
  o["labels"] = string_map(p.labels);
  return picojson::value(std::move(o));
}

picojson::value port_mapping(const PortMapping& p) {
  picojson::object o;
  o["containerPort"] = num(p.container_port);
  o["hostPort"] = num(p.host_port);
  o["servicePort"] = num(p.service_port);
  o["protocol"] = picojson::value(p.protocol);
  if (p.name) {
    o["name"] = picojson::value(*p.name);
  }
  o["labels"] = string_map(p.labels);
  return picojson::value(std::move(o));
}

picojson::value constraint(const Constraint& c) {
  picojson::array a{picojson::value(c.field), picojson::value(c.op)};
  if (c.value) {
    a.emplace_back(*c.value);
  }
  return picojson::value(std::move(a));
}

picojson::value readiness_check(const ReadinessCheck& r) {
  picojson::object o;
  o["name"] = picojson::value(r.name);
  o["protocol"] = picojson::value(r.protocol);
  o["path"] = picojson::value(r.path);
  o["portName"] = picojson::value(r.port_name);
  o["intervalSeconds"] = num(r.interval_seconds);
  o["timeoutSeconds"] = num(r.timeout_seconds);
  picojson::array codes;
  for (int c : r.http_status_codes_for_ready) {
    codes.push_back(num(c));
  }
  o["httpStatusCodesForReady"] = picojson::value(std::move(codes));
  o["preserveLastResponse"] = picojson::value(r.preserve_last_response);
  return picojson::value(std::move(o));
}

picojson::value fetch_uri(const FetchUri& f) {
  picojson::object o;
  o["uri"] = picojson::value(f.uri);
  o["extract"] = picojson::value(f.extract);
  o["executable"] = picojson::value(f.executable);
  o["cache"] = picojson::value(f.cache);
  if (f.dest_path) {
    o["destPath"] = picojson::value(*f.dest_path);
  }
  return picojson::value(std::move(o));
}

picojson::value container(const Container& c) {
  picojson::object o;
  o["type"] = picojson::value(c.type);
  if (c.docker) {
    picojson::object d;
    d["image"] = picojson::value(c.docker->image);
    d["forcePullImage"] = picojson::value(c.docker->force_pull_image);
    d["privileged"] = picojson::value(c.docker->privileged);
    picojson::array params;
    for (const auto& [k, v] : c.docker->parameters) {
      picojson::object p;
      p["key"] = picojson::value(k);
      p["value"] = picojson::value(v);
      params.emplace_back(std::move(p));
    }
    d["parameters"] = picojson::value(std::move(params));
    if (c.docker->network) {
      d["network"] = picojson::value(*c.docker->network);
    }
    o["docker"] = picojson::value(std::move(d));
  }
  picojson::array volumes;
  for (const Volume& v : c.volumes) {
    picojson::object vo;
    vo["containerPath"] = picojson::value(v.container_path);
    vo["hostPath"] = picojson::value(v.host_path);
    vo["mode"] = picojson::value(v.mode);
    volumes.emplace_back(std::move(vo));
  }
  o["volumes"] = picojson::value(std::move(volumes));
  picojson::array mappings;
  for (const PortMapping& p : c.port_mappings) {
    mappings.push_back(port_mapping(p));
  }
  o["portMappings"] = picojson::value(std::move(mappings));
  return picojson::value(std::move(o));
}

picojson::value network(const Network& n) {
  picojson::object o;
  o["mode"] = picojson::value(n.mode);
  if (n.name) {
    o["name"] = picojson::value(*n.name);
  }
  if (!n.labels.empty()) {
    o["labels"] = string_map(n.labels);
  }
  return picojson::value(std::move(o));
}

}  // namespace model_out
}  // namespace

picojson::value health_check_json(const HealthCheck& hc) {
  using model_out::num;
  picojson::object o;
  o["protocol"] = picojson::value(hc.protocol);
  if (hc.protocol == "HTTP" || hc.protocol == "HTTPS" || hc.protocol == "MESOS_HTTP" ||
      hc.protocol == "MESOS_HTTPS") {
    o["path"] = picojson::value(hc.path);
  }
  // Always written (marathon.md §7.1: marathon-lb pairs checks with service
  // ports by portIndex); a check on a fixed `port` says 0, which `port` wins over.
  o["portIndex"] = num(hc.port_index.value_or(0));
  if (hc.port) {
    o["port"] = num(*hc.port);
  }
  if (hc.command) {
    picojson::object c;
    c["value"] = picojson::value(*hc.command);
    o["command"] = picojson::value(std::move(c));
  }
  o["gracePeriodSeconds"] = num(hc.grace_period_seconds);
  o["intervalSeconds"] = num(hc.interval_seconds);
  o["timeoutSeconds"] = num(hc.timeout_seconds);
  o["maxConsecutiveFailures"] = num(hc.max_consecutive_failures);
  o["delaySeconds"] = num(hc.delay_seconds);
  o["ignoreHttp1xx"] = picojson::value(hc.ignore_http1xx);
  o["ipProtocol"] = picojson::value(hc.ip_protocol);
  return picojson::value(std::move(o));
}

picojson::object app_json(const App& app) {
  using model_out::num;
  picojson::object o;
  o["id"] = picojson::value(app.id);
  if (app.cmd) {
    o["cmd"] = picojson::value(*app.cmd);
  }
  if (app.args) {
    o["args"] = model_out::string_array(*app.args);
  }
  if (app.user) {
    o["user"] = picojson::value(*app.user);
  }
  if (!app.env.empty()) {
    o["env"] = model_out::string_map(app.env);
  }
  o["instances"] = num(app.instances);
  o["cpus"] = json_number(app.cpus);
  o["mem"] = json_number(app.mem);
  o["disk"] = json_number(app.disk);
  o["gpus"] = json_number(app.gpus);
  o["executor"] = picojson::value(app.executor);
  o["backoffSeconds"] = json_number(app.backoff_seconds);
  o["backoffFactor"] = json_number(app.backoff_factor);
  o["maxLaunchDelaySeconds"] = json_number(app.max_launch_delay_seconds);
  o["labels"] = model_out::string_map(app.labels);
  picojson::array pds;
  for (const PortDefinition& p : app.port_definitions) {
    pds.push_back(model_out::port_definition(p));
  }
  o["portDefinitions"] = picojson::value(std::move(pds));
  o["requirePorts"] = picojson::value(app.require_ports);
  picojson::array nets;
  for (const Network& n : app.networks) {
    nets.push_back(model_out::network(n));
  }
  if (nets.empty()) {
    nets.push_back(model_out::network(Network{}));
  }
  o["networks"] = picojson::value(std::move(nets));
  picojson::array cons;
  for (const Constraint& c : app.constraints) {
    cons.push_back(model_out::constraint(c));
  }
  o["constraints"] = picojson::value(std::move(cons));
  if (!app.health_checks.empty()) {
    picojson::array hcs;
    for (const HealthCheck& hc : app.health_checks) {
      hcs.push_back(health_check_json(hc));
    }
    o["healthChecks"] = picojson::value(std::move(hcs));
  }
  picojson::array rcs;
  for (const ReadinessCheck& r : app.readiness_checks) {
    rcs.push_back(model_out::readiness_check(r));
  }
  o["readinessChecks"] = picojson::value(std::move(rcs));
  picojson::object us;
  us["minimumHealthCapacity"] = json_number(app.upgrade_strategy.minimum_health_capacity);
  us["maximumOverCapacity"] = json_number(app.upgrade_strategy.maximum_over_capacity);
  o["upgradeStrategy"] = picojson::value(std::move(us));
  if (app.unreachable_strategy.disabled) {
    o["unreachableStrategy"] = picojson::value("disabled");
  } else {
    picojson::object ur;
    ur["inactiveAfterSeconds"] = num(app.unreachable_strategy.inactive_after_seconds);
    ur["expungeAfterSeconds"] = num(app.unreachable_strategy.expunge_after_seconds);
    o["unreachableStrategy"] = picojson::value(std::move(ur));
  }
  o["killSelection"] = picojson::value(app.kill_selection);
  if (app.task_kill_grace_period_seconds) {
    o["taskKillGracePeriodSeconds"] = num(*app.task_kill_grace_period_seconds);
  }
  picojson::array fetch;
  for (const FetchUri& f : app.fetch) {
    fetch.push_back(model_out::fetch_uri(f));
  }
  o["fetch"] = picojson::value(std::move(fetch));
  if (app.container) {
    o["container"] = model_out::container(*app.container);
  }
  o["dependencies"] = model_out::string_array(app.dependencies);
  if (!app.accepted_resource_roles.empty()) {
    o["acceptedResourceRoles"] = model_out::string_array(app.accepted_resource_roles);
  }
  o["role"] = picojson::value(app.role);
  o["secrets"] = picojson::value(picojson::object{});
  o["version"] = picojson::value(format_timestamp(app.version));
  picojson::object vi;
  vi["lastScalingAt"] = picojson::value(format_timestamp(app.last_scaling_at));
  vi["lastConfigChangeAt"] = picojson::value(format_timestamp(app.last_config_change_at));
  o["versionInfo"] = picojson::value(std::move(vi));
  return o;
}

}  // namespace stoa::services
