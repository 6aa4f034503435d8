#include "master/validation.hpp"

#include <algorithm>
#include <sstream>

#include "common/json.hpp"
#include "common/roles.hpp"
#include "common/strings.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace stoa::master {

// One rule for role names everywhere (common/roles.hpp).
std::optional<std::string> validate_role(const std::string& role) { return check_role_name(role); }

std::vector<std::string> framework_roles(const FrameworkInfo& info) {
  std::vector<std::string> roles(info.roles().begin(), info.roles().end());
  if (roles.empty()) {
    roles.push_back(info.has_role() ? info.role() : "*");
  }
  return roles;
}

std::optional<std::string> validate_framework_info(const FrameworkInfo& info,
                                                   const std::optional<std::string>& whitelist) {
  if (info.name().empty()) {
    return "FrameworkInfo.name must not be empty";
  }
  std::vector<std::string> roles(info.roles().begin(), info.roles().end());
  if (roles.empty()) {
    roles.push_back(info.role());
  }
  for (const std::string& r : roles) {
    if (auto e = validate_role(r)) {
      return "FrameworkInfo: " + *e;
    }
    if (whitelist && r != "*") {
      std::vector<std::string> allowed = split(*whitelist, ',');
      bool found = std::find(allowed.begin(), allowed.end(), r) != allowed.end();
      if (!found) {
        return "Role '" + r + "' is not present in the master's --roles";
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> validate_offers(const MasterState& st, const std::string& framework_id,
                                           const std::vector<std::string>& offer_ids) {
  if (offer_ids.empty()) {
    return "No offers specified";
  }
  std::set<std::string> seen;
  std::string slave;
  for (const std::string& oid : offer_ids) {
    if (!seen.insert(oid).second) {
      return "Offer " + oid + " appears more than once";
    }
    auto it = st.offers.find(oid);
    if (it == st.offers.end()) {
      return "Offer " + oid + " is no longer valid";
    }
    if (it->second.offer.framework_id().value() != framework_id) {
      return "Offer " + oid + " has invalid framework " + it->second.offer.framework_id().value() +
             " while framework " + framework_id + " is expected";
    }
    const std::string& sid = it->second.offer.slave_id().value();
    if (!slave.empty() && sid != slave) {
      return "Aggregated offers must belong to one single slave; offer " + oid + " is on " + sid +
             " but an earlier one on " + slave;
    }
    slave = sid;
  }
  return std::nullopt;
}

std::optional<std::string> validate_task(const TaskInfo& task, const FrameworkRecord& framework,
                                         const std::string& slave_id, const Resources& available,
                                         const std::set<std::string>& seen, Resources* resources) {
  const std::string& id = task.task_id().value();
  if (id.empty()) {
    return "Task ID must not be empty";
  }
  for (char c : id) {
    if (std::iscntrl(static_cast<unsigned char>(c)) || std::isspace(static_cast<unsigned char>(c)) ||
        c == '/' || c == '\\') {
      return "Task ID '" + id + "' contains invalid characters";
    }
  }
  if (framework.tasks.count(id) || seen.count(id)) {
    return "Task ID '" + id + "' is already in use";
  }
  if (task.slave_id().value() != slave_id) {
    return "Task uses slave " + task.slave_id().value() + " but the offer is for slave " + slave_id;
  }
  if (task.has_executor()) {
    return "Tasks with a custom executor are not supported yet; use TaskInfo.command";
  }
  if (!task.has_command()) {
    return "Task has neither a command nor an executor";
  }
  const bool docker = task.has_container() && task.container().type() == ContainerInfo::DOCKER;
  if (task.command().shell() && task.command().value().empty()) {
    return "Task's shell command is empty";
  }
  // A Docker task without a program runs its image's own entrypoint.
  if (!docker && !task.command().shell() && !task.command().has_value() && task.command().arguments_size() == 0) {
    return "Task's command has no program";
  }
  if (task.has_health_check()) {
    if (auto e = validate_health_check(task.health_check())) {
      return "Task '" + id + "' has an invalid health check: " + *e;
    }
  }
  Try<Resources> r = Resources::from_proto(task.resources());
  if (r.is_error()) {
    return "Task has invalid resources: " + r.error();
  }
  if (r->empty()) {
    return "Task uses no resources";
  }
  if (!available.contains(*r)) {
    return "Task uses more resources " + r->to_string() + " than available " + available.to_string();
  }
  if (task.has_container()) {
    if (auto e = validate_container(task.container(), *r)) {
      return "Task '" + id + "' has an invalid container: " + *e;
    }
  }
  *resources = *r;
  return std::nullopt;
}

namespace {

std::string number_text(double d) {
  std::ostringstream out;
  out.precision(17);
  out << d;
  return out.str();
}

std::optional<std::string> check_port(const std::string& field, uint32_t port) {
  if (port == 0 || port > 65535) {
    return field + " " + std::to_string(port) + " is out of range (must be 1..65535)";
  }
  return std::nullopt;
}

std::optional<std::string> check_command(const CommandInfo& c) {
  if (c.shell() && c.value().empty()) {
    return std::string("health_check.command.value must not be empty for a shell command");
  }
  if (!c.shell() && c.value().empty()) {
    return std::string("health_check.command.value (the program) must not be empty");
  }
  for (const auto& v : c.environment().variables()) {
    if (v.name().empty() || v.name().find('=') != std::string::npos) {
      return "health_check.command.environment has an invalid variable name '" + v.name() + "'";
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> validate_container(const ContainerInfo& info, const Resources& task_resources) {
  for (const Volume& v : info.volumes()) {
    if (v.container_path().empty()) {
      return std::string("a volume has an empty container_path");
    }
    if (!v.has_host_path() || v.host_path().empty()) {
      return "volume '" + v.container_path() + "' has no host_path (only host and sandbox volumes are supported)";
    }
  }
  if (info.type() == ContainerInfo::MESOS) {
    if (info.has_docker()) {
      return std::string("a container of type MESOS must not have docker (use type DOCKER)");
    }
    return std::nullopt;
  }
  if (!info.has_docker() || info.docker().image().empty()) {
    return std::string("a container of type DOCKER needs docker.image");
  }
  const ContainerInfo::DockerInfo& d = info.docker();
  const auto network = d.network();
  const std::string network_name = ContainerInfo::DockerInfo::Network_Name(network);
  if (network == ContainerInfo::DockerInfo::USER &&
      (info.network_infos_size() == 0 || info.network_infos(0).name().empty())) {
    return std::string("docker.network USER needs the network's name in network_infos[0].name");
  }
  if (network == ContainerInfo::DockerInfo::HOST && info.has_hostname()) {
    return "hostname '" + info.hostname() + "' cannot be set with docker.network HOST";
  }
  const std::vector<Range> ports = task_resources.ranges("ports");
  for (const auto& m : d.port_mappings()) {
    if (network != ContainerInfo::DockerInfo::BRIDGE && network != ContainerInfo::DockerInfo::USER) {
      return "docker.port_mappings need docker.network BRIDGE or USER, not " + network_name;
    }
    if (auto e = check_port("docker.port_mappings host_port", m.host_port())) {
      return e;
    }
    if (auto e = check_port("docker.port_mappings container_port", m.container_port())) {
      return e;
    }
    if (m.has_protocol() && m.protocol() != "tcp" && m.protocol() != "udp") {
      return "docker.port_mappings protocol '" + m.protocol() + "' is not tcp or udp";
    }
    bool owned = false;
    for (const Range& range : ports) {
      owned = owned || (m.host_port() >= range.begin && m.host_port() <= range.end);
    }
    if (!owned) {
      return "docker.port_mappings host_port " + std::to_string(m.host_port()) +
             " is not among the task's ports resources";
    }
  }
  for (const Parameter& p : d.parameters()) {
    if (p.key().empty() || p.key()[0] == '-') {
      return "docker.parameters key '" + p.key() + "' is invalid (give the option's name without dashes)";
    }
  }
  return std::nullopt;
}

std::optional<std::string> validate_health_check(const HealthCheck& check) {
  const std::pair<const char*, double> durations[] = {{"delay_seconds", check.delay_seconds()},
                                                       {"interval_seconds", check.interval_seconds()},
                                                       {"timeout_seconds", check.timeout_seconds()},
                                                       {"grace_period_seconds", check.grace_period_seconds()}};
  for (const auto& [name, value] : durations) {
    if (!std::isfinite(value) || value < 0 || value > MAX_HEALTH_CHECK_SECONDS) {
      return std::string("health_check.") + name + " " + number_text(value) +
             " is invalid (must be a number of seconds from 0 to " + number_text(MAX_HEALTH_CHECK_SECONDS) + ")";
    }
  }
  if (check.interval_seconds() == 0) {
    return std::string("health_check.interval_seconds 0 is invalid (must be above 0)");
  }
  if (check.timeout_seconds() == 0) {
    return std::string("health_check.timeout_seconds 0 is invalid (must be above 0)");
  }
  if (check.consecutive_failures() == 0) {
    return std::string("health_check.consecutive_failures 0 is invalid (must be at least 1)");
  }
  switch (check.has_type() ? check.type() : HealthCheck::UNKNOWN) {
    case HealthCheck::COMMAND:
      if (!check.has_command()) {
        return std::string("health_check.type is COMMAND but health_check.command is missing");
      }
      return check_command(check.command());
    case HealthCheck::HTTP: {
      if (!check.has_http()) {
        return std::string("health_check.type is HTTP but health_check.http is missing");
      }
      const HealthCheck::HTTPCheckInfo& http = check.http();
      if (auto e = check_port("health_check.http.port", http.port())) {
        return e;
      }
      if (http.scheme() == "https") {
        return std::string("health_check.http.scheme 'https' is not supported (only 'http')");
      }
      if (http.scheme() != "http") {
        return "health_check.http.scheme '" + http.scheme() + "' is invalid (must be 'http')";
      }
      if (http.path().empty() || http.path()[0] != '/') {
        return "health_check.http.path '" + http.path() + "' must start with '/'";
      }
      for (char c : http.path()) {
        if (std::iscntrl(static_cast<unsigned char>(c)) || c == ' ') {
          return "health_check.http.path '" + http.path() + "' contains spaces or control characters";
        }
      }
      for (uint32_t s : http.statuses()) {
        if (s < 100 || s > 599) {
          return "health_check.http.statuses has " + std::to_string(s) + ", not an HTTP status (100..599)";
        }
      }
      return std::nullopt;
    }
    case HealthCheck::TCP:
      if (!check.has_tcp()) {
        return std::string("health_check.type is TCP but health_check.tcp is missing");
      }
      return check_port("health_check.tcp.port", check.tcp().port());
    default:
      return check.has_type() ? "health_check.type " + std::to_string(static_cast<int>(check.type())) +
                                    " is not supported (must be COMMAND, HTTP or TCP)"
                              : std::string("health_check.type is missing (must be COMMAND, HTTP or TCP)");
  }
}

std::optional<std::string> validate_weight(double weight) {
  if (!std::isfinite(weight) || weight < MIN_ROLE_WEIGHT || weight > MAX_ROLE_WEIGHT) {
    std::ostringstream out;
    out.precision(17);
    out << "weight " << weight << " is out of range: a role's weight must be a number from "
        << MIN_ROLE_WEIGHT << " to " << MAX_ROLE_WEIGHT;
    return out.str();
  }
  return std::nullopt;
}

Try<std::map<std::string, double>> parse_weights(const std::string& text) {
  std::map<std::string, double> out;
  for (const std::string& entry : split(text, ',')) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos) {
      return Error("invalid weight '" + entry + "' (expected role=weight)");
    }
    std::string role = entry.substr(0, eq);
    if (auto e = validate_role(role)) {
      return Error("invalid weight '" + entry + "': " + *e);
    }
    std::string num = entry.substr(eq + 1);
    char* end = nullptr;
    double w = num.empty() ? NAN : std::strtod(num.c_str(), &end);
    if (num.empty() || end != num.c_str() + num.size()) {
      return Error("invalid weight '" + entry + "' (must be a positive number)");
    }
    if (auto e = validate_weight(w)) {
      return Error("invalid weight '" + entry + "': " + *e);
    }
    if (out.count(role)) {
      return Error("role '" + role + "' is given more than one weight");
    }
    out[role] = w;
  }
  return out;
}

Try<std::map<std::string, double>> parse_weights_body(std::string_view body) {
  Try<picojson::value> v = json_parse(body);
  if (v.is_error()) {
    return Error("Invalid JSON in the request body: " + v.error());
  }
  if (!v->is<picojson::array>()) {
    return Error("Expected a JSON array of {\"role\": ..., \"weight\": ...}");
  }
  const picojson::array& entries = v->get<picojson::array>();
  if (entries.empty()) {
    return Error("The request body lists no weights: expected [{\"role\": ..., \"weight\": ...}, ...]");
  }
  std::map<std::string, double> weights;
  for (size_t i = 0; i < entries.size(); ++i) {
    const picojson::value& e = entries[i];
    std::string where = "Invalid weight entry [" + std::to_string(i) + "] " + json_serialize(e).substr(0, 200);
    if (!e.is<picojson::object>() || !e.get("role").is<std::string>() ||
        !e.get("weight").is<double>()) {
      return Error(where + ": needs a string 'role' and a number 'weight'");
    }
    const std::string& role = e.get("role").get<std::string>();
    if (auto bad = validate_role(role)) {
      return Error(where + ": field 'role': " + *bad);
    }
    if (auto bad = validate_weight(e.get("weight").get<double>())) {
      return Error(where + ": field 'weight': " + *bad);
    }
    if (weights.count(role)) {
      return Error(where + ": role '" + role + "' is given more than one weight");
    }
    weights[role] = e.get("weight").get<double>();
  }
  return weights;
}

namespace {

// Upper bound of one quota scalar: far above any cluster, far below where
// double arithmetic on sums loses units.
constexpr double MAX_QUOTA_SCALAR = 1e15;

Try<Resources> parse_guarantee(const picojson::value& g) {
  if (g.is<std::string>()) {
    return Resources::parse(g.get<std::string>());
  }
  std::string text;
  auto add = [&](const std::string& name, const picojson::value& value) -> std::optional<std::string> {
    // The name goes into resource text: no syntax characters may ride in
    // with it ("cpus(web)" would reserve, "cpus:1;mem" would add a resource).
    if (name.empty() || name.size() > 128) {
      return "invalid resource name '" + name.substr(0, 128) + "'";
    }
    for (char c : name) {
      if (std::iscntrl(static_cast<unsigned char>(c)) || std::isspace(static_cast<unsigned char>(c)) ||
          std::string_view(";:()[]{},|*").find(c) != std::string_view::npos) {
        return "invalid resource name '" + name + "': it may not contain whitespace or any of ;:()[]{},|*";
      }
    }
    if (!value.is<double>()) {
      return "quota for '" + name + "' must be a number, got " + json_serialize(value).substr(0, 100);
    }
    double d = value.get<double>();
    if (!std::isfinite(d) || d < 0 || d > MAX_QUOTA_SCALAR) {
      return "quota for '" + name + "' must be a number from 0 to 1e15, got " + json_serialize(value);
    }
    std::ostringstream out;
    out.precision(17);
    out << name << ":" << d;
    text += (text.empty() ? "" : ";") + out.str();
    return std::nullopt;
  };
  if (g.is<picojson::object>()) {
    for (const auto& [name, value] : g.get<picojson::object>()) {
      if (auto e = add(name, value)) {
        return Error(*e);
      }
    }
  } else if (g.is<picojson::array>()) {
    for (const picojson::value& r : g.get<picojson::array>()) {
      if (!r.is<picojson::object>() || !r.get("name").is<std::string>() ||
          !r.get("scalar").is<picojson::object>()) {
        return Error("invalid resource " + json_serialize(r).substr(0, 200) +
                     ": quota takes scalar resources");
      }
      if (auto e = add(r.get("name").get<std::string>(), r.get("scalar").get("value"))) {
        return Error(*e);
      }
    }
  } else {
    return Error("'guarantee' must be a list of resources, an object or a string");
  }
  if (text.empty()) {
    return Error("empty guarantee");
  }
  return Resources::parse(text);
}

}  // namespace

Try<QuotaRequest> parse_quota_body(std::string_view body) {
  Try<picojson::value> v = json_parse(body);
  if (v.is_error()) {
    return Error("Invalid JSON in the request body: " + v.error());
  }
  if (!v->is<picojson::object>() || !v->get("role").is<std::string>() || !v->contains("guarantee")) {
    return Error("Expected {\"role\": ..., \"guarantee\": ...}");
  }
  const std::string& role = v->get("role").get<std::string>();
  if (auto bad = validate_role(role)) {
    return Error("Invalid quota request: field 'role': " + *bad);
  }
  Try<Resources> guarantee = parse_guarantee(v->get("guarantee"));
  if (guarantee.is_error()) {
    return Error("Invalid guarantee for role '" + role + "': " + guarantee.error());
  }
  return QuotaRequest{role, *guarantee};
}

}  // namespace stoa::master
