// Parsing what stoa-lb reads of a Marathon-compatible registry: the body of
// GET /v2/apps?embed=apps.tasks (marathon.md §7.1, §1.3, §1.4). Events,
// URLs and credentials: marathon_wire.cpp; IP-per-task service ports:
// marathon_ports.cpp.
//
// The rules follow marathon-lb's reading of the same JSON: the keys it reads
// with [] are required here (an error naming the path refuses the whole
// refresh, as marathon-lb's KeyError does), the ones it reads with .get()
// are optional, and an optional key that is null counts as absent.

#include "apps/lb/marathon_json.hpp"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/json.hpp"

namespace stoa::lb {

namespace {

using MjObject = picojson::object;

// A short rendering of a JSON value for error messages.
std::string mj_show(const picojson::value& v) {
  std::string text = json_serialize(v);
  constexpr size_t MAX_SHOWN = 60;
  if (text.size() > MAX_SHOWN) {
    text = text.substr(0, MAX_SHOWN) + "...";
  }
  return text;
}

// The member `key` of `obj`, or nullptr when it is missing or null.
const picojson::value* mj_find(const MjObject& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->second.is<picojson::null>()) {
    return nullptr;
  }
  return &it->second;
}

Error mj_missing(const std::string& path, const std::string& key) {
  return Error(path + ": missing '" + key + "'");
}

Error mj_wrong_type(const std::string& path, const char* expected, const picojson::value& v) {
  return Error(path + ": expected " + expected + ", got " + mj_show(v));
}

Try<int> mj_int(const picojson::value& v, const std::string& path) {
  if (!v.is<double>()) {
    return mj_wrong_type(path, "an integer", v);
  }
  double d = v.get<double>();
  if (!std::isfinite(d) || d != std::floor(d) || d < -2147483648.0 || d > 2147483647.0) {
    return mj_wrong_type(path, "an integer", v);
  }
  return static_cast<int>(d);
}

Try<std::string> mj_string(const picojson::value& v, const std::string& path) {
  if (!v.is<std::string>()) {
    return mj_wrong_type(path, "a string", v);
  }
  return v.get<std::string>();
}

// Required member of type T (int, std::string, object, array).
Try<int> mj_required_int(const MjObject& obj, const std::string& path, const std::string& key) {
  const picojson::value* v = mj_find(obj, key);
  if (v == nullptr) {
    return mj_missing(path, key);
  }
  return mj_int(*v, path + "." + key);
}

Try<std::string> mj_required_string(const MjObject& obj, const std::string& path, const std::string& key) {
  const picojson::value* v = mj_find(obj, key);
  if (v == nullptr) {
    return mj_missing(path, key);
  }
  return mj_string(*v, path + "." + key);
}

// An optional member, read into `out` when present and not null (left as it
// is otherwise); an error when it has the wrong type.
template <typename T>
std::optional<Error> mj_read_optional(const MjObject& obj, const std::string& path, const std::string& key,
                                      T* out) {
  const picojson::value* v = mj_find(obj, key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if constexpr (std::is_same_v<T, int> || std::is_same_v<T, std::optional<int>>) {
    Try<int> number = mj_int(*v, path + "." + key);
    if (!number) {
      return Error(number.error());
    }
    *out = *number;
  } else {
    Try<std::string> text = mj_string(*v, path + "." + key);
    if (!text) {
      return Error(text.error());
    }
    *out = *text;
  }
  return std::nullopt;
}

// An optional array member: empty when missing or null, error when not an array.
Try<const picojson::array*> mj_optional_array(const MjObject& obj, const std::string& path,
                                              const std::string& key) {
  static const picojson::array EMPTY;
  const picojson::value* v = mj_find(obj, key);
  if (v == nullptr) {
    return &EMPTY;
  }
  if (!v->is<picojson::array>()) {
    return mj_wrong_type(path + "." + key, "an array", *v);
  }
  return &v->get<picojson::array>();
}

// An optional object member: nullptr when missing or null.
Try<const MjObject*> mj_optional_object(const MjObject& obj, const std::string& path,
                                        const std::string& key) {
  const picojson::value* v = mj_find(obj, key);
  if (v == nullptr) {
    return static_cast<const MjObject*>(nullptr);
  }
  if (!v->is<MjObject>()) {
    return mj_wrong_type(path + "." + key, "an object", *v);
  }
  return &v->get<MjObject>();
}

// An array of integers (task ports, app ports).
Try<std::vector<int>> mj_int_array(const picojson::array& arr, const std::string& path) {
  std::vector<int> out;
  for (size_t i = 0; i < arr.size(); ++i) {
    Try<int> n = mj_int(arr[i], path + "[" + std::to_string(i) + "]");
    if (!n) {
      return Error(n.error());
    }
    out.push_back(*n);
  }
  return out;
}

// `key` of every object in `arr` that has it (not null), as integers:
// portDefinitions[].port, portMappings[].servicePort / containerPort.
Try<std::vector<int>> mj_member_ints(const picojson::array& arr, const std::string& path,
                                     const std::string& key) {
  std::vector<int> out;
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string item_path = path + "[" + std::to_string(i) + "]";
    if (!arr[i].is<MjObject>()) {
      return mj_wrong_type(item_path, "an object", arr[i]);
    }
    const picojson::value* v = mj_find(arr[i].get<MjObject>(), key);
    if (v == nullptr) {
      continue;
    }
    Try<int> n = mj_int(*v, item_path + "." + key);
    if (!n) {
      return Error(n.error());
    }
    out.push_back(*n);
  }
  return out;
}

// ---- apps --------------------------------------------------------------------

Try<NetworkingMode> mj_networking_mode(const MjObject& app, const std::string& path) {
  NetworkingMode mode = NetworkingMode::Host;
  if (const picojson::value* ip = mj_find(app, "ipAddress")) {
    bool truthy = !(ip->is<MjObject>() && ip->get<MjObject>().empty()) &&
                  !(ip->is<bool>() && !ip->get<bool>());
    if (truthy) {
      mode = NetworkingMode::Container;
    }
  }
  Try<const MjObject*> container = mj_optional_object(app, path, "container");
  if (!container) {
    return Error(container.error());
  }
  if (*container != nullptr) {
    Try<const MjObject*> docker = mj_optional_object(**container, path + ".container", "docker");
    if (!docker) {
      return Error(docker.error());
    }
    if (*docker != nullptr) {
      if (const picojson::value* net = mj_find(**docker, "network")) {
        if (net->is<std::string>() && net->get<std::string>() == "USER") {
          mode = NetworkingMode::Container;
        } else if (net->is<std::string>() && net->get<std::string>() == "BRIDGE") {
          mode = NetworkingMode::ContainerBridge;
        }
      }
    }
  }
  Try<const picojson::array*> networks = mj_optional_array(app, path, "networks");
  if (!networks) {
    return Error(networks.error());
  }
  // Modes cannot be mixed: the last network's mode is the app's.
  for (size_t i = 0; i < (*networks)->size(); ++i) {
    const picojson::value& n = (**networks)[i];
    std::string npath = path + ".networks[" + std::to_string(i) + "]";
    if (!n.is<MjObject>()) {
      return mj_wrong_type(npath, "an object", n);
    }
    std::string text = "container";
    if (const picojson::value* m = mj_find(n.get<MjObject>(), "mode")) {
      Try<std::string> s = mj_string(*m, npath + ".mode");
      if (!s) {
        return Error(s.error());
      }
      text = *s;
    }
    if (text == "host") {
      mode = NetworkingMode::Host;
    } else if (text == "container") {
      mode = NetworkingMode::Container;
    } else if (text == "container/bridge") {
      mode = NetworkingMode::ContainerBridge;
    } else {
      return Error(npath + ".mode: unknown networking mode '" + text +
                   "' (expected host, container or container/bridge)");
    }
  }
  return mode;
}

// container.docker.portMappings when non-empty, else container.portMappings.
Try<const picojson::array*> mj_port_mappings(const MjObject& app, const std::string& path) {
  static const picojson::array EMPTY;
  Try<const MjObject*> container = mj_optional_object(app, path, "container");
  if (!container) {
    return Error(container.error());
  }
  if (*container == nullptr) {
    return &EMPTY;
  }
  Try<const MjObject*> docker = mj_optional_object(**container, path + ".container", "docker");
  if (!docker) {
    return Error(docker.error());
  }
  if (*docker != nullptr) {
    Try<const picojson::array*> dm =
        mj_optional_array(**docker, path + ".container.docker", "portMappings");
    if (!dm) {
      return dm;
    }
    if (!(*dm)->empty()) {
      return dm;
    }
  }
  return mj_optional_array(**container, path + ".container", "portMappings");
}

// ipAddress.discovery.ports[].number (legacy IP-per-task, Marathon < 1.5).
Try<std::vector<int>> mj_discovery_ports(const MjObject& app, const std::string& path) {
  std::vector<int> out;
  const picojson::value* ip = mj_find(app, "ipAddress");
  if (ip == nullptr || !ip->is<MjObject>()) {
    return out;
  }
  const picojson::value* discovery = mj_find(ip->get<MjObject>(), "discovery");
  if (discovery == nullptr || !discovery->is<MjObject>()) {
    return out;
  }
  std::string dpath = path + ".ipAddress.discovery";
  Try<const picojson::array*> ports = mj_optional_array(discovery->get<MjObject>(), dpath, "ports");
  if (!ports) {
    return Error(ports.error());
  }
  for (size_t i = 0; i < (*ports)->size(); ++i) {
    const picojson::value& p = (**ports)[i];
    std::string ppath = dpath + ".ports[" + std::to_string(i) + "]";
    if (!p.is<MjObject>()) {
      return mj_wrong_type(ppath, "an object", p);
    }
    const picojson::value* number = mj_find(p.get<MjObject>(), "number");
    if (number == nullptr) {
      continue;
    }
    if (number->is<std::string>()) {  // marathon-lb reads it with int()
      const std::string& s = number->get<std::string>();
      char* end = nullptr;
      long n = std::strtol(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || n < 0 || n > 65535) {
        return mj_wrong_type(ppath + ".number", "a port number", *number);
      }
      out.push_back(static_cast<int>(n));
      continue;
    }
    Try<int> n = mj_int(*number, ppath + ".number");
    if (!n) {
      return Error(n.error());
    }
    out.push_back(*n);
  }
  return out;
}

Try<HealthCheck> mj_health_check(const picojson::value& v, const std::string& path) {
  if (!v.is<MjObject>()) {
    return mj_wrong_type(path, "an object", v);
  }
  const MjObject& obj = v.get<MjObject>();
  HealthCheck hc;
  Try<std::string> proto = mj_required_string(obj, path, "protocol");
  if (!proto) {
    return Error(proto.error());
  }
  hc.protocol = *proto;
  struct Required {
    const char* key;
    int* field;
  };
  for (Required r : {Required{"timeoutSeconds", &hc.timeout_seconds},
                     Required{"intervalSeconds", &hc.interval_seconds},
                     Required{"gracePeriodSeconds", &hc.grace_period_seconds},
                     Required{"maxConsecutiveFailures", &hc.max_consecutive_failures}}) {
    Try<int> n = mj_required_int(obj, path, r.key);
    if (!n) {
      return Error(n.error());
    }
    *r.field = *n;
  }
  for (std::optional<Error> e : {mj_read_optional(obj, path, "path", &hc.path),
                                 mj_read_optional(obj, path, "portIndex", &hc.port_index),
                                 mj_read_optional(obj, path, "port", &hc.port)}) {
    if (e) {
      return *e;
    }
  }
  return hc;
}

Try<Task> mj_task(const picojson::value& v, const std::string& path, const std::string& app_id) {
  if (!v.is<MjObject>()) {
    return mj_wrong_type(path, "an object", v);
  }
  const MjObject& obj = v.get<MjObject>();
  Task task;
  Try<std::string> id_text = mj_required_string(obj, path, "id");
  if (!id_text) {
    return Error(id_text.error());
  }
  task.id = *id_text;
  auto host_it = obj.find("host");
  if (host_it == obj.end()) {
    return mj_missing(path, "host");
  }
  if (!host_it->second.is<picojson::null>()) {  // null, like "", means "skip the task"
    Try<std::string> host = mj_string(host_it->second, path + ".host");
    if (!host) {
      return Error(host.error());
    }
    task.host = *host;
  }
  task.app_id = app_id;
  for (std::optional<Error> e : {mj_read_optional(obj, path, "appId", &task.app_id),
                                 mj_read_optional(obj, path, "state", &task.state)}) {
    if (e) {
      return *e;
    }
  }
  Try<const picojson::array*> ports = mj_optional_array(obj, path, "ports");
  if (!ports) {
    return Error(ports.error());
  }
  Try<std::vector<int>> port_list = mj_int_array(**ports, path + ".ports");
  if (!port_list) {
    return Error(port_list.error());
  }
  task.ports = *port_list;
  Try<const picojson::array*> ips = mj_optional_array(obj, path, "ipAddresses");
  if (!ips) {
    return Error(ips.error());
  }
  for (size_t i = 0; i < (*ips)->size(); ++i) {
    const picojson::value& ip = (**ips)[i];
    std::string ipath = path + ".ipAddresses[" + std::to_string(i) + "]";
    if (!ip.is<MjObject>()) {
      return mj_wrong_type(ipath, "an object", ip);
    }
    std::string address;
    if (std::optional<Error> e = mj_read_optional(ip.get<MjObject>(), ipath, "ipAddress", &address)) {
      return *e;
    }
    task.ip_addresses.push_back(address);
  }
  if (const picojson::value* results = mj_find(obj, "healthCheckResults")) {
    std::string rpath = path + ".healthCheckResults";
    if (!results->is<picojson::array>()) {
      return mj_wrong_type(rpath, "an array", *results);
    }
    bool alive = false;
    const picojson::array& arr = results->get<picojson::array>();
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string item = rpath + "[" + std::to_string(i) + "]";
      if (!arr[i].is<MjObject>()) {
        return mj_wrong_type(item, "an object", arr[i]);
      }
      const picojson::value* a = mj_find(arr[i].get<MjObject>(), "alive");
      if (a == nullptr) {
        return mj_missing(item, "alive");
      }
      if (!a->is<bool>()) {
        return mj_wrong_type(item + ".alive", "a boolean", *a);
      }
      alive = alive || a->get<bool>();
    }
    task.healthy = alive;
  }
  return task;
}

