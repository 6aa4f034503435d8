#pragma once
// What stoa-lb knows of a Marathon-compatible services registry: the apps of
// `GET /v2/apps?embed=apps.tasks` with the fields marathon-lb reads
// (../shared/reference/marathon.md §7.1), and nothing else. Filled by
// parse_apps() (marathon_json.cpp) and, for Task::ip and Task::healthy, by the LB
// actor before rendering. render.hpp turns a vector of these into HAProxy's
// configuration; it never sees a socket.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/try.hpp"

namespace stoa::lb {

// How marathon-lb reaches an app's tasks (get_app_networking_mode).
enum class NetworkingMode {
  Host,             // task.host resolved to an IP + task.ports
  Container,        // task.ipAddresses[0] + the container ports
  ContainerBridge,  // task.host's IP + task.ports (bridge mappings)
};

// One of the app's healthChecks, as marathon-lb reads it.
struct HealthCheck {
  std::string protocol;  // "HTTP", "HTTPS", "TCP", "MESOS_HTTP", "MESOS_TCP", "COMMAND", ...
  std::string path;      // "" when absent
  std::optional<int> port_index;
  std::optional<int> port;
  int interval_seconds = 60;
  int timeout_seconds = 20;
  int grace_period_seconds = 300;
  int max_consecutive_failures = 3;
};

struct Task {
  std::string id;
  std::string app_id;
  std::string host;                  // as the registry gives it ("" = skipped)
  // The ports marathon-lb pairs, in order, with App::service_ports
  // (get_app_task_ports), filled by parse_apps(): host mode: the task's host
  // ports, else the app's portDefinitions ports; bridge: the task's host
  // ports, else the portDefinitions ports, else App::container_ports;
  // container mode: App::container_ports.
  std::vector<int> ports;
  std::vector<std::string> ip_addresses;  // ipAddresses[].ipAddress (container mode)
  std::optional<std::string> state;  // "TASK_RUNNING", ...; nullopt when the key is missing (kept)
  // From healthCheckResults: true if some result has alive=true, false if the
  // list is there but none is alive (an empty list too), nullopt when the key
  // is missing (the LB actor fills it from its cache of the task's last
  // known value, default false).
  std::optional<bool> healthy;
  // The backend address: filled before rendering (host mode: host resolved
  // through DNS; container mode: ip_addresses[0]). "" = unresolved, skipped.
  std::string ip;
  bool draining = false;  // zero-downtime deployments: rendered `disabled`
};

struct App {
  std::string id;  // "/group/name"
  std::map<std::string, std::string> labels;
  std::vector<HealthCheck> health_checks;
  // Service ports in order: container port mappings' servicePort in
  // container modes, else `ports`/`portDefinitions[].port`; for IP-per-task
  // apps without them, assigned from [min, max]_serv_port_ip_per_task
  // (marathon-lb's sha1 hash, so every balancer assigns the same; 0 = the
  // range is used up and this port has none: skip it).
  std::vector<int> service_ports;
  // Container port of each mapping (container mode backends), same order;
  // for legacy IP-per-task apps, ipAddress.discovery.ports[].number.
  std::vector<int> container_ports;
  NetworkingMode mode = NetworkingMode::Host;
  int instances = 0;
  std::vector<Task> tasks;
};

struct ParseOptions {
  // Apps whose id without the leading '/' equals this are skipped (env
  // FRAMEWORK_NAME: the balancer's own app when it runs on the cluster).
  std::string framework_name;
  int min_serv_port_ip_per_task = 10050;
  int max_serv_port_ip_per_task = 10100;
};

// Parses the body of /v2/apps?embed=apps.tasks. Error (naming the path and
// value, e.g. "apps[2].tasks[0]: missing 'id'") when a key marathon-lb
// requires is missing or has the wrong type — the whole refresh is refused
// then, as marathon-lb refuses it, and the previous configuration stays.
Try<std::vector<App>> parse_apps(std::string_view body, const ParseOptions& options);

// The event types stoa-lb subscribes to, and which of them trigger a refresh
// (marathon-lb: api_post_event, health_status_changed_event,
// status_update_event). `data` is one SSE `data:` payload.
bool is_relevant_event(std::string_view data);

}  // namespace stoa::lb
