// Placing one task of an app on what is left of an offer (Marathon's
// ResourceMatcher + TaskBuilder): resources by role, host ports, and the
// TaskInfo with its command, container, environment and health check.
// Constraints and victim selection: placement_constraints.cpp.

#include <algorithm>
#include <charconv>
#include <cmath>

#include "apps/services/placement.hpp"
#include "common/resources.hpp"

namespace stoa::services {

namespace {

const char* const PLACE_SCALAR_NAMES[] = {"cpus", "mem", "disk", "gpus"};
// Marathon leaves out labels whose value is not shorter than this, or
// whose key is not shorter than this minus "MARATHON_APP_LABEL_".
constexpr size_t PLACE_MAX_ENV_LENGTH = 512;
constexpr size_t PLACE_MAX_LABEL_KEY_LENGTH = PLACE_MAX_ENV_LENGTH - sizeof("MARATHON_APP_LABEL_") + 1;

using PlacePortRanges = std::vector<std::pair<uint64_t, uint64_t>>;

void place_remove_port(PlacePortRanges& ranges, uint64_t port) {
  for (size_t i = 0; i < ranges.size(); ++i) {
    auto [b, e] = ranges[i];
    if (port < b || port > e) {
      continue;
    }
    ranges.erase(ranges.begin() + static_cast<std::ptrdiff_t>(i));
    if (port < e) {
      ranges.insert(ranges.begin() + static_cast<std::ptrdiff_t>(i), {port + 1, e});
    }
    if (port > b) {
      ranges.insert(ranges.begin() + static_cast<std::ptrdiff_t>(i), {b, port - 1});
    }
    return;
  }
}

bool place_has_port(const PlacePortRanges& ranges, uint64_t port) {
  return std::any_of(ranges.begin(), ranges.end(), [port](const auto& r) { return port >= r.first && port <= r.second; });
}

// Recomputes the totals of `space.left` into `scalars` and `ports`.
void place_refresh_totals(OfferSpace& space) {
  space.scalars.clear();
  PlacePortRanges ports;
  for (const Resource& r : space.left) {
    if (r.type() == Value::SCALAR) {
      space.scalars[r.name()] += r.scalar().value();
    } else if (r.type() == Value::RANGES && r.name() == "ports") {
      for (const Value::Range& range : r.ranges().range()) {
        ports.emplace_back(range.begin(), range.end());
      }
    }
  }
  std::sort(ports.begin(), ports.end());
  space.ports.clear();
  for (const auto& r : ports) {
    if (!space.ports.empty() && r.first <= space.ports.back().second + 1) {
      space.ports.back().second = std::max(space.ports.back().second, r.second);
    } else {
      space.ports.push_back(r);
    }
  }
}

// The roles `app` may take resources of, most specific first.
std::vector<std::string> place_usable_roles(const App& app, const PlaceOptions& options) {
  std::vector<std::string> roles;
  if (options.role != "*") {
    roles.push_back(options.role);
  }
  roles.push_back("*");
  if (!app.accepted_resource_roles.empty()) {
    std::erase_if(roles, [&app](const std::string& role) {
      return std::find(app.accepted_resource_roles.begin(), app.accepted_resource_roles.end(), role) ==
             app.accepted_resource_roles.end();
    });
  }
  return roles;
}

int64_t place_scalar_left(const std::vector<Resource>& left, const std::string& name,
                          const std::vector<std::string>& roles) {
  int64_t units = 0;
  for (const Resource& r : left) {
    if (r.name() == name && r.type() == Value::SCALAR &&
        std::find(roles.begin(), roles.end(), r.role()) != roles.end()) {
      units += scalar_to_fixed(r.scalar().value());
    }
  }
  return units;
}

// Adds `amount` of `like`'s name and role (and allocation info) to `used`.
void place_record_scalar(std::vector<Resource>& used, const Resource& like, int64_t units) {
  for (Resource& u : used) {
    if (u.name() == like.name() && u.role() == like.role() && u.type() == Value::SCALAR) {
      u.mutable_scalar()->set_value(fixed_to_scalar(scalar_to_fixed(u.scalar().value()) + units));
      return;
    }
  }
  Resource r = like;
  r.clear_ranges();
  r.clear_set();
  r.mutable_scalar()->set_value(fixed_to_scalar(units));
  used.push_back(std::move(r));
}

void place_record_port(std::vector<Resource>& used, const Resource& like, uint64_t port) {
  for (Resource& u : used) {
    if (u.name() == "ports" && u.role() == like.role() && u.type() == Value::RANGES) {
      Value::Range* range = u.mutable_ranges()->add_range();
      range->set_begin(port);
      range->set_end(port);
      return;
    }
  }
  Resource r = like;
  r.clear_scalar();
  r.clear_set();
  r.mutable_ranges()->clear_range();
  Value::Range* range = r.mutable_ranges()->add_range();
  range->set_begin(port);
  range->set_end(port);
  used.push_back(std::move(r));
}

// Takes `units` of scalar `name` from `left` over `roles` (in that order).
// REQUIRES: place_scalar_left(left, name, roles) >= units.
void place_take_scalar(OfferSpace& space, const std::string& name, int64_t units,
                       const std::vector<std::string>& roles, std::vector<Resource>& mine) {
  for (const std::string& role : roles) {
    for (Resource& r : space.left) {
      if (units == 0) {
        return;
      }
      if (r.name() != name || r.type() != Value::SCALAR || r.role() != role) {
        continue;
      }
      const int64_t have = scalar_to_fixed(r.scalar().value());
      const int64_t take = std::min(have, units);
      if (take == 0) {
        continue;
      }
      r.mutable_scalar()->set_value(fixed_to_scalar(have - take));
      units -= take;
      place_record_scalar(space.used, r, take);
      place_record_scalar(mine, r, take);
    }
  }
}

// The free port ranges of each usable role, in role order.
std::vector<std::pair<const Resource*, PlacePortRanges>> place_port_pools(const OfferSpace& space,
                                                                     const std::vector<std::string>& roles) {
  std::vector<std::pair<const Resource*, PlacePortRanges>> pools;
  for (const std::string& role : roles) {
    for (const Resource& r : space.left) {
      if (r.name() != "ports" || r.type() != Value::RANGES || r.role() != role) {
        continue;
      }
      PlacePortRanges ranges;
      for (const Value::Range& range : r.ranges().range()) {
        ranges.emplace_back(range.begin(), range.end());
      }
      std::sort(ranges.begin(), ranges.end());
      pools.emplace_back(&r, std::move(ranges));
    }
  }
  return pools;
}

// The host ports a task needs, in port order: 0 = any port of the offer.
std::vector<int> place_requested_host_ports(const App& app) {
  std::vector<int> requested;
  if (app.network_mode() == "host") {
    for (const PortDefinition& d : app.port_definitions) {
      requested.push_back(app.require_ports ? d.port : 0);
    }
  } else if (app.container) {
    for (const PortMapping& m : app.container->port_mappings) {
      requested.push_back(m.host_port);
    }
  }
  return requested;
}

// Picks the host ports from the pools: the requested port where one is
// asked for by number; for the others ("any port", 0), consecutive free
// ports starting at index `seed` mod the number of free ports (pools in
// role order, each pool's ports ascending), wrapping around. Marathon picks
// them at random, and so does the core (a random seed per task); a fixed
// start would send every task of every framework to the same port, which
// fails over and over while something else on the host holds it.
// nullopt if the ports cannot be had.
std::optional<std::vector<std::pair<size_t, uint64_t>>> place_pick_ports(
    std::vector<std::pair<const Resource*, PlacePortRanges>> pools, const std::vector<int>& requested,
    uint64_t seed) {
  // Fixed ports first, so an "any" port cannot take a port asked for by number.
  std::vector<std::optional<std::pair<size_t, uint64_t>>> by_index(requested.size());
  for (size_t i = 0; i < requested.size(); ++i) {
    if (requested[i] == 0) {
      continue;
    }
    const auto port = static_cast<uint64_t>(requested[i]);
    for (size_t p = 0; p < pools.size() && !by_index[i]; ++p) {
      if (place_has_port(pools[p].second, port)) {
        place_remove_port(pools[p].second, port);
        by_index[i] = std::make_pair(p, port);
      }
    }
    if (!by_index[i]) {
      return std::nullopt;
    }
  }
  const auto any_count = static_cast<uint64_t>(std::count(requested.begin(), requested.end(), 0));
  uint64_t free_count = 0;
  for (const auto& pool : pools) {
    for (const auto& [b, e] : pool.second) {
      free_count += e - b + 1;
    }
  }
  if (any_count > free_count) {
    return std::nullopt;
  }
  // The free port at `index` of the pools' concatenation.
  auto nth_free = [&pools](uint64_t index) -> std::pair<size_t, uint64_t> {
    for (size_t p = 0; p < pools.size(); ++p) {
      for (const auto& [b, e] : pools[p].second) {
        if (index <= e - b) {
          return {p, b + index};
        }
        index -= e - b + 1;
      }
    }
    return {0, 0};  // not reached: index < free_count
  };
  uint64_t next = any_count == 0 ? 0 : seed % free_count;
  for (size_t i = 0; i < requested.size(); ++i) {
    if (requested[i] == 0) {
      by_index[i] = nth_free(next);
      next = (next + 1) % free_count;
    }
  }
  std::vector<std::pair<size_t, uint64_t>> picked;  // pool index, port
  for (const auto& entry : by_index) {
    picked.push_back(*entry);
  }
  return picked;
}

void place_take_port(OfferSpace& space, const Resource* pool, uint64_t port, std::vector<Resource>& mine) {
  for (Resource& r : space.left) {
    if (&r != pool) {
      continue;
    }
    PlacePortRanges ranges;
    for (const Value::Range& range : r.ranges().range()) {
      ranges.emplace_back(range.begin(), range.end());
    }
    place_remove_port(ranges, port);
    r.mutable_ranges()->clear_range();
    for (const auto& [b, e] : ranges) {
      Value::Range* range = r.mutable_ranges()->add_range();
      range->set_begin(b);
      range->set_end(e);
    }
    place_record_port(space.used, r, port);
    place_record_port(mine, r, port);
    return;
  }
}

// Scala's Double.toString for the values apps use: "1.0", "0.5", "128.0".
std::string place_format_double(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, ec == std::errc() ? end : buffer);
  if (text.find_first_of(".e") == std::string::npos) {
    text += ".0";
  }
  return text;
}

// A label key as an environment variable name suffix: upper case, runs of
// other characters than [A-Za-z0-9_] as one '_'.
std::string place_env_name(const std::string& key) {
  std::string out;
  bool in_run = false;
  for (char c : key) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    if (ok) {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      in_run = false;
    } else if (!in_run) {
      out += '_';
      in_run = true;
    }
  }
  return out;
}

