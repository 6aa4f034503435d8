#pragma once
// The services core's state, shared by its files (core*.cpp); not part of
// the public interface (core.hpp is). Everything here runs inside the core
// actor.
//
//   core.cpp         the actor, its behavior, CoreCall dispatch and the reads
//   core_state.cpp   loading and persisting through the store actor
//   core_launch.cpp  the framework: subscription, offers, the launch queue,
//                    backoff, updates, reconciliation
//   core_deploy.cpp  changes and running deployments
//   core_health.cpp  Marathon-level probes and Mesos-level health
//   core_events.cpp  the events the core publishes

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <picojson.h>

#include "apps/services/core.hpp"
#include "apps/services/placement.hpp"
#include "apps/services/probe.hpp"
#include "framework/scheduler.hpp"
#include "proto/scheduler.pb.h"

namespace stoa::services {

using core_tick_atom = caf::atom_constant<caf::atom("svc_tick")>;
using core_reconcile_atom = caf::atom_constant<caf::atom("svc_recon")>;
using core_abdicate_atom = caf::atom_constant<caf::atom("svc_abdic")>;
using core_flush_atom = caf::atom_constant<caf::atom("svc_flush")>;
constexpr core_flush_atom core_flush_atom_v{};
constexpr core_tick_atom core_tick_atom_v{};
constexpr core_reconcile_atom core_reconcile_atom_v{};
constexpr core_abdicate_atom core_abdicate_atom_v{};

// How often the core re-evaluates deployments, the queue, health probes and timeouts.
constexpr auto CORE_TICK_INTERVAL = std::chrono::milliseconds(500);
// How long a store request may take before the change fails.
constexpr auto CORE_STORE_TIMEOUT = std::chrono::seconds(30);
// Offers refused while something is queued but does not fit (seconds).
constexpr double CORE_SHORT_REFUSE_SECONDS = 5;
// The first Marathon-level probe comes after min(interval, this).
constexpr auto CORE_FIRST_PROBE_MAX_DELAY = std::chrono::seconds(5);
// Stored versions kept per app (Marathon's --zk_max_versions default); older ones are deleted.
constexpr size_t CORE_MAX_VERSIONS = 50;
// A launch delay is at most this long, whatever the stored numbers say (ten years).
constexpr double CORE_MAX_DELAY_SECONDS = 10.0 * 365 * 24 * 3600;
// A launch that could not be stored is logged at most once per app this often.
constexpr Timestamp CORE_LAUNCH_ERROR_LOG_MS = 60'000;
// DELETE /v2/leader gives up leadership after this.
constexpr auto CORE_ABDICATE_DELAY = std::chrono::milliseconds(500);

// One write to the store.
struct StoreOp {
  enum Kind { PUT, DELETE, DELETE_PREFIX } kind = PUT;
  std::string key;
  std::string value;
};

// Launch backoff of one app (per config version).
struct Backoff {
  Timestamp config = 0;   // app.last_config_change_at it applies to
  double delay_seconds = 0;
  Timestamp until = 0;
};

// Readiness check bookkeeping of one (task, check) (core_readiness.cpp).
struct ReadinessSlot {
  Timestamp next_at = 0;
  bool in_flight = false;
  bool ready = false;
};

// Marathon-level probe bookkeeping of one (task, check).
struct ProbeSlot {
  Timestamp next_at = 0;
  bool in_flight = false;
};

struct CoreState : Core {
  CoreState() = default;  // user-declared (docs/actor-pitfalls.md §1)
  static inline const char* name = "services-core";

  caf::stateful_actor<CoreState>* self = nullptr;
  Runtime* runtime = nullptr;
  CoreOptions options;
  FrameworkInfo framework_info_;  // user and hostname filled in by spawn_core

