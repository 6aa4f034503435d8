#pragma once
// The services core: the leading stoa-services' one actor that owns the
// apps, their tasks, deployments, the launch queue and health, runs the
// framework (a scheduler driver from the SDK: framework/scheduler.hpp), and
// persists every change in the store (store.hpp) before answering.
//
// Threads: everything here runs inside the core actor. The REST layer
// (rest.hpp) reaches it with one message carrying a closure:
//   self->request(core, timeout, core_call_atom_v, CoreCall{...}) -> http::Response
// The closure runs inside the core actor with the Core and a `reply`
// callback; it must call `reply` exactly once (at once, or later from an
// asynchronous completion such as a store write). The HTTP server then
// answers the client with that Response.
//
// Leadership (main wires it, see services_main.cpp):
//   (elected_atom)  -> the core loads the store, registers the framework
//                      (with the stored framework id and failover_timeout),
//                      reconciles, resumes the stored deployments, and leads.
//   (deposed_atom, std::string why) -> the core stops at once (exit reason
//                      normal is NOT used: it exits with a user-defined error
//                      so main ends the process with status 70, as Marathon
//                      crashes on leadership loss).
// Before it leads, every CoreCall still runs; `core.leading()` is false and
// the REST layer proxies to the leader instead of calling write methods.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "actors/http.hpp"
#include "apps/services/instance.hpp"
#include "apps/services/model.hpp"

namespace stoa {
class Runtime;
}

namespace stoa::services {

class EventBus;

using core_call_atom = caf::atom_constant<caf::atom("svc_call")>;
using elected_atom = caf::atom_constant<caf::atom("svc_elect")>;
using deposed_atom = caf::atom_constant<caf::atom("svc_depose")>;
constexpr core_call_atom core_call_atom_v{};
constexpr elected_atom elected_atom_v{};
constexpr deposed_atom deposed_atom_v{};

// The outcome of a change: the deployment started (or, for changes that
// need none, an empty deployment_id), or a Marathon-shaped error.
struct DeploymentResult {
  std::string deployment_id;
  Timestamp version = 0;
};
using Outcome = std::variant<DeploymentResult, ApiError>;

// A change to the set of apps (every REST write of apps and groups).
struct Change {
  // Apps created or replaced (complete, validated definitions; version is
  // set by the core).
  std::map<std::string, App> upserts;
  // App ids removed (StopApplication).
  std::set<std::string> removals;
  // App ids to restart even if unchanged (POST /v2/apps/{id}/restart).
  std::set<std::string> restarts;
  // Task ids to kill as part of a scale down (…/tasks?scale=true); their
  // apps' `instances` must already be lowered in `upserts`.
  std::vector<std::string> kill_tasks;
  // Cancel conflicting deployments instead of answering 409.
  bool force = false;
  // The request, for api_post_event (empty = no event).
  std::string client_ip;
  std::string uri;
  bool post_event = false;
};

struct QueueEntry {
  std::string app_id;
  int count = 0;              // instances still to launch
  Timestamp since = 0;        // first queued
  Timestamp delay_until = 0;  // launch delay (backoff) ends; 0 = none
  uint64_t processed_offers = 0;
  uint64_t unused_offers = 0;
  std::map<std::string, uint64_t> last_rejects;  // reject_name → count
};

struct CoreOptions {
  // --master as given (host:port or zk://…).
  std::string master;
  std::chrono::milliseconds zk_session_timeout = std::chrono::seconds(10);
  std::string framework_name = "marathon";
  std::string role = "*";
  std::chrono::milliseconds failover_timeout = std::chrono::hours(24 * 7);
  std::string hostname;   // this instance's host (FrameworkInfo.hostname)
  std::string webui_url;  // FrameworkInfo.webui_url
  int local_port_min = 10000;
  int local_port_max = 20000;
  std::chrono::milliseconds reconciliation_initial_delay = std::chrono::seconds(15);
  std::chrono::milliseconds reconciliation_interval = std::chrono::minutes(10);
  std::chrono::milliseconds task_launch_timeout = std::chrono::minutes(5);
  std::chrono::milliseconds decline_offer_duration = std::chrono::seconds(120);
  int max_running_deployments = 100;
  caf::actor store;                      // store.hpp
  std::shared_ptr<EventBus> events;      // events.hpp (may be null in tests)
};

class Core {
 public:
  virtual ~Core() = default;

  // ---- reads (valid while the call runs) ----
  virtual bool leading() const = 0;
  virtual std::optional<std::string> framework_id() const = 0;
  virtual const std::map<std::string, App>& apps() const = 0;
  virtual const App* app(const std::string& id) const = 0;
  // Every instance known, by task id (active ones and terminal ones not yet expunged).
  virtual const std::map<std::string, Instance>& instances() const = 0;
  // The instances of one app (active, with a slave: what `tasks` shows).
  virtual std::vector<const Instance*> tasks_of(const std::string& app_id) const = 0;
  virtual std::vector<const Deployment*> deployments() const = 0;
  virtual std::vector<const Deployment*> deployments_of(const std::string& app_id) const = 0;
  virtual std::optional<TaskFailure> last_task_failure(const std::string& app_id) const = 0;
  // Stored versions of an app, newest first.
  virtual std::vector<Timestamp> versions(const std::string& app_id) const = 0;
  // One stored version; fetched from the store (asynchronous).
  virtual void app_version(const std::string& app_id, Timestamp version,
                           std::function<void(std::optional<App>)> done) = 0;
  virtual std::vector<QueueEntry> queue() const = 0;
  // Service ports of every app but `except`, to assign new ones.
  virtual std::set<int> taken_service_ports(const std::string& except) const = 0;
  // The MasterInfo of the master we are subscribed to, as "host:port" ("" if none).
  virtual std::string master_address() const = 0;

  // ---- writes (leader only; a standby's REST proxies instead) ----
  // Validates the change against the current apps (409 locked unless force;
  // 403 over max_running_deployments; dependencies exist), assigns service
  // ports, stamps versions, persists, publishes group_change_success (and
  // api_post_event when asked), starts the deployment and calls done.
  virtual void change(Change change, std::function<void(Outcome)> done) = 0;
  // Kills tasks without scaling (they are replaced). `wipe` also forgets
  // them. Unknown ids are ignored (the REST layer checks first).
  virtual void kill(const std::vector<std::string>& task_ids, bool wipe, std::function<void()> done) = 0;
  // DELETE /v2/deployments/{id}: force → cancelled (202); else a revert
  // deployment is started (its result). nullopt in done = no such deployment.
  virtual void cancel_deployment(const std::string& id, bool force,
                                 std::function<void(std::optional<Outcome>)> done) = 0;
  // DELETE /v2/queue/{app}/delay: false if the app has no queue entry.
  virtual bool reset_delay(const std::string& app_id) = 0;
  // DELETE /v2/leader: gives up leadership after 500 ms (the process exits).
  virtual void abdicate() = 0;
};

// The closure the REST layer sends (local only).
using CoreCall = std::function<void(Core& core, std::function<void(http::Response)> reply)>;

// Spawns the core actor. It does nothing but answer CoreCalls (as a standby)
// until it is sent (elected_atom).
// REQUIRES: `runtime` outlives the core.
caf::actor spawn_core(Runtime& runtime, CoreOptions options);

}  // namespace stoa::services

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::services::CoreCall)