// The task's hostname-like name: "/prod/web" → "web.prod" (Marathon's
// PathId.toHostname).
std::string place_task_name(const std::string& app_id) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : app_id) {
    if (c == '/') {
      if (!part.empty()) {
        parts.push_back(part);
      }
      part.clear();
    } else {
      part += c;
    }
  }
  if (!part.empty()) {
    parts.push_back(part);
  }
  std::string name;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    name += (name.empty() ? "" : ".") + *it;
  }
  return name;
}

std::vector<std::pair<std::string, std::string>> place_environment(const App& app, const Offer& offer,
                                                                   const PlaceOptions& options,
                                                                   const std::vector<int>& host_ports,
                                                                   const std::vector<int>& service_ports) {
  std::map<std::string, std::string> env;
  env["MESOS_TASK_ID"] = options.task_id;
  env["MARATHON_APP_ID"] = app.id;
  env["MARATHON_APP_VERSION"] = format_timestamp(app.version);
  if (app.container && app.container->docker) {
    env["MARATHON_APP_DOCKER_IMAGE"] = app.container->docker->image;
  }
  env["MARATHON_APP_RESOURCE_CPUS"] = place_format_double(app.cpus);
  env["MARATHON_APP_RESOURCE_MEM"] = place_format_double(app.mem);
  env["MARATHON_APP_RESOURCE_DISK"] = place_format_double(app.disk);
  env["MARATHON_APP_RESOURCE_GPUS"] = std::to_string(static_cast<long long>(app.gpus));
  std::string label_names;
  for (const auto& [key, value] : app.labels) {
    if (key.size() >= PLACE_MAX_LABEL_KEY_LENGTH || value.size() >= PLACE_MAX_ENV_LENGTH) {
      continue;
    }
    const std::string name = place_env_name(key);
    label_names += (label_names.empty() ? "" : " ") + name;
    env["MARATHON_APP_LABEL_" + name] = value;
  }
  env["MARATHON_APP_LABELS"] = label_names;
  env["HOST"] = offer.hostname();
  const std::vector<std::string> names = app.port_names();
  // The port each index asked for: the container port behind port
  // mappings, else the declared (service) port; 0 = any.
  std::vector<int> requested;
  if (app.network_mode() != "host" && app.container) {
    for (const PortMapping& m : app.container->port_mappings) {
      requested.push_back(m.container_port);
    }
  } else {
    requested = service_ports;
  }
  std::string ports;
  for (size_t i = 0; i < host_ports.size(); ++i) {
    const std::string port = std::to_string(host_ports[i]);
    env["PORT" + std::to_string(i)] = port;
    ports += (ports.empty() ? "" : ",") + port;
    const int asked = i < requested.size() ? requested[i] : 0;
    env["PORT_" + std::to_string(asked != 0 ? asked : host_ports[i])] = port;
  }
  for (size_t i = 0; i < host_ports.size(); ++i) {  // names last: they win over a number clash
    if (i < names.size() && !names[i].empty()) {
      std::string name = names[i];
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      env["PORT_" + name] = std::to_string(host_ports[i]);
    }
  }
  if (!host_ports.empty()) {
    env["PORT"] = std::to_string(host_ports[0]);
    env["PORTS"] = ports;
  }
  for (const auto& [key, value] : app.env) {
    env[key] = value;
  }
  return {env.begin(), env.end()};
}