// The ports marathon-lb pairs with the service ports for `task`
// (get_app_task_ports): host mode: the task's ports, else the port
// definitions'; bridge: the task's, else the port definitions', else the
// mappings' container ports; container: the discovery ports, else the
// mappings' container ports.
std::vector<int> mj_backend_ports(NetworkingMode mode, const std::vector<int>& task_ports,
                                  const std::vector<int>& definition_ports,
                                  const std::vector<int>& container_ports) {
  switch (mode) {
    case NetworkingMode::Host:
      return !task_ports.empty() ? task_ports : definition_ports;
    case NetworkingMode::ContainerBridge:
      if (!task_ports.empty()) {
        return task_ports;
      }
      return !definition_ports.empty() ? definition_ports : container_ports;
    case NetworkingMode::Container:
      return container_ports;
  }
  return task_ports;
}

Try<App> mj_app(const picojson::value& v, const std::string& path, ServicePortAssigner& assigner) {
  if (!v.is<MjObject>()) {
    return mj_wrong_type(path, "an object", v);
  }
  const MjObject& obj = v.get<MjObject>();
  App app;
  const picojson::value* id = mj_find(obj, "id");
  if (id == nullptr) {
    return mj_missing(path, "id");
  }
  Try<std::string> id_text = mj_string(*id, path + ".id");
  if (!id_text) {
    return Error(id_text.error());
  }
  app.id = *id_text;

  const picojson::value* labels = mj_find(obj, "labels");
  if (labels == nullptr) {
    return mj_missing(path, "labels");
  }
  if (!labels->is<MjObject>()) {
    return mj_wrong_type(path + ".labels", "an object", *labels);
  }
  for (const auto& [key, value] : labels->get<MjObject>()) {
    Try<std::string> s = mj_string(value, path + ".labels." + key);
    if (!s) {
      return Error(s.error());
    }
    app.labels[key] = *s;
  }

  if (const picojson::value* n = mj_find(obj, "instances")) {
    Try<int> instances = mj_int(*n, path + ".instances");
    if (!instances) {
      return Error(instances.error());
    }
    app.instances = *instances;
  }

  Try<const picojson::array*> checks = mj_optional_array(obj, path, "healthChecks");
  if (!checks) {
    return Error(checks.error());
  }
  for (size_t i = 0; i < (*checks)->size(); ++i) {
    Try<HealthCheck> hc =
        mj_health_check((**checks)[i], path + ".healthChecks[" + std::to_string(i) + "]");
    if (!hc) {
      return Error(hc.error());
    }
    app.health_checks.push_back(*hc);
  }

  Try<NetworkingMode> mode = mj_networking_mode(obj, path);
  if (!mode) {
    return Error(mode.error());
  }
  app.mode = *mode;

  Try<const picojson::array*> mappings = mj_port_mappings(obj, path);
  if (!mappings) {
    return Error(mappings.error());
  }
  std::string mpath = path + ".container.portMappings";
  Try<std::vector<int>> mapping_service_ports = mj_member_ints(**mappings, mpath, "servicePort");
  Try<std::vector<int>> mapping_container_ports =
      mj_member_ints(**mappings, mpath, "containerPort");
  if (!mapping_service_ports) {
    return Error(mapping_service_ports.error());
  }
  if (!mapping_container_ports) {
    return Error(mapping_container_ports.error());
  }
  app.container_ports = *mapping_container_ports;
  if (app.mode == NetworkingMode::Container) {
    Try<std::vector<int>> discovery = mj_discovery_ports(obj, path);
    if (!discovery) {
      return Error(discovery.error());
    }
    if (!discovery->empty()) {
      app.container_ports = *discovery;
    }
  }

  // portDefinitions[].port; `ports` (deprecated) only when there are none.
  std::vector<int> definition_ports;
  Try<const picojson::array*> definitions = mj_optional_array(obj, path, "portDefinitions");
  if (!definitions) {
    return Error(definitions.error());
  }
  Try<std::vector<int>> def_ports =
      mj_member_ints(**definitions, path + ".portDefinitions", "port");
  if (!def_ports) {
    return Error(def_ports.error());
  }
  definition_ports = *def_ports;

  if (app.mode != NetworkingMode::Host && !mapping_service_ports->empty()) {
    app.service_ports = *mapping_service_ports;
  } else if (obj.count("portDefinitions") > 0) {
    app.service_ports = definition_ports;
  } else {
    Try<const picojson::array*> ports = mj_optional_array(obj, path, "ports");
    if (!ports) {
      return Error(ports.error());
    }
    Try<std::vector<int>> list = mj_int_array(**ports, path + ".ports");
    if (!list) {
      return Error(list.error());
    }
    app.service_ports = *list;
  }

  const picojson::value* tasks = mj_find(obj, "tasks");
  if (tasks == nullptr) {
    return mj_missing(path, "tasks");
  }
  if (!tasks->is<picojson::array>()) {
    return mj_wrong_type(path + ".tasks", "an array", *tasks);
  }
  const picojson::array& task_list = tasks->get<picojson::array>();
  for (size_t i = 0; i < task_list.size(); ++i) {
    Try<Task> task = mj_task(task_list[i], path + ".tasks[" + std::to_string(i) + "]", app.id);
    if (!task) {
      return Error(task.error());
    }
    task->ports = mj_backend_ports(app.mode, task->ports, definition_ports, app.container_ports);
    app.tasks.push_back(std::move(*task));
  }

  // Legacy IP-per-task apps (Marathon <= 1.4) come without service ports.
  if (app.service_ports.empty() && app.mode == NetworkingMode::Container && assigner.enabled() &&
      !app.tasks.empty()) {
    for (int task_port : app.tasks.front().ports) {
      app.service_ports.push_back(assigner.assign(app.id, task_port));
    }
  }
  return app;
}

}  // namespace