  // ---- state ----
  bool leading_ = false;
  std::optional<std::string> framework_id_;
  std::map<std::string, App> apps_;
  std::map<std::string, std::map<Timestamp, App>> versions_;  // app id → version → app
  std::map<std::string, Instance> instances_;  // change only through add_instance / erase_instance
  // App id → task id → the instance in instances_ (map nodes do not move), in
  // step with instances_ (an instance's app never changes).
  std::map<std::string, std::map<std::string, Instance*>> instances_by_app_;
  std::map<std::string, Deployment> deployments_;
  std::vector<std::string> deployment_order_;  // ids, oldest first
  std::map<std::string, TaskFailure> failures_;
  std::map<std::string, Backoff> backoffs_;
  std::map<std::string, QueueEntry> queue_stats_;  // offer statistics per app
  std::map<std::string, SlaveFields> slave_fields_;
  std::mt19937_64 port_rng_{std::random_device{}()};  // where a task's dynamic host ports start
  std::map<std::string, Timestamp> unreachable_since_;
  std::map<std::pair<std::string, size_t>, ProbeSlot> probes_;
  std::map<std::string, Timestamp> kill_sent_;  // task id → when its last KILL was sent
  // App id → when a launch whose store write failed was last logged (once a minute).
  std::map<std::string, Timestamp> launch_error_logged_;
  std::set<std::string> unpersisted_;  // deployments whose change is not stored yet (not run)
  std::map<std::pair<std::string, size_t>, ReadinessSlot> readiness_;  // (task, check index)
  // The instance health last published (instance_health_changed_event), by task id.
  std::map<std::string, std::optional<bool>> health_published_;
  // Fire-and-forget writes not sent yet, by key (the newest wins); sent by
  // flush_writes() at the next core_flush_atom, or before any write that waits.
  std::map<std::string, StoreOp> pending_writes_;
  bool flush_scheduled_ = false;
  Timestamp last_version_ = 0;

  // ---- the framework ----
  caf::actor driver_;
  std::unique_ptr<SchedulerDriver> calls_;
  bool subscribed_ = false;
  bool suppressed_ = false;
  bool wanted_before_ = false;  // something was queued at the last update_offer_interest()
  bool reconcile_timer_armed_ = false;
  std::string master_address_;

  // ---- Core (core.cpp) ----
  bool leading() const override { return leading_; }
  std::optional<std::string> framework_id() const override { return framework_id_; }
  const std::map<std::string, App>& apps() const override { return apps_; }
  const App* app(const std::string& id) const override;
  const std::map<std::string, Instance>& instances() const override { return instances_; }
  std::vector<const Instance*> tasks_of(const std::string& app_id) const override;
  std::vector<const Deployment*> deployments() const override;
  std::vector<const Deployment*> deployments_of(const std::string& app_id) const override;
  std::optional<TaskFailure> last_task_failure(const std::string& app_id) const override;
  std::vector<Timestamp> versions(const std::string& app_id) const override;
  void app_version(const std::string& app_id, Timestamp version,
                   std::function<void(std::optional<App>)> done) override;
  std::vector<QueueEntry> queue() const override;
  std::set<int> taken_service_ports(const std::string& except) const override;
  std::string master_address() const override { return master_address_; }
  void change(Change change, std::function<void(Outcome)> done) override;
  void kill(const std::vector<std::string>& task_ids, bool wipe, std::function<void()> done) override;
  void cancel_deployment(const std::string& id, bool force,
                         std::function<void(std::optional<Outcome>)> done) override;
  bool reset_delay(const std::string& app_id) override;
  void abdicate() override;

  // ---- actor (core.cpp) ----
  void on_core_call(CoreCall& call);
  // 503 when this core does not lead (a standby, or still loading); writes refuse themselves.
  std::optional<ApiError> not_leading() const;
  void on_elected();
  void on_deposed(const std::string& why);
  void on_tick();
  void on_driver_down(const caf::down_msg& msg);
  // A new version stamp, strictly increasing.
  Timestamp next_version();

  // ---- state (core_state.cpp) ----
  void load();
  void on_loaded(std::map<std::string, std::string>& entries);
  void on_load_failed(const caf::error& e);
  // Runs `ops` in order; `done` gets nullopt or the first error.
  void persist(std::vector<StoreOp> ops, std::function<void(std::optional<std::string>)> done);
  // Fire-and-forget (errors logged), coalesced: queued by key and sent in
  // one batch once the messages already in the mailbox are handled.
  void persist(std::vector<StoreOp> ops);
  // Sends every queued fire-and-forget write now (in key order).
  void flush_writes();
  static std::string failure_key(const std::string& app_id);
  static std::string delay_key(const std::string& app_id);
  StoreOp put_failure(const TaskFailure& f) const;
  StoreOp put_delay(const std::string& app_id, const Backoff& b) const;
  static std::string app_key(const std::string& app_id);
  static std::string app_version_key(const std::string& app_id, Timestamp version);
  static std::string app_versions_prefix(const std::string& app_id);
  static std::string instance_key(const std::string& task_id);
  static std::string deployment_key(const std::string& id);
  StoreOp put_instance(const Instance& i) const;
  StoreOp put_deployment(const Deployment& d) const;

