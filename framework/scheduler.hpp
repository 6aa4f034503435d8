#pragma once
// Writing a framework as a CAF actor (ARCHITECTURE.md §8).
//
// The scheduler driver is an actor that resolves the master, subscribes
// (retrying with backoff), re-subscribes after a master failure, sends the
// implicit acknowledgements, and stamps every call with the FrameworkID.
// Two ways to use it:
//
// 1. Raw actor API: spawn_scheduler_driver(runtime, options, sink). The sink
//    (your own actor) receives
//      - `stoa::scheduler::Event` for SUBSCRIBED, OFFERS, RESCIND, UPDATE,
//        MESSAGE, FAILURE and ERROR (after an ERROR the driver exits), and
//      - `(scheduler_disconnected_atom)` when the master is lost;
//    and sends the driver
//      - `stoa::scheduler::Call` (any type but SUBSCRIBE; the driver fills in
//        framework_id and forwards it to the master), and
//      - `(stop_atom)` or `(stop_atom, bool failover)` to stop it.
//    Events are taken only from the current master (anything else sending
//    the driver an Event is ignored). Monitor the driver to learn that it
//    has exited.
//    With a zk:// master the driver follows the leader its detector reports:
//    on a new leader (or none) it drops the old master (its Events are
//    ignored from then on), tells the sink `disconnected` if it was
//    subscribed, and re-subscribes at once to the new leader with its
//    framework id; with no leader it waits. The driver monitors the
//    sink and exits when the sink does.
//
// 2. Class API: derive from `Scheduler` and call spawn_scheduler(). Every
//    callback runs inside one adapter actor (no locks needed); the
//    `SchedulerDriver&` passed in sends calls through the driver actor.
//
// Both driver and adapter exit when the driver is stopped, gets an ERROR
// event, or the Runtime shuts down; main waits with await_scheduler().

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "actors/atoms.hpp"
#include "framework/timers.hpp"
#include "proto/scheduler.pb.h"
#include "proto/stoa.pb.h"

namespace stoa {

class Runtime;

// Sent by the driver to its sink when the master is lost (Mesos'
// `disconnected` callback). The driver then re-resolves the master and
// re-subscribes on its own.
using scheduler_disconnected_atom = caf::atom_constant<caf::atom("disconnect")>;
constexpr scheduler_disconnected_atom scheduler_disconnected_atom_v{};

// Delivered to a scheduler adapter by await_scheduler() for SIGINT/SIGTERM,
// as `(scheduler_signal_atom, int signo)`.
using scheduler_signal_atom = signal_atom;  // actors/atoms.hpp
constexpr scheduler_signal_atom scheduler_signal_atom_v{};

struct SchedulerOptions {
  // The master as given to --master: "host:port", "master@host:port",
  // "http://host:port", or "zk://host1:port1,host2:port2/path" (or
  // "file:///path" holding one of those) to follow the leader elected in
  // ZooKeeper (actors/master_detector.hpp).
  std::string master;
  // The ZooKeeper session timeout, for a zk:// master.
  std::chrono::milliseconds zk_session_timeout = std::chrono::seconds(10);
  // Tests: a detector double whose (det_leader, Leader) reports the driver
  // follows instead of detecting `master` itself (`master` is then unused).
  caf::actor detector;
  // `name` must be set. An empty `user` becomes the current OS user and an
  // empty `hostname` this host's name. `id` is ignored: use framework_id.
  FrameworkInfo framework_info;
  // Set to fail over an existing framework: the first SUBSCRIBE then carries
  // this id and force=true.
  std::optional<FrameworkID> framework_id;
  // Acknowledge each UPDATE that carries a uuid right after delivering it.
  bool implicit_acknowledgements = true;
  // Ask the master to batch the events it has for us under load (Stoa's
  // extension, docs/architecture.md "Batched status updates"; the driver
  // then acknowledges a batch's updates in one message). The scheduler
  // still gets one event per message. false: one message per event and per
  // acknowledgement, as Mesos' drivers.
  bool batched_events = true;
  // SUBSCRIBE is re-sent after `subscribe_backoff`, doubling up to
  // `subscribe_backoff_max`, until SUBSCRIBED arrives.
  std::chrono::milliseconds subscribe_backoff = std::chrono::seconds(2);
  std::chrono::milliseconds subscribe_backoff_max = std::chrono::minutes(1);
  // A master that cannot be resolved (not up yet, or gone) is tried again
  // after `resolve_backoff`, doubling up to `resolve_backoff_max`.
  std::chrono::milliseconds resolve_backoff = std::chrono::milliseconds(500);
  std::chrono::milliseconds resolve_backoff_max = std::chrono::seconds(10);
};

// Spawns a scheduler driver delivering events to `sink` (see above). The
// driver names itself `scheduler-<uuid>` in `runtime` (its UPID is sent as
// the framework's pid) before it contacts the master. Errors in `options`
// (a bad master address, no framework name) are reported to the sink as an
// ERROR event, after which the driver exits.
// An empty FrameworkInfo.user or .hostname is filled in here, in the caller
// (fill_in_user_and_hostname(), which blocks), so the driver actor never
// makes those lookups; an actor calling this should fill them in first.
// REQUIRES: `runtime` outlives the driver (Runtime::shutdown() exits it).
caf::actor spawn_scheduler_driver(Runtime& runtime, SchedulerOptions options, caf::actor sink);

// The handle a Scheduler uses to talk to the master. Each call sends one
// message to the driver actor; none blocks. Calls made while the driver is
// not subscribed are dropped (with a warning), except that tasks launched
// then come back as TASK_LOST updates, as in Mesos.
// Only valid inside the scheduler's callbacks (it belongs to the adapter actor).
class SchedulerDriver {
 public:
  SchedulerDriver(caf::event_based_actor* self, caf::actor driver) : self_(self), driver_(std::move(driver)) {}
  SchedulerDriver(const SchedulerDriver&) = delete;
  SchedulerDriver& operator=(const SchedulerDriver&) = delete;