void place_command(const App& app, CommandInfo& command) {
  const bool docker = app.container && app.container->type == "DOCKER";
  if (app.cmd) {
    command.set_shell(true);
    command.set_value(*app.cmd);
  } else {
    command.set_shell(false);
    if (app.args && !app.args->empty()) {
      if (!docker) {
        command.set_value(app.args->front());  // the program; argv[0] is arguments[0]
      }
      for (const std::string& a : *app.args) {
        command.add_arguments(a);
      }
    }
  }
  if (app.user) {
    command.set_user(*app.user);
  }
  for (const FetchUri& f : app.fetch) {
    CommandInfo::URI* uri = command.add_uris();
    uri->set_value(f.uri);
    uri->set_executable(f.executable);
  }
}

void place_container(const App& app, const std::vector<int>& host_ports, TaskInfo& task) {
  if (!app.container) {
    return;
  }
  const Container& c = *app.container;
  ContainerInfo* info = task.mutable_container();
  info->set_type(c.type == "DOCKER" ? ContainerInfo::DOCKER : ContainerInfo::MESOS);
  for (const Volume& v : c.volumes) {
    stoa::Volume* volume = info->add_volumes();
    volume->set_container_path(v.container_path);
    if (!v.host_path.empty()) {
      volume->set_host_path(v.host_path);
    }
    volume->set_mode(v.mode == "RO" ? stoa::Volume::RO : stoa::Volume::RW);
  }
  if (c.type != "DOCKER" || !c.docker) {
    return;
  }
  ContainerInfo::DockerInfo* docker = info->mutable_docker();
  docker->set_image(c.docker->image);
  const std::string mode = app.network_mode();
  if (mode == "container/bridge") {
    docker->set_network(ContainerInfo::DockerInfo::BRIDGE);
  } else if (mode == "container") {
    docker->set_network(ContainerInfo::DockerInfo::USER);
  } else {
    docker->set_network(ContainerInfo::DockerInfo::HOST);
  }
  if (mode != "host") {
    for (size_t i = 0; i < c.port_mappings.size() && i < host_ports.size(); ++i) {
      ContainerInfo::DockerInfo::PortMapping* m = docker->add_port_mappings();
      m->set_host_port(static_cast<uint32_t>(host_ports[i]));
      m->set_container_port(static_cast<uint32_t>(c.port_mappings[i].container_port));
      m->set_protocol(c.port_mappings[i].protocol);
    }
  }
  docker->set_privileged(c.docker->privileged);
  docker->set_force_pull_image(c.docker->force_pull_image);
  for (const auto& [key, value] : c.docker->parameters) {
    Parameter* p = docker->add_parameters();
    p->set_key(key);
    p->set_value(value);
  }
}