Try<std::vector<App>> parse_apps_json(const picojson::value& doc, const ParseOptions& options) {
  if (!doc.is<MjObject>()) {
    return mj_wrong_type("the /v2/apps body", "an object", doc);
  }
  const picojson::value* apps = mj_find(doc.get<MjObject>(), "apps");
  if (apps == nullptr) {
    return Error("the /v2/apps body: missing 'apps'");
  }
  if (!apps->is<picojson::array>()) {
    return mj_wrong_type("apps", "an array", *apps);
  }
  ServicePortAssigner assigner(options.min_serv_port_ip_per_task,
                               options.max_serv_port_ip_per_task);
  std::vector<App> out;
  const picojson::array& list = apps->get<picojson::array>();
  for (size_t i = 0; i < list.size(); ++i) {
    std::string path = "apps[" + std::to_string(i) + "]";
    // The balancer's own app is left out before it can take a service port.
    if (!options.framework_name.empty() && list[i].is<MjObject>()) {
      const picojson::value* id = mj_find(list[i].get<MjObject>(), "id");
      if (id != nullptr && id->is<std::string>()) {
        const std::string& text = id->get<std::string>();
        std::string bare = text.empty() || text[0] != '/' ? text : text.substr(1);
        if (bare == options.framework_name) {
          continue;
        }
      }
    }
    Try<App> app = mj_app(list[i], path, assigner);
    if (!app) {
      return Error(app.error());
    }
    out.push_back(std::move(*app));
  }
  return out;
}

Try<std::vector<App>> parse_apps(std::string_view body, const ParseOptions& options) {
  Try<picojson::value> doc = json_parse(body);
  if (!doc) {
    return Error("the /v2/apps body is not JSON: " + doc.error());
  }
  return parse_apps_json(*doc, options);
}

}  // namespace stoa::lb