  // ACCEPT `offer_ids` with one LAUNCH operation of `tasks`.
  void launch(const std::vector<OfferID>& offer_ids, const std::vector<TaskInfo>& tasks,
              const Filters& filters = Filters());
  void accept(const std::vector<OfferID>& offer_ids, const std::vector<Offer::Operation>& operations,
              const Filters& filters = Filters());
  void decline(const OfferID& offer_id, const Filters& filters = Filters());
  void kill(const TaskID& task_id, const std::optional<SlaveID>& slave_id = std::nullopt);
  // Explicit acknowledgement (only needed with implicit_acknowledgements off).
  void acknowledge(const SlaveID& slave_id, const TaskID& task_id, const std::string& uuid);
  // Reconciles the given tasks (task_id and, when set, slave_id of each
  // status are used); an empty list asks for every task (implicit).
  void reconcile(const std::vector<TaskStatus>& statuses);
  void revive();
  void suppress();
  // Removes the framework from the master (its tasks are killed).
  void teardown();
  void send_message(const SlaveID& slave_id, const ExecutorID& executor_id, const std::string& data);
  // Any other call, sent as is (the driver fills in framework_id).
  void send(scheduler::Call call);

  // Stops the driver and then the adapter. With failover=false (the default,
  // as in Mesos) the framework is torn down first; with failover=true the
  // master keeps it for its failover_timeout.
  void stop(bool failover = false);

  // Runs `fn` inside the adapter after `delay` unless cancelled; returns the
  // timer's id.
  uint64_t after(std::chrono::milliseconds delay, std::function<void()> fn);
  void cancel(uint64_t timer_id);

  // The id from the last SUBSCRIBED, if any.
  const std::optional<FrameworkID>& framework_id() const { return framework_id_; }
  const caf::actor& driver() const { return driver_; }

 private:
  friend struct scheduler_adapter_state;
  caf::event_based_actor* self_;
  caf::actor driver_;
  std::optional<FrameworkID> framework_id_;
  Timers timers_;
};

// A framework written as callbacks. All callbacks run inside one actor, in
// the order the events arrived.
class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Called first, inside the adapter, before anything else (e.g. to start
  // timers with SchedulerDriver::after).
  virtual void started(SchedulerDriver&) {}
  // Subscribed (or re-subscribed after a master failover).
  virtual void subscribed(SchedulerDriver&, const FrameworkID&, const MasterInfo&) {}
  virtual void offers(SchedulerDriver&, const std::vector<Offer>&) {}
  virtual void rescind(SchedulerDriver&, const OfferID&) {}
  // The driver acknowledges the update after this returns (implicit acks).
  virtual void update(SchedulerDriver&, const TaskStatus&) {}
  virtual void message(SchedulerDriver&, const SlaveID&, const ExecutorID&, const std::string& /*data*/) {}
  // A slave (no executor_id) or an executor was lost.
  virtual void failure(SchedulerDriver&, const std::optional<SlaveID>&, const std::optional<ExecutorID>&,
                       std::optional<int> /*status*/) {}
  // The master refused or removed the framework; the driver exits right after.
  virtual void error(SchedulerDriver&, const std::string& /*message*/) {}
  // The master was lost; the driver re-subscribes on its own.
  virtual void disconnected(SchedulerDriver&) {}
  // SIGINT or SIGTERM arrived (see await_scheduler()). Default: stop().
  virtual void signaled(SchedulerDriver& driver, int /*signo*/) { driver.stop(); }
  // Called last, when the driver has exited (the adapter exits right after).
  virtual void stopped() {}
};

// Spawns the adapter actor running `scheduler` and its driver. Returns the
// adapter; it exits once the driver has exited.
// REQUIRES: `runtime` outlives the adapter.
caf::actor spawn_scheduler(Runtime& runtime, SchedulerOptions options, std::unique_ptr<Scheduler> scheduler);

// Blocks the calling thread (main; never an actor) until `actor` has exited.
// When `forward_signals` is true, SIGINT and SIGTERM are blocked in this thread
// and each one that arrives is sent to `actor` as (scheduler_signal_atom, signo).
// For the signals to reach this thread, call block_termination_signals() in
// main before Runtime::start (threads inherit the mask).
void await_scheduler(Runtime& runtime, const caf::actor& actor, bool forward_signals = true);

// Blocks SIGINT and SIGTERM in the calling thread (and threads it starts later).
void block_termination_signals();

// The current OS user's name ("root" if unknown).
std::string current_user();

// Sets an empty `info.user` to current_user() and an empty `info.hostname` to
// this host's name. Blocking lookups (getpwuid, gethostname): call it outside
// actors, as spawn_scheduler() and spawn_scheduler_driver() do.
void fill_in_user_and_hostname(FrameworkInfo& info);

}  // namespace stoa