// The port a Mesos-level check probes: `port`, or the port of `portIndex`
// as the task sees it (the container port behind a bridge, else the host port).
std::optional<uint32_t> place_check_port(const App& app, const HealthCheck& hc, const std::vector<int>& host_ports) {
  if (hc.port) {
    return static_cast<uint32_t>(*hc.port);
  }
  const size_t index = static_cast<size_t>(std::max(0, hc.port_index.value_or(0)));
  if (app.network_mode() == "container/bridge" && app.container && index < app.container->port_mappings.size()) {
    return static_cast<uint32_t>(app.container->port_mappings[index].container_port);
  }
  if (index < host_ports.size()) {
    return static_cast<uint32_t>(host_ports[index]);
  }
  return std::nullopt;
}

void place_health_check(const App& app, const std::vector<int>& host_ports, TaskInfo& task) {
  for (const HealthCheck& hc : app.health_checks) {
    if (hc.marathon_level()) {
      continue;
    }
    stoa::HealthCheck check;
    check.set_delay_seconds(hc.delay_seconds);
    check.set_interval_seconds(hc.interval_seconds);
    check.set_timeout_seconds(hc.timeout_seconds);
    check.set_consecutive_failures(static_cast<uint32_t>(std::max(0, hc.max_consecutive_failures)));
    check.set_grace_period_seconds(hc.grace_period_seconds);
    if (hc.protocol == "COMMAND") {
      check.set_type(stoa::HealthCheck::COMMAND);
      check.mutable_command()->set_shell(true);
      check.mutable_command()->set_value(hc.command.value_or(""));
    } else {
      std::optional<uint32_t> port = place_check_port(app, hc, host_ports);
      if (!port) {
        continue;  // validation refuses a portIndex without a port; nothing to probe
      }
      if (hc.protocol == "MESOS_TCP") {
        check.set_type(stoa::HealthCheck::TCP);
        check.mutable_tcp()->set_port(*port);
      } else {
        check.set_type(stoa::HealthCheck::HTTP);
        check.mutable_http()->set_port(*port);
        check.mutable_http()->set_scheme(hc.protocol == "MESOS_HTTPS" ? "https" : "http");
        check.mutable_http()->set_path(hc.path);
      }
    }
    *task.mutable_health_check() = std::move(check);
    return;
  }
}

}  // namespace

