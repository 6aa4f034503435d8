#pragma once
// The app definition of stoa-services (Marathon's AppDefinition, v2 JSON):
// parsing with Marathon's normalization and defaults, validation with
// Marathon's error paths, and the fully defaulted JSON written back.
//
// Pure data and functions: no CAF, no I/O (unit tests: model_test.cpp).
// Facts: shared/reference/marathon.md §1.2-§1.3, §2, §3.
//
// Times are Timestamps: milliseconds since the epoch, written as ISO-8601
// UTC with milliseconds ("2020-10-01T12:00:00.000Z"). An app's `version` is
// the Timestamp of its last change (the version key of the store too).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <picojson.h>

#include "common/try.hpp"

namespace stoa::services {

// ---------------------------------------------------------------------------
// Times.

using Timestamp = int64_t;  // milliseconds since the epoch (UTC)

Timestamp now_ms();
// "2020-10-01T12:00:00.000Z"
std::string format_timestamp(Timestamp t);
// The reverse; also takes "2020-10-01T12:00:00Z", "...+00:00" and fractions
// of 1..9 digits. Error quoting the text otherwise.
Try<Timestamp> parse_timestamp(std::string_view text);

// ---------------------------------------------------------------------------
// Ids.

// Canonical absolute app/group ids: "/prod/web". "prod/web", "/prod/web/",
// "web" → "/prod/web", "/web" (relative ids are made absolute against `base`,
// "." and ".." resolved). Error (Marathon's message, quoting the id) when a
// segment does not match Marathon's PathId pattern.
Try<std::string> canonical_id(std::string_view id, std::string_view base = "/");
// "/prod/web" → "prod_web" (the prefix of task ids).
std::string task_id_prefix(const std::string& app_id);
// A new task id: "prod_web.instance-<uuid>._app.1".
std::string new_task_id(const std::string& app_id);
// The app id a task id belongs to ("prod_web.instance-…" → "/prod/web"
// is ambiguous for ids with '_': returns the prefix only, "prod_web"); use
// the instance tracker for the real app id.
std::string task_id_app_prefix(std::string_view task_id);
// The parent group of an id: "/prod/web" → "/prod", "/web" → "/".
std::string parent_id(const std::string& id);

// ---------------------------------------------------------------------------
// The app.

struct PortDefinition {
  int port = 0;  // the service port: 0 = assigned from --local_port_min..max
  std::string protocol = "tcp";
  std::optional<std::string> name;
  std::map<std::string, std::string> labels;
};

struct PortMapping {  // container.portMappings / container.docker.portMappings
  int container_port = 0;
  int host_port = 0;  // 0 = any host port from the offer
  int service_port = 0;
  std::string protocol = "tcp";
  std::optional<std::string> name;
  std::map<std::string, std::string> labels;
};

struct Constraint {
  std::string field;     // "hostname", "@hostname", "@region", "@zone" or an attribute
  std::string op;        // UNIQUE CLUSTER GROUP_BY LIKE UNLIKE MAX_PER IS (upper case)
  std::optional<std::string> value;
};

struct HealthCheck {
  std::string protocol = "HTTP";  // HTTP HTTPS TCP COMMAND MESOS_HTTP MESOS_HTTPS MESOS_TCP
  std::string path = "/";          // HTTP* only (written for HTTP* only)
  std::optional<int> port_index;   // default 0 when neither port nor portIndex
  std::optional<int> port;         // wins over portIndex
  std::optional<std::string> command;  // COMMAND: command.value
  int grace_period_seconds = 300;
  int interval_seconds = 60;
  int timeout_seconds = 20;
  int max_consecutive_failures = 3;
  int delay_seconds = 15;
  bool ignore_http1xx = false;
  std::string ip_protocol = "IPv4";

