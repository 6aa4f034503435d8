// Validating an app definition (model.hpp: parse_app, apply_update), once
// model_parse.cpp has read and normalized it: every violation of the whole
// app, with its path, for a 422 "Object is not valid". Nothing here throws.

#include <algorithm>
#include <climits>
#include <optional>
#include <regex>
#include <set>
#include <string>

#include "apps/services/model.hpp"
#include "apps/services/model_internal.hpp"
#include "apps/services/store_layout.hpp"
#include "common/json.hpp"

namespace stoa::services::model_in {

namespace {

// A probe's path goes into a request line as it is: a space or a control
// character (CR, LF) would end it early or forge headers.
bool url_path_chars(const std::string& path) {
  return std::none_of(path.begin(), path.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

bool valid_protocol(const std::string& p) { return p == "tcp" || p == "udp" || p == "udp,tcp" || p == "tcp,udp"; }

void validate_ports(Reader& r, const App& app) {
  std::set<std::string> names;
  std::set<int> ports;
  bool duplicate_name = false;
  bool duplicate_port = false;
  for (size_t i = 0; i < app.port_definitions.size(); ++i) {
    const PortDefinition& p = app.port_definitions[i];
    std::string path = idx("/portDefinitions", i);
    r.between(p.port, 0, 65535, path + "/port");
    if (!valid_protocol(p.protocol)) {
      r.violation(path + "/protocol", "Invalid protocol. Only 'udp', 'tcp', and 'udp,tcp' are allowed.");
    }
    if (p.name && !names.insert(*p.name).second) {
      duplicate_name = true;
    }
    if (p.port != 0 && !ports.insert(p.port).second) {
      duplicate_port = true;
    }
  }
  if (duplicate_name) {
    r.violation("/portDefinitions", "Port names must be unique.");
  }
  if (duplicate_port) {
    r.violation("/portDefinitions", "Ports must be unique.");
  }
  if (app.network_mode() != "host" && !app.port_definitions.empty()) {
    r.violation("/portDefinitions",
                "Port definitions are only allowed with host networking; use container.portMappings with " +
                    app.network_mode() + " networking");
  }
}

void validate_container(Reader& r, const App& app) {
  if (!app.container) {
    return;
  }
  const Container& c = *app.container;
  if (c.type == "DOCKER") {
    if (!c.docker) {
      r.violation("/container/docker", "must be defined for a DOCKER container");
    } else if (c.docker->image.empty()) {
      r.violation("/container/docker/image", "must not be empty");
    }
  }
  for (size_t i = 0; i < c.volumes.size(); ++i) {
    if (c.volumes[i].container_path.empty()) {
      r.violation(idx("/container/volumes", i) + "/containerPath", "must not be empty");
    }
    if (c.volumes[i].host_path.empty()) {
      r.violation(idx("/container/volumes", i) + "/hostPath", "must not be empty");
    }
  }
  if (!c.port_mappings.empty() && app.network_mode() == "host") {
    r.violation("/container/portMappings",
                "Port mappings are only allowed with container or container/bridge networking; use "
                "portDefinitions with host networking");
  }
  std::set<std::string> names;
  bool duplicate_name = false;
  for (size_t i = 0; i < c.port_mappings.size(); ++i) {
    const PortMapping& p = c.port_mappings[i];
    std::string path = idx("/container/portMappings", i);
    r.between(p.container_port, 0, 65535, path + "/containerPort");
    r.between(p.host_port, 0, 65535, path + "/hostPort");
    r.between(p.service_port, 0, 65535, path + "/servicePort");
    if (!valid_protocol(p.protocol)) {
      r.violation(path + "/protocol", "Invalid protocol. Only 'udp', 'tcp', and 'udp,tcp' are allowed.");
    }
    if (p.name && !names.insert(*p.name).second) {
      duplicate_name = true;
    }
  }
  if (duplicate_name) {
    r.violation("/container/portMappings", "Port names must be unique.");
  }
}

void validate_networks(Reader& r, const App& app) {
  bool exclusive = false;
  for (size_t i = 0; i < app.networks.size(); ++i) {
    const Network& n = app.networks[i];
    std::string path = idx("/networks", i);
    if (n.mode == "container") {
      if (!n.name || n.name->empty()) {
        r.violation(path + "/name", "container networks must be given the name of the network to join");
      }
    } else {
      exclusive = true;
      if (n.name) {
        r.violation(path + "/name", "only container networks may have a name (mode is " + n.mode + ")");
      }
    }
  }
  if (exclusive && app.networks.size() > 1) {
    r.violation("/networks", "host and container/bridge networking may not be combined with other networks");
  }
}

void validate_health_checks(Reader& r, const App& app) {
  size_t port_count = app.host_port_count();
  if (app.network_mode() != "host" && app.container) {
    port_count = app.container->port_mappings.size();
  }
  int mesos_checks = 0;
  int marathon_checks = 0;
  for (size_t i = 0; i < app.health_checks.size(); ++i) {
    const HealthCheck& hc = app.health_checks[i];
    std::string path = idx("/healthChecks", i);
    if (hc.marathon_level()) {
      ++marathon_checks;
    } else {
      ++mesos_checks;
    }
    if (hc.protocol == "COMMAND") {
      if (!hc.command || hc.command->empty()) {
        r.violation(path + "/command", "A COMMAND health check needs a command: {\"value\": \"<shell command>\"}");
      }
    } else if (hc.port) {
      r.between(*hc.port, 0, 65535, path + "/port");
    } else if (hc.port_index && (*hc.port_index < 0 || static_cast<size_t>(*hc.port_index) >= port_count)) {
      r.violation(path, "Health check port indices must address an element of the ports array or container port "
                        "mappings.");
    }
    bool http = hc.protocol == "HTTP" || hc.protocol == "HTTPS" || hc.protocol == "MESOS_HTTP" ||
                hc.protocol == "MESOS_HTTPS";
    if (http && (hc.path.empty() || hc.path.front() != '/')) {
      r.violation(path + "/path", "must start with '/' (got '" + hc.path + "')");
    } else if (http && !url_path_chars(hc.path)) {
      r.violation(path + "/path", "must not contain spaces or control characters (got " +
                                      json_serialize(picojson::value(hc.path)) + ")");
    }
    r.at_least(hc.grace_period_seconds, 0, path + "/gracePeriodSeconds");
    r.at_least(hc.interval_seconds, 1, path + "/intervalSeconds");
    r.at_least(hc.timeout_seconds, 1, path + "/timeoutSeconds");
    r.at_least(hc.max_consecutive_failures, 0, path + "/maxConsecutiveFailures");
    r.at_least(hc.delay_seconds, 0, path + "/delaySeconds");
  }
  if (mesos_checks > 1) {
    r.violation("/healthChecks", "AppDefinition can contain at most one Mesos health check.");
  }
  if (mesos_checks > 0 && marathon_checks > 0) {
    r.violation("/healthChecks", "Marathon-level (HTTP, HTTPS, TCP) and Mesos-level (MESOS_HTTP, MESOS_HTTPS, "
                                 "MESOS_TCP, COMMAND) health checks cannot be mixed");
  }
}

void validate_readiness_checks(Reader& r, const App& app) {
  std::vector<std::string> names = app.port_names();
  for (size_t i = 0; i < app.readiness_checks.size(); ++i) {
    const ReadinessCheck& rc = app.readiness_checks[i];
    std::string path = idx("/readinessChecks", i);
    if (std::find(names.begin(), names.end(), rc.port_name) == names.end() || rc.port_name.empty()) {
      r.violation(path + "/portName",
                  "No port definition or port mapping is named '" + rc.port_name + "'");
    }
    if (rc.path.empty() || rc.path.front() != '/') {
      r.violation(path + "/path", "must start with '/' (got '" + rc.path + "')");
    } else if (!url_path_chars(rc.path)) {
      r.violation(path + "/path", "must not contain spaces or control characters (got " +
                                      json_serialize(picojson::value(rc.path)) + ")");
    }
    r.at_least(rc.interval_seconds, 1, path + "/intervalSeconds");
    r.at_least(rc.timeout_seconds, 1, path + "/timeoutSeconds");
    if (rc.http_status_codes_for_ready.empty()) {
      r.violation(path + "/httpStatusCodesForReady", "must not be empty");
    }
    for (size_t j = 0; j < rc.http_status_codes_for_ready.size(); ++j) {
      r.between(rc.http_status_codes_for_ready[j], 100, 999, idx(path + "/httpStatusCodesForReady", j));
    }
  }
}

bool valid_role(const std::string& role) {
  if (role.empty() || role == "." || role == ".." || role.front() == '-') {
    return false;
  }
  return std::none_of(role.begin(), role.end(), [](char c) {
    return c == '/' || c == '\\' || c == ' ' || c == '\t' || c == '\n' || static_cast<unsigned char>(c) < 0x20;
  });
}

bool valid_executor(const std::string& e) {
  static const std::regex re("^(//cmd)|(/?[^/]+(/[^/]+)*)|$");
  return std::regex_match(e, re);
}

}  // namespace

void check_constraint(Reader& r, const Constraint& c, const std::string& path) {
  static const std::set<std::string> ops = {"UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"};
  static const std::regex is_value("^[a-zA-Z0-9_/.-]*$");
  auto is_int = [](const std::optional<std::string>& v) {
    if (!v || v->empty() || v->size() > 9) {
      return false;
    }
    return std::all_of(v->begin(), v->end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  };
  if (ops.count(c.op) == 0) {
    r.violation(path, "Constraint operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, "
                      "UNLIKE or IS");
    return;
  }
  if (c.field.empty()) {
    r.violation(path, "Constraint field must not be empty");
  }
  if (c.op == "UNIQUE" && c.value) {
    r.violation(path, "UNIQUE does not accept a value");
  } else if (c.op == "GROUP_BY" && c.value && !is_int(c.value)) {
    r.violation(path, "GROUP BY must define an integer value or else no value at all");
  } else if (c.op == "MAX_PER" && !is_int(c.value)) {
    r.violation(path, "MAX_PER requires an integer value");
  } else if (c.op == "LIKE" || c.op == "UNLIKE") {
    if (!c.value || c.value->empty()) {
      r.violation(path, "LIKE and UNLIKE require a non-empty, regular expression value");
    } else {
      try {
        std::regex re(*c.value);
      } catch (const std::regex_error&) {
        r.violation(path, "'" + *c.value + "' is not a valid regular expression");
      }
    }
  } else if (c.op == "IS" && (!c.value || !std::regex_match(*c.value, is_value))) {
    r.violation(path, "IS only supports Mesos text and float values");
  }
}

void validate(Reader& r, App* app) {
  const App& a = *app;
  bool has_cmd = a.cmd.has_value();
  bool has_args = a.args.has_value() && !a.args->empty();  // Marathon: args.nonEmpty
  if ((has_cmd && has_args) || (!has_cmd && !has_args && !a.container)) {
    r.violation("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.");
  }
  if (has_cmd && a.cmd->empty()) {
    r.violation("/cmd", "must not be empty");
  }
  r.at_least(a.instances, 0, "/instances");
  r.at_least(a.cpus, 0.001, "/cpus");
  r.at_least(a.mem, 0.0, "/mem");
  r.at_least(a.disk, 0.0, "/disk");
  r.at_least(a.gpus, 0.0, "/gpus");
  // Marathon reads both as int32 seconds; a larger one would overflow the
  // launch delay's deadline in milliseconds.
  r.between(a.backoff_seconds, 0.0, static_cast<double>(INT_MAX), "/backoffSeconds");
  r.at_least(a.backoff_factor, 1.0, "/backoffFactor");
  r.between(a.max_launch_delay_seconds, 0.0, static_cast<double>(INT_MAX), "/maxLaunchDelaySeconds");
  if (a.task_kill_grace_period_seconds) {
    r.at_least(*a.task_kill_grace_period_seconds, 0, "/taskKillGracePeriodSeconds");
  }
  validate_ports(r, a);
  validate_container(r, a);
  validate_networks(r, a);
  validate_health_checks(r, a);
  validate_readiness_checks(r, a);
  r.between(a.upgrade_strategy.minimum_health_capacity, 0.0, 1.0, "/upgradeStrategy/minimumHealthCapacity");
  r.between(a.upgrade_strategy.maximum_over_capacity, 0.0, 1.0, "/upgradeStrategy/maximumOverCapacity");
  if (!a.unreachable_strategy.disabled) {
    r.at_least(a.unreachable_strategy.inactive_after_seconds, 0, "/unreachableStrategy/inactiveAfterSeconds");
    r.at_least(a.unreachable_strategy.expunge_after_seconds, 0, "/unreachableStrategy/expungeAfterSeconds");
    if (a.unreachable_strategy.expunge_after_seconds < a.unreachable_strategy.inactive_after_seconds) {
      r.violation("/unreachableStrategy",
                  "expungeAfterSeconds must be greater than or equal to inactiveAfterSeconds");
    }
  }
  for (size_t i = 0; i < a.fetch.size(); ++i) {
    if (a.fetch[i].uri.empty()) {
      r.violation(idx("/fetch", i) + "/uri", "must not be empty");
    }
  }
  if (!valid_role(a.role)) {
    r.violation("/role", "'" + a.role + "' is not a valid role name");
  }
  for (const std::string& role : a.accepted_resource_roles) {
    if (role != "*" && role != a.role) {
      r.violation("/acceptedResourceRoles", "acceptedResourceRoles can only contain * and " + a.role);
      break;
    }
  }
  if (!valid_executor(a.executor)) {
    r.violation("/executor", "must fully match regular expression '^(//cmd)|(/?[^/]+(/[^/]+)*)|$'");
  }
  std::string base = parent_id(a.id);
  for (size_t i = 0; i < a.dependencies.size(); ++i) {
    Try<std::string> dep = canonical_id(a.dependencies[i], base);
    if (dep.is_error()) {
      r.violation(idx("/dependencies", i), dep.error());
    } else {
      app->dependencies[i] = *dep;
    }
  }
}

std::optional<std::string> id_too_long(const std::string& id) {
  const std::string longest = new_task_id(id);
  const size_t encoded = store_layout::encode_component(longest).size();
  if (encoded <= store_layout::MAX_ENCODED_COMPONENT) {
    return std::nullopt;
  }
  return "'" + id.substr(0, 60) + (id.size() > 60 ? "..." : "") + "' is too long: its task ids ('" +
         longest.substr(0, 40) + "...') take " + std::to_string(encoded) + " bytes in the state store, at most " +
         std::to_string(store_layout::MAX_ENCODED_COMPONENT) + " fit ('.' counts 3, '/' becomes '_')";
}

}  // namespace stoa::services::model_in
