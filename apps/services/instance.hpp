#pragma once
// What stoa-services knows of one task (Marathon's Instance with its one
// task), its health, and the deployments and launch queue the REST layer
// shows. Plain data, shared by the core, the REST layer and the store.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <picojson.h>

#include "apps/services/model.hpp"

namespace stoa::services {

// The result of one health check (by index into app.health_checks) for one task.
struct HealthResult {
  int consecutive_failures = 0;
  std::optional<Timestamp> first_success;
  std::optional<Timestamp> last_success;
  std::optional<Timestamp> last_failure;
  std::string last_failure_cause;
  // Marathon's alive: lastSuccess exists and is newer than any lastFailure.
  bool alive() const { return last_success && (!last_failure || *last_success > *last_failure); }
};

// Where the services core wants a task to be.
enum class Goal { RUNNING, DECOMMISSIONED };

struct Instance {
  std::string task_id;   // "web.instance-<uuid>._app.1" (= Mesos TaskID)
  std::string app_id;    // "/web"
  Timestamp app_version = 0;  // the app version it was launched with
  std::string slave_id;
  std::string host;      // the slave's hostname
  std::vector<int> host_ports;   // in port order
  std::vector<int> service_ports;
  std::string state = "TASK_STAGING";  // the Mesos state name of its last update
  std::string message;                 // of the last update
  Timestamp staged_at = 0;
  std::optional<Timestamp> started_at;  // first TASK_RUNNING
  Goal goal = Goal::RUNNING;
  // Marathon-level checks, one per app.health_checks entry that is
  // marathon_level(), in that order.
  std::vector<HealthResult> health;
  // Mesos-level checks: TaskStatus.healthy of the last update that had it.
  std::optional<bool> mesos_healthy;

  bool active() const;    // not terminal (STAGING, STARTING, RUNNING, KILLING, UNREACHABLE)
  bool running() const { return state == "TASK_RUNNING"; }
  // Healthy as deployments and counts see it: for apps without checks, running;
  // else running and every check alive (Mesos-level: mesos_healthy == true).
  bool healthy(const App& app) const;
};

// The last failure of an app (lastTaskFailure).
struct TaskFailure {
  std::string app_id;
  std::string task_id;
  std::string state;
  std::string message;
  std::string host;
  std::string slave_id;
  Timestamp timestamp = 0;
  Timestamp version = 0;
};

// The last answer of a readiness check (kept when preserveLastResponse).
struct ReadinessResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// The result of one readiness check (by name) for one task of a deployment's
// current step (GET /v2/deployments currentActions[].readinessCheckResults).
struct ReadinessCheckResult {
  std::string name;     // the check's name
  std::string task_id;
  std::string app_id;   // the action it belongs to
  bool ready = false;
  std::optional<ReadinessResponse> last_response;  // only with preserveLastResponse
};

// One deployment action.
struct DeploymentAction {
  std::string action;  // StartApplication StopApplication ScaleApplication RestartApplication
  std::string app;     // app id
};

struct Deployment {
  std::string id;  // uuid
  Timestamp version = 0;
  std::vector<std::string> affected_apps;
  std::vector<std::vector<DeploymentAction>> steps;
  size_t current_step = 0;  // 1-based step being run; 0 before the first
  // The apps before and after, for rollback (a revert deployment) and for
  // knowing the target of each action.
  std::map<std::string, App> original;  // apps of affected_apps before (missing = new)
  std::map<std::string, App> target;    // apps after (missing = removed)
  // Task ids a scale step must kill first (DELETE …/tasks?scale=true).
  std::vector<std::string> to_kill;
  // Readiness check results of the current step's tasks (memory only: not
  // stored, a new leader checks again; cleared when the step changes).
  std::vector<ReadinessCheckResult> readiness;
};

// JSON of a deployment as GET /v2/deployments shows it (DeploymentStepInfo),
// and the light plan of deployment events ({id, steps, version}).
picojson::object deployment_json(const Deployment& d);
picojson::object plan_json(const Deployment& d);
picojson::value action_json(const DeploymentAction& a);
// {name, taskId, ready, lastResponse?: {status, contentType, body}}.
picojson::value readiness_result_json(const ReadinessCheckResult& r);

// Task JSON as /v2/apps?embed=apps.tasks and /v2/tasks show it;
// `with_service_ports` fills servicePorts (only /v2/tasks does).
picojson::object task_json(const Instance& instance, const App* app, bool with_service_ports);
picojson::object task_failure_json(const TaskFailure& f);

// The store's form of these (round-trips exactly).
picojson::value instance_to_store(const Instance& i);
Try<Instance> instance_from_store(const picojson::value& v);
picojson::value deployment_to_store(const Deployment& d);
Try<Deployment> deployment_from_store(const picojson::value& v);

// The app as stored (app_json plus what the store needs); parse_stored_app
// is the reverse and trusts nothing (a corrupt store is an error naming the field).
picojson::value app_to_store(const App& app);
Try<App> app_from_store(const picojson::value& v);

}  // namespace stoa::services