  // Marathon probes it (HTTP, HTTPS, TCP); otherwise it goes to the slave.
  bool marathon_level() const { return protocol == "HTTP" || protocol == "HTTPS" || protocol == "TCP"; }
};

struct ReadinessCheck {
  std::string name = "readinessCheck";
  std::string protocol = "HTTP";  // HTTP HTTPS
  std::string path = "/";
  std::string port_name = "http-api";
  int interval_seconds = 30;
  int timeout_seconds = 10;
  std::vector<int> http_status_codes_for_ready = {200};
  bool preserve_last_response = false;
};

struct UpgradeStrategy {
  double minimum_health_capacity = 1;
  double maximum_over_capacity = 1;
};

struct UnreachableStrategy {
  bool disabled = false;  // JSON "disabled"
  int inactive_after_seconds = 0;
  int expunge_after_seconds = 0;
};

struct FetchUri {
  std::string uri;
  bool extract = true;
  bool executable = false;
  bool cache = false;
  std::optional<std::string> dest_path;
};

struct DockerSpec {
  std::string image;
  bool force_pull_image = false;
  bool privileged = false;
  std::vector<std::pair<std::string, std::string>> parameters;  // key, value
  std::optional<std::string> network;  // legacy "BRIDGE", "HOST", "USER", "NONE"
};

struct Volume {
  std::string container_path;
  std::string host_path;
  std::string mode = "RW";  // RO RW
};

struct Container {
  std::string type = "MESOS";  // MESOS DOCKER
  std::optional<DockerSpec> docker;
  std::vector<Volume> volumes;
  std::vector<PortMapping> port_mappings;
};

struct Network {
  std::string mode = "host";  // host, container/bridge, container
  std::optional<std::string> name;
  std::map<std::string, std::string> labels;
};

struct App {
  std::string id;  // canonical, "/prod/web"
  std::optional<std::string> cmd;
  std::optional<std::vector<std::string>> args;
  std::optional<std::string> user;
  std::map<std::string, std::string> env;  // plain values only ({"secret":…} refused: 422)
  int instances = 1;
  double cpus = 1;
  double mem = 128;
  double disk = 0;
  double gpus = 0;
  std::vector<PortDefinition> port_definitions;  // host networking
  bool require_ports = false;
  std::vector<Constraint> constraints;
  std::map<std::string, std::string> labels;
  std::vector<HealthCheck> health_checks;
  std::vector<ReadinessCheck> readiness_checks;
  UpgradeStrategy upgrade_strategy;
  double backoff_seconds = 1;
  double backoff_factor = 1.15;
  double max_launch_delay_seconds = 300;
  std::optional<int> task_kill_grace_period_seconds;
  std::vector<FetchUri> fetch;
  std::optional<Container> container;
  std::vector<Network> networks = {Network{}};
  std::vector<std::string> dependencies;  // canonical ids
  std::string kill_selection = "YOUNGEST_FIRST";  // or OLDEST_FIRST
  UnreachableStrategy unreachable_strategy;
  std::vector<std::string> accepted_resource_roles;
  std::string role = "*";
  std::string executor;  // "" = the command executor; "//cmd" accepted as ""

  // Output only (set by the services core).
  Timestamp version = 0;
  Timestamp last_scaling_at = 0;
  Timestamp last_config_change_at = 0;

  // The effective network mode: the last networks[].mode ("host" default).
  std::string network_mode() const;
  // Service ports in port order: portDefinitions[].port in host mode,
  // portMappings[].servicePort otherwise.
  std::vector<int> service_ports() const;
  // How many host ports a task of this app needs.
  size_t host_port_count() const;
  // The port names, in order ("" where unnamed), for PORT_<NAME> env.
  std::vector<std::string> port_names() const;
};

// Marathon's isUpgrade: true if any field but instances (and the output-only
// version fields) differs, so every task must be replaced.
bool is_upgrade(const App& from, const App& to);

// ---------------------------------------------------------------------------
// Validation errors (422 bodies).

struct Violation {
  std::string path;  // "/cpus", "/healthChecks(0)/protocol", "/" for the whole app
  std::string error; // Marathon's message
};

// What a bad body is: `status` 400 (malformed JSON) or 422, and the body as
// Marathon writes it ({"message":"Object is not valid","details":[{"path",
// "errors":[…]}]} / {"message":"Invalid JSON","details":…}).
struct ApiError {
  int status = 422;
  picojson::value body;
};

ApiError invalid_object(const std::vector<Violation>& violations);   // 422 "Object is not valid"
ApiError invalid_json_syntax(const std::string& details);            // 400 "Invalid JSON"
ApiError invalid_json_shape(const std::vector<Violation>& violations);  // 422 "Invalid JSON" (wrong types)
ApiError api_error(int status, const std::string& message);          // {"message": message}

// ---------------------------------------------------------------------------
// JSON.

struct ParseOptions {
  // Ids in the body are made absolute against this (a group's id).
  std::string base = "/";
  // The id from the URL when the body may lack it (PUT /v2/apps/{id}).
  std::optional<std::string> path_id;
};

// A whole app definition (POST /v2/apps, groups): Marathon's normalization
// (ports → portDefinitions, default portDefinitions for host networking,
// uris → fetch, cmd/args/container checks), defaults, and validation.
// Every violation is reported, with its path; nothing is partially applied.
std::variant<App, ApiError> parse_app(const picojson::value& json, const ParseOptions& options = {});

// An update of `current` (PUT with partialUpdate, PATCH): the fields present
// in `json` replace those of `current`; the result is validated as a whole.
// `json` may hold only {"version": ts} (a rollback request): returned as
// `rollback_to` for the caller to resolve.
struct AppUpdate {
  App app;
  std::optional<Timestamp> rollback_to;
};
std::variant<AppUpdate, ApiError> apply_update(const App& current, const picojson::value& json,
                                               const ParseOptions& options = {});

// The app as Marathon writes it: every field defaulted (labels always,
// portDefinitions, networks, upgradeStrategy, unreachableStrategy,
// killSelection, role, version, versionInfo; env/healthChecks omitted when
// empty; "ports" never written). Counts, tasks and deployments are added by
// the REST layer.
picojson::object app_json(const App& app);

// A health check / constraint as Marathon writes it (used by events too).
picojson::value health_check_json(const HealthCheck& hc);

}  // namespace stoa::services