OfferSpace::OfferSpace(const Offer& o) : offer(o) {
  for (const Resource& r : o.resources()) {
    left.push_back(r);
  }
  place_refresh_totals(*this);
}

const char* reject_name(Reject r) {
  switch (r) {
    case Reject::NONE:
      return "None";
    case Reject::INSUFFICIENT_CPUS:
      return "InsufficientCpus";
    case Reject::INSUFFICIENT_MEMORY:
      return "InsufficientMemory";
    case Reject::INSUFFICIENT_DISK:
      return "InsufficientDisk";
    case Reject::INSUFFICIENT_GPUS:
      return "InsufficientGpus";
    case Reject::INSUFFICIENT_PORTS:
      return "InsufficientPorts";
    case Reject::UNFULFILLED_ROLE:
      return "UnfulfilledRole";
    case Reject::UNFULFILLED_CONSTRAINT:
      return "UnfulfilledConstraint";
    case Reject::DECLINED_SCARCE_RESOURCES:
      return "DeclinedScarceResources";
  }
  return "Unknown";
}

std::variant<Placement, Reject> place(const App& app, OfferSpace& space, const PlaceOptions& options) {
  const std::vector<std::string> roles = place_usable_roles(app, options);
  const bool any_usable = std::any_of(space.offer.resources().begin(), space.offer.resources().end(),
                                      [&roles](const Resource& r) {
                                        return std::find(roles.begin(), roles.end(), r.role()) != roles.end();
                                      });
  if (roles.empty() || !any_usable) {
    return Reject::UNFULFILLED_ROLE;
  }
  const double wanted[] = {app.cpus, app.mem, app.disk, app.gpus};
  const Reject short_of[] = {Reject::INSUFFICIENT_CPUS, Reject::INSUFFICIENT_MEMORY, Reject::INSUFFICIENT_DISK,
                             Reject::INSUFFICIENT_GPUS};
  std::vector<std::string> all_roles;
  for (const Resource& r : space.left) {
    if (std::find(all_roles.begin(), all_roles.end(), r.role()) == all_roles.end()) {
      all_roles.push_back(r.role());
    }
  }
  for (size_t i = 0; i < 4; ++i) {
    const int64_t need = wanted[i] > 0 ? scalar_to_fixed(wanted[i]) : 0;
    if (place_scalar_left(space.left, PLACE_SCALAR_NAMES[i], roles) < need) {
      // Enough of it under roles the app may not use: the role is the reason.
      return place_scalar_left(space.left, PLACE_SCALAR_NAMES[i], all_roles) >= need ? Reject::UNFULFILLED_ROLE
                                                                                      : short_of[i];
    }
  }
  const std::vector<int> requested = place_requested_host_ports(app);
  auto pools = place_port_pools(space, roles);
  std::optional<std::vector<std::pair<size_t, uint64_t>>> picked = place_pick_ports(pools, requested, options.port_seed);
  if (!picked) {
    return Reject::INSUFFICIENT_PORTS;
  }

  std::vector<Resource> mine;  // this task's resources (space.used has every task's)
  for (size_t i = 0; i < 4; ++i) {
    if (wanted[i] > 0) {
      place_take_scalar(space, PLACE_SCALAR_NAMES[i], scalar_to_fixed(wanted[i]), roles, mine);
    }
  }
  Placement placement;
  for (const auto& [pool, port] : *picked) {
    place_take_port(space, pools[pool].first, port, mine);
    placement.host_ports.push_back(static_cast<int>(port));
  }
  place_refresh_totals(space);
  placement.service_ports = app.service_ports();

  TaskInfo& task = placement.task;
  task.set_name(place_task_name(app.id));
  task.mutable_task_id()->set_value(options.task_id);
  *task.mutable_slave_id() = space.offer.slave_id();
  for (Resource& r : mine) {
    *task.add_resources() = std::move(r);
  }
  place_command(app, *task.mutable_command());
  for (const auto& [name, value] : place_environment(app, space.offer, options, placement.host_ports,
                                                     placement.service_ports)) {
    Environment::Variable* v = task.mutable_command()->mutable_environment()->add_variables();
    v->set_name(name);
    v->set_value(value);
  }
  place_container(app, placement.host_ports, task);
  place_health_check(app, placement.host_ports, task);
  if (app.task_kill_grace_period_seconds) {
    task.mutable_kill_policy()->mutable_grace_period()->set_nanoseconds(
        static_cast<int64_t>(*app.task_kill_grace_period_seconds) * 1'000'000'000LL);
  }
  for (const auto& [key, value] : app.labels) {
    if (key == "MARATHON_APP_ID") {
      continue;
    }
    Label* label = task.mutable_labels()->add_labels();
    label->set_key(key);
    label->set_value(value);
  }
  return placement;
}

}  // namespace stoa::services