  // ---- framework and launching (core_launch.cpp) ----
  void start_driver();
  void on_event(scheduler::Event& e);
  void on_subscribed(const scheduler::Event::Subscribed& s);
  void on_offers(const std::vector<Offer>& offers);
  void on_update(const TaskStatus& status);
  void on_disconnected();
  void on_reconcile_timer();
  void reconcile_explicitly();
  // How many tasks of `app_id` should be launched now (0 while delayed or
  // while its deployment step has not come).
  int wanted_launches(const std::string& app_id) const;
  // Adds (or replaces) an instance, keeping instances_by_app_ in step.
  Instance& add_instance(Instance i);
  // Forgets an instance (nothing if unknown), keeping instances_by_app_ in step.
  void erase_instance(const std::string& task_id);
  // Every instance of the app (any state), in task id order: the index, not a scan.
  std::vector<Instance*> instances_of(const std::string& app_id);
  std::vector<const Instance*> instances_of(const std::string& app_id) const;
  // Active instances of the app whose goal is RUNNING and that are not inactive-unreachable.
  std::vector<const Instance*> counted_instances(const std::string& app_id) const;
  bool inactive_unreachable(const Instance& i, const App& app) const;
  void update_offer_interest();
  void kill_task(Instance& i, bool decommission);
  void on_terminal(Instance& i, TaskState state);
  void note_backoff(const App& app);
  // The launches of `launched` (tasks of `offer`) could not be stored: forget
  // them, make it visible (log, lastTaskFailure) and back off the apps.
  void on_launch_not_stored(const std::vector<std::string>& launched, const std::string& error);
  void check_timeouts();
  void record_failure(const Instance& i);

  // ---- deployments (core_deploy.cpp) ----
  // Applies `target` (every app after the change), starts the plan's
  // deployment, persists, then calls done.
  void apply(std::map<std::string, App> target, const std::set<std::string>& restarts,
             std::vector<std::string> to_kill, const Change* request, std::function<void(Outcome)> done);
  // Advances every deployment, or only those affecting `app_id` when given.
  void advance_deployments(const std::optional<std::string>& app_id = std::nullopt);
  // Deletes the oldest stored versions of an app beyond CORE_MAX_VERSIONS.
  void prune_versions(const std::string& app_id);
  // True when the action is finished; drives it (kills, launch budget) otherwise.
  bool drive_action(Deployment& d, const DeploymentAction& a);
  void finish_deployment(const std::string& id, bool success, const std::string& reason);
  const Deployment* deployment_of(const std::string& app_id) const;
  // The action of the current step of `app_id`'s deployment, if any.
  const DeploymentAction* current_action(const std::string& app_id, const Deployment** d = nullptr) const;
  // New-config instances for a rolling restart (app_version >= last_config_change_at).
  static bool is_new(const Instance& i, const App& app) { return i.app_version >= app.last_config_change_at; }
  int restart_launch_budget(const App& app) const;

  // ---- health (core_health.cpp) ----
  void run_probes();
  void on_probe(const std::string& task_id, size_t index, const ProbeResult& r);
  void on_mesos_health(Instance& i, bool healthy);
  std::optional<int> probe_port(const Instance& i, const HealthCheck& hc) const;

  // ---- readiness (core_readiness.cpp) ----
  // Starts due readiness checks of the new tasks of every current
  // deployment step whose app has readinessChecks.
  void run_readiness();
  void on_readiness(const std::string& task_id, size_t index, bool ready, std::optional<ReadinessResponse> response);
  // True when the app has no readiness checks, or every check of the task answered ready.
  bool ready(const Instance& i, const App& app) const;
  // Healthy and ready: what a deployment counts.
  bool deploy_ready(const Instance& i, const App& app) const { return i.healthy(app) && ready(i, app); }
  // Forgets a task's readiness and health bookkeeping.
  void forget_task(const std::string& task_id);

  // ---- events (core_events.cpp) ----
  void publish(const std::string& type, picojson::object fields);
  void publish_status(const Instance& i);
  void publish_instance_changed(const Instance& i);
  void publish_health_changed(const Instance& i, bool alive);
  // Publishes instance_health_changed_event when the instance's overall
  // health (true/false, or null without any result) differs from the last one published.
  void note_instance_health(const Instance& i);
  void publish_unknown_terminated(const std::string& task_id, const std::string& state);
  void publish_failed_health_check(const Instance& i, const HealthCheck& hc);
  void publish_unhealthy_kill(const Instance& i, const std::string& reason);
  void publish_deployment(const std::string& type, const Deployment& d, std::optional<std::string> reason = {});
  void publish_group_change(Timestamp version);
  void publish_api_post(const Change& c, const App& app);
  void publish_app_terminated(const std::string& app_id);
  void publish_scheduler_registered(bool reregistered);
  void publish_scheduler_disconnected();
};

using core_actor = caf::stateful_actor<CoreState>;

// Mesos state → Marathon's instance condition name.
std::string core_condition_name(const std::string& mesos_state);

}  // namespace stoa::services
