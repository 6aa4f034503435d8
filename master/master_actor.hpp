#pragma once
// The master actor's state and handlers (internal to master/). One class,
// its methods grouped by concept in one file each:
//
//   master.cpp      the message table, spawn, guards, ids, metrics
//   slaves.cpp      registration, re-registration, pings (and the removal
//                   rate limit), disconnection, removal
//   frameworks.cpp  subscribe (new, retry, failover), calls, disconnection,
//                   failover timeout, teardown
//   offers.cpp      offers from the allocator actor, decline, accept,
//                   rescind/offer timeout, the accounting checks
//   tasks.cpp       status updates, kill, acknowledge, messages between
//                   frameworks and executors
//   reconciliation.cpp  explicit and implicit reconciliation, a known
//                   slave's re-registration, kills kept for absent slaves,
//                   partition-aware frameworks' unreachable tasks
//   operator.cpp    HTTP views and operator updates (weights, quota) over
//                   pure renderers (state_json.cpp, operator_json.cpp),
//                   maintenance (over maintenance.cpp)
//   operator_actions.cpp  the operator's teardown and kill
//   leadership.cpp  contending in ZooKeeper, recovery from the registry,
//                   the standby/recovering phases, redirects
//   view_renders.cpp  the big views rendered by forked children
//                   (state_serving.hpp), batched per view
//
// Every timer message is accepted only from the master itself
// (`from_self`), operator requests only from actors of this process.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message_view.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/master_detector.hpp"
#include "actors/messages.hpp"
#include "common/metrics.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"
#include "master/allocator_actor.hpp"
#include "master/maintenance.hpp"
#include "master/master.hpp"
#include "master/master_state.hpp"
#include "master/state_rope.hpp"
#include "master/utilization.hpp"
#include "proto/registry.pb.h"
#include "registrar/registrar.hpp"

namespace stoa::master {

// The --slave_removal_rate_limit timer: the next removal may happen.
using removal_permit_atom = caf::atom_constant<caf::atom("m_rmpermit")>;
constexpr removal_permit_atom removal_permit_atom_v{};
// The rest of an allocation pass' result, handed by the master to itself
// (offers.cpp): a pass offering many slaves is turned into offers
// OFFERS_PER_TURN at a time, with other messages handled in between.
using offers_rest_atom = caf::atom_constant<caf::atom("m_offrest")>;
constexpr offers_rest_atom offers_rest_atom_v{};
// The next slice of a rope render (view_renders.cpp, state_rope.hpp): the
// master refreshes stale fragments for at most ROPE_SLICE per message, with
// other messages handled in between, then collects the view.
// The end of the master's turn for the events it batched (frameworks.cpp):
// sent to itself when the first event is batched, so it arrives after the
// messages already in its mailbox.
using flush_events_atom = caf::atom_constant<caf::atom("m_flushev")>;
constexpr flush_events_atom flush_events_atom_v{};
using rope_slice_atom = caf::atom_constant<caf::atom("m_rope")>;
constexpr rope_slice_atom rope_slice_atom_v{};
// Work the master splits over its turns (offers from an allocation pass,
// due pings) stops once TURN_BUDGET has passed, the clock read every
// TURN_CLOCK_EVERY items (TurnBudget), as well as at its count per turn:
// an offer costs ~20-30 us on a quiet machine but up to ~220 us on a
// loaded 2-core VM, where 1,000 offers made turns of 220 ms and 1,000 pings
// of 124 ms (master/turns_over_50ms; issue #17).
constexpr auto TURN_BUDGET = std::chrono::milliseconds(10);
constexpr size_t TURN_CLOCK_EVERY = 32;
class TurnBudget {
 public:
  // Whether the turn stops before its item `n` (counted from 0; never the first).
  bool spent(size_t n) const {
    return n > 0 && n % TURN_CLOCK_EVERY == 0 && std::chrono::steady_clock::now() - started_ >= TURN_BUDGET;
  }

 private:
  // Real time, also in tests driven in virtual time.
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};
// Allocations turned into offers per message, at most (and TurnBudget).
constexpr size_t OFFERS_PER_TURN = 1000;
// The next slice of the messages stashed while recovering (leadership.cpp),
// sent by the master to itself: the stash is handled REPLAY_SLICE messages
// at a time, with the mailbox served in between (#17).
using replay_atom = caf::atom_constant<caf::atom("m_replay")>;
constexpr replay_atom replay_atom_v{};
// Stashed messages handled per slice, at most (and TurnBudget: a
// re-registration costs ~100-150 us under load, more on a loaded VM).
constexpr size_t REPLAY_SLICE = 400;
// The next slice goes at high priority, so that a flood of retries cannot
// starve the replay; but CAF serves only 3 normal messages between two
// urgent ones, so a request behind hundreds of messages would wait for the
// whole stash. Every REPLAY_YIELD_EVERY-th slice, and any slice
// REPLAY_YIELD_AFTER or more after the last such one (long slices: a
// loaded machine), goes at normal priority instead: behind everything in
// the mailbox, which the master takes first (stashed, requests answered).
constexpr size_t REPLAY_YIELD_EVERY = 8;
constexpr std::chrono::milliseconds REPLAY_YIELD_AFTER{100};
// The next slice of the accepted tasks not launched yet (offers.cpp,
// launch_slice), sent by the master to itself at high priority.
using launch_slice_atom = caf::atom_constant<caf::atom("m_launch")>;
constexpr launch_slice_atom launch_slice_atom_v{};
// Accepted tasks launched per turn, at most (and TurnBudget): an ACCEPT of
// hundreds of tasks (~100-300 us each on a loaded 2-core VM) made turns of
// 50-338 ms (#17); the rest waits in Master::pending_launches.
constexpr size_t LAUNCHES_PER_TURN = 128;
// Due pings sent per message, at most (and TurnBudget; slaves.cpp,
// on_ping_timer): a batch that fell due together (50,000 slaves
// re-registered within seconds) is sent in turns.
constexpr size_t PINGS_PER_TURN = 1000;
// The cluster utilization timer (usage_reports.cpp): record a cluster sample.
using utilization_timer_atom = caf::atom_constant<caf::atom("m_utiltick")>;
constexpr utilization_timer_atom utilization_timer_atom_v{};

class Master;
using master_actor = caf::stateful_actor<Master>;
using StatusReply = std::tuple<int, std::string>;

// standby: another master leads; recovering: elected, reading the registry;
// leading: the full message table (leadership.cpp).
enum class Phase { standby, recovering, leading };

// The registrar's options from the master's flags (leadership.cpp).
registrar::Options registrar_options(const MasterFlags& flags);

// MasterInfo.ip: the IPv4 address as a uint32 in network order (Mesos).
uint32_t master_ip_number(const std::string& ip);

// A status the master itself makes (source master, now; no uuid: never
// acknowledged). An empty `slave_id` is left unset.
TaskStatus master_status(const TaskID& task_id, const std::string& slave_id, TaskState state,
                         TaskStatus::Reason reason, const std::string& message);

class Master {
 public:
  // User-declared so CAF default-constructs the state (an aggregate would be
  // built from the actor pointer in C++20).
  Master() = default;
  static inline const char* name = "master";

  master_actor* self = nullptr;
  MasterOptions opts;
  MasterState st;
  allocator::allocator_actor alloc;
  // The process registry (MasterOptions::metrics) or our own.
  std::shared_ptr<metrics::Registry> own_metrics;
  metrics::Registry* metrics = nullptr;
  uint64_t next_framework = 0;
  uint64_t next_slave = 0;
  uint64_t next_offer = 0;
  std::optional<Duration> offer_timeout;
  // Checked after every allocation pass when STOA_CHECK_INVARIANTS=1 (tests).
  bool check_invariants = false;
  // Updates sent to the allocator that change its accounting; the exact
  // cross-check compares views taken while none was in flight.
  uint64_t alloc_updates = 0;
  bool accounting_check_pending = false;
  // O(1) lookup of the sender of a message.
  std::unordered_map<caf::actor_addr, std::string> slave_ids;
  std::unordered_map<caf::actor_addr, std::string> framework_ids;
  // Registered slaves by pid (a registration from a known pid).
  std::unordered_map<std::string, std::string> slave_pids;
  // Leadership (leadership.cpp).
  Phase phase = Phase::recovering;
  caf::actor detector_actor;  // with --zk: our contender and detector
  detector::Leader leader;    // the last leader detected
  caf::actor registrar;
  size_t recovered_total = 0;  // slaves in the registry at recovery
  // Registrations waiting for the registrar: pids of new slaves, ids of
  // re-registering ones (a retry meanwhile is ignored).
  std::set<std::string> admitting_pids;
  std::set<std::string> readmitting_ids;
  // While recovering, protocol messages wait here, in order, and are
  // handled once the master leads (leadership.cpp). Not left in the
  // mailbox (caf::skip): CAF tries every skipped message again after each
  // message it handles, so 250,000 retries from 50,000 slaves made recovery
  // quadratic. A re-registration identical to one waiting (same sender,
  // same slave id, same bytes) is the slave's retry: dropped. Once leading
  // the stash is handled in slices (replaying_behavior): what arrives
  // meanwhile is stashed behind it, except requests, handled at once.
  struct Stashed {
    caf::strong_actor_ptr sender;
    caf::message content;
  };
  struct HeldReregistration {
    caf::actor_addr from;
    uint64_t hash = 0;
  };
  std::deque<Stashed> recovery_stash;
  std::chrono::steady_clock::time_point replay_started;
  // The last slice sent at normal priority (REPLAY_YIELD_EVERY), and the
  // slices sent at high priority since.
  std::chrono::steady_clock::time_point replay_yielded;
  size_t replay_slices_since_yield = 0;
  std::chrono::steady_clock::time_point recovery_asked;  // of the registrar
  size_t replayed = 0;  // stashed messages handled since leading
  std::unordered_map<std::string, HeldReregistration> held_reregistrations;
  // Kills of tasks whose slave is disconnected or unreachable, by slave id
  // then (framework id, task id); sent when the slave re-registers, dropped
  // when the task ends meanwhile (reconciliation.cpp).
  std::map<std::string, std::map<std::pair<std::string, std::string>, internal::KillTaskMessage>> pending_kills;
  // The slaves' pings (slaves.cpp): every (re-)registered slave is pinged
  // each --slave_ping_timeout. One timer for all of them instead of a
  // delayed message per slave (each a request to CAF's clock thread: ~5 %
  // of a failover's re-registrations, #17). Every ping has the same period,
  // so the order they are scheduled in is the order they fall due: they
  // wait here in that order and the timer is armed for the first.
  struct PingDue {
    caf::actor_clock::time_point due;
    std::string slave_id;
    uint64_t generation = 0;  // the slave's disconnect_generation then
  };
  std::deque<PingDue> ping_queue;
  // An ACCEPT's tasks not launched yet (offers.cpp, on_accept).
  struct PendingLaunch {
    std::string framework_id;
    std::string slave_id;
    std::string role;
    Resources available;  // the accepted offers' resources, less what was launched
    std::optional<double> refuse;  // the ACCEPT's filter, for what goes back
    std::deque<TaskInfo> tasks;  // in the ACCEPT's order
    std::set<std::string> seen;  // ids launched from it (validate_task)
  };
  std::deque<PendingLaunch> pending_launches;
  bool ping_timer_armed = false;
  // --slave_removal_rate_limit: slaves that missed their pings wait here
  // (in order) for a permit; one is issued every `per / permits`.
  std::optional<RateLimit> removal_limit;
  std::deque<std::string> removal_queue;
  bool removal_permit_pending = false;
  // Usage reports of the slaves and the cluster's samples (usage_reports.cpp).
  UtilizationHistory utilization;
  // The maintenance schedule and down machines as the registry holds them
  // (what GET answers), and the newest accepted change, stored or still
  // being stored (what the next POST applies to). Equal when no write is
  // in flight; the registrar stores writes in order, so `maintenance`
  // catches up with `maintenance_next`.
  Maintenance maintenance;
  Maintenance maintenance_next;
  // Views rendered off the actor (view_renders.cpp), by endpoint and query:
  // the requests the running render answers, and those that arrived
  // meanwhile and wait for the next one. Untyped promises, each answering
  // (int status, std::string body) or, for a view_atom request (`spans`),
  // (int status, std::string body, ViewBody spans): all of a render's
  // requests are delivered one message, shared, not a copy of the body each.
  struct ViewWaiter {
    caf::response_promise rp;
    bool spans = false;
  };
  struct ViewRender {
    std::string endpoint;
    std::map<std::string, std::string> query;
    std::vector<ViewWaiter> current;
    std::vector<ViewWaiter> next;
    // A rope render: the time its turns took on the master's thread so
    // far, and whether its refresh is done (a turn of its own collects).
    std::chrono::steady_clock::duration busy{};
    bool refreshed = false;
  };
  // No rope render starts before this: after each, the master rests three
  // times as long as it kept it busy, at most 100 ms (view_renders.cpp).
  std::chrono::steady_clock::time_point renders_rested_at{};
  std::map<std::string, ViewRender> view_renders;
  // Renders /master/state and /master/frameworks from the records'
  // fragments (state_rope.hpp); keeps its place between slices.
  RopeRenderer rope;

  // --- master.cpp: guards, ids, bookkeeping ----------------------------------
  caf::actor sender_actor();
  bool from_self(const char* what);
  bool from_this_process(const char* what);
  void drop_message(const char* what);
  std::string new_framework_id();
  // Read-only: a change goes through st.slaves.edit() (RenderedMap).
  const SlaveRecord* slave_by_handle(const caf::actor_addr& addr);
  FrameworkRecord* framework_by_handle(const caf::actor_addr& addr);
  void set_slave_handle(SlaveRecord& s, const caf::actor& handle);
  void set_framework_handle(FrameworkRecord& f, const caf::actor& handle);
  void set_slave_pid(SlaveRecord& s, const std::string& pid);  // "" forgets it
  // Sends to the allocator; `changes_accounting` marks updates that move
  // resources (see check_accounting).
  template <class T>
  void tell_allocator(T msg, bool changes_accounting = true) {
    if (changes_accounting) {
      ++alloc_updates;
    }
    self->send(alloc, std::move(msg));
  }
  void count(const std::string& name, double by = 1) { metrics->inc(name, by); }
  // Handles of the counters every status update and acknowledgement bumps:
  // no name built and no registry lookup on that path (set at spawn).
  struct HotCounters {
    metrics::Counter* scheduler_calls = nullptr;
    metrics::Counter* status_update_messages = nullptr;
    metrics::Counter* valid_status_updates = nullptr;
    metrics::Counter* acknowledgement_messages = nullptr;
    metrics::Counter* valid_acknowledgements = nullptr;
    metrics::Counter* batches_received = nullptr;
    metrics::Counter* batched_received = nullptr;
    metrics::Counter* batches_sent = nullptr;
    metrics::Counter* batched_sent = nullptr;
  } hot;
  // How long the master's turns take (wall time from taking a message to
  // being ready for the next; TimedMasterActor in master.cpp measures them):
  // how many, the longest so far, and how many went over each bound. A turn
  // is what every message behind it waits for, whatever the HTTP path or
  // the machine's scheduler add to that.
  struct Turns {
    std::chrono::nanoseconds longest{0};
    metrics::Counter* count = nullptr;
    metrics::Gauge* longest_ms = nullptr;
    metrics::Counter* over_10ms = nullptr;
    metrics::Counter* over_50ms = nullptr;
    metrics::Counter* over_100ms = nullptr;
    // STOA_TURN_CPU=1 (set: these are not null): a turn's CPU is also
    // counted (master/turn_cpu.hpp: the thread's CPU clock read only around
    // turns of ≥ 1 ms), so that a slow turn tells the master's own work from
    // the time its thread waited for a core.
    metrics::Counter* over_50ms_cpu = nullptr;
    std::chrono::nanoseconds longest_cpu{0};
    metrics::Gauge* longest_cpu_ms = nullptr;
    std::chrono::steady_clock::time_point last_logged{};
    // Counts one turn: slow is ≥ 50 ms, longest is slow and the longest so far.
    enum class Seen { usual, slow, longest };
    Seen record(std::chrono::nanoseconds took);
  } turns;
  // Records one turn that took `took` over the message `what`.
  // `cpu`: the thread's CPU time over it, if measured (Turns::cpu).
  // What a slow turn's log line says of its message: each element's type
  // name (an atom's value), and a scheduler Call's type ("stoa.scheduler.Call
  // ACCEPT"), the one message kind that can be cheap or expensive.
  static std::string describe_turn_message(const caf::actor_system& sys, const caf::type_erased_tuple& what);
  void record_turn(std::chrono::nanoseconds took, std::optional<std::chrono::nanoseconds> cpu,
                   const caf::type_erased_tuple& what);
  void count_task_state(TaskState state);
  void on_down(const caf::down_msg& dm);

  // --- master_tally.cpp: the kept totals (st.tally, SlaveRecord::used) -------
  // Every change of a task in a framework's `tasks`, of a slave record or of
  // its `active` flag goes through these, so the totals stay exact
  // (invariants: master_tally.hpp).
  // The slave whose `used` counts task `t` of `fid`, or nullptr.
  SlaveRecord* slave_counting(const std::string& fid, const Task& t);
  void tally_held(const std::string& fid, const Task& t, bool held);
  // After `t` was put in f.tasks (and in its slave's `tasks`).
  void tally_task_added(const std::string& fid, const Task& t);
  // Before `t`, as it is in f.tasks, leaves it (or its slave's `tasks`).
  void tally_task_removing(const std::string& fid, const Task& t);
  // After the state of `t` (in f.tasks) changed from `before`.
  void tally_task_state(const std::string& fid, const Task& t, TaskState before);
  // After `s` was put in st.slaves (its `tasks` may already list tasks).
  void tally_slave_added(SlaveRecord& s);
  // Before `s` leaves st.slaves.
  void tally_slave_removing(const SlaveRecord& s);
  // A framework's unreachable tasks change only through these, which keep
  // MasterState::unreachable_by_slave (checked by check_tally).
  void add_unreachable_task(FrameworkRecord& f, Task t);
  Task take_unreachable_task(FrameworkRecord& f, TaskMap::const_iterator it);
  void set_slave_active(SlaveRecord& s, bool active);
  // Recounts the totals (O(tasks)); a difference is logged and counted as
  // an invariant violation. Run after every allocation pass in tests.
  void verify_tally();

  // --- leadership.cpp --------------------------------------------------------
  void start_contending();
  void on_leader(const detector::Leader& l);
  void on_lost(const std::string& why);
  // While recovering: keeps `x` for later, or drops it as a retry.
  void stash(caf::message_view& x);
  void replay_stash();
  void replay_slice();
  void abdicate(const std::string& why);
  void start_recovery();
  void on_recovered(registrar::ScannedRegistry& scanned);
  void on_recovered_timeout();
  // Applies `op` through the registrar; `done(changed)` runs once it is
  // stored. A failure ends the master (it must not lead on).
  void registry_apply(registry::Operation op, std::function<void(bool)> done);
  void registrar_failed(const char* what, const caf::error& e);
  void check_registry_loaded();
  StatusReply not_leading_reply(const std::string& endpoint);
  StatusReply redirect_reply();
  caf::behavior waiting_behavior();
  caf::behavior replaying_behavior();

  // --- slaves.cpp ------------------------------------------------------------
  std::optional<std::string> check_slave_info(const SlaveInfo& info, Resources* total);
  void on_register_slave(internal::RegisterSlaveMessage& m);
  void admit_slave(const caf::actor& from, const internal::RegisterSlaveMessage& m, SlaveInfo info,
                   const Resources& total);
  void on_reregister_slave(internal::ReregisterSlaveMessage& m);
  // `was_unreachable`: the registry held it as unreachable (non-partition-
  // aware frameworks' tasks were reported lost and are shut down on it).
  void readmit_slave(const caf::actor& from, const internal::ReregisterSlaveMessage& m, const Resources& total,
                     bool was_unreachable);
  internal::MasterSlaveConnection connection() const;
  void shutdown_slave(const caf::actor& to, const std::string& why);
  void forget_slave_for_good(const std::string& id);
  void on_unregister_slave(internal::UnregisterSlaveMessage& m);
  void schedule_ping(const std::string& id);
  void on_ping_tick(const std::string& id, uint64_t generation);
  void on_ping_timer();
  void arm_ping_timer();
  void on_pong();
  // A slave missed --max_slave_ping_timeouts pings: removed as unreachable
  // now, or queued under --slave_removal_rate_limit.
  void schedule_unreachable(const std::string& id);
  void on_removal_permit();
  void cancel_scheduled_removal(const SlaveRecord& s);
  void disconnect_slave(SlaveRecord& s);
  void on_reregister_timeout(const std::string& id, uint64_t generation);
  // Ends task `tid` of `fid` in `state` on the master's word (TASK_LOST of a
  // lost slave, TASK_DROPPED/LOST of one the slave no longer has): the
  // framework hears it, the task is completed, its resources go back.
  void end_task(const std::string& fid, const std::string& tid, TaskState state, TaskStatus::Reason reason,
                const std::string& message);
  // `unreachable`: the registry marks it unreachable (health checks,
  // re-registration timeout), else removes it (unregistered, replaced).
  void remove_slave(std::string id, std::string why, const char* reason_metric, bool unreachable = false);
  bool from_slave(const std::string& slave_id);

  // --- frameworks.cpp --------------------------------------------------------
  void send_event(FrameworkRecord& f, const scheduler::Event& e);
  // The same, handing `e` to the message instead of copying it.
  void send_event(FrameworkRecord& f, scheduler::Event&& e);
  void send_subscribed(FrameworkRecord& f, bool reregistered);
  void send_error(const caf::actor& to, const std::string& message);
  void on_call(scheduler::Call& call);

  // --- batches.cpp -------------------------------------------------------------
  // Stoa's batched status updates (docs/architecture.md, "Batched status
  // updates"). Events for a scheduler that takes Events wait in
  // `event_batches` (per handle, in order) until flush_events(), which the
  // master's self-sent flush_events_atom runs after the messages queued
  // before it (a batch holds at most EVENT_BATCH_MAX events: the next one
  // sends them first). Every event to a handle goes through here, so their
  // order is kept.
  static constexpr int EVENT_BATCH_MAX = 512;
  struct EventBatch {
    caf::actor to;
    scheduler::Events events;
  };
  std::vector<EventBatch> event_batches;
  bool event_flush_queued = false;
  void batch_event(const caf::actor& to, scheduler::Event&& e);
  // The next event of `to`'s batch, to fill in place: a kept element
  // (take_recycled()), cleared, with its sub-messages and strings.
  scheduler::Event& batched_event(const caf::actor& to);
  void send_events(const caf::actor& to, scheduler::Events& events);  // a lone event as itself
  void count_batch_sent(int elements);  // send_batch()'s answer, in the metrics
  void flush_events();
  // Sends what is batched for `to` now (before a message sent to it directly).
  void flush_events_to(const caf::actor& to);
  // A Calls message: each call handled in order. Its acknowledgements for a
  // slave that takes batches are sent to that slave as one message once the
  // batch (or the run of acknowledgements before another call) is handled.
  void on_calls(scheduler::Calls& calls);
  // A new acknowledgement in `slave`'s batch, to fill.
  internal::StatusUpdateAcknowledgementMessage& batch_acknowledgement(const caf::actor& slave);
  void flush_acknowledgements();
  bool collecting_acknowledgements = false;
  std::unordered_map<caf::actor, internal::StatusUpdateAcknowledgementsMessage> acknowledgement_batches;
  // A StatusUpdatesMessage: each update handled in order, as if alone.
  void on_status_updates(internal::StatusUpdatesMessage& m);
  void on_subscribe(const caf::actor& from, scheduler::Call& call);
  FrameworkRecord& add_framework(const caf::actor& from, FrameworkInfo info, const std::string& pid);
  void disconnect_framework(FrameworkRecord& f);
  void on_failover_timeout(const std::string& fid, uint64_t generation);
  void remove_framework(std::string fid, const std::string& why);

  // --- offers.cpp ------------------------------------------------------------
  // Turns the first OFFERS_PER_TURN allocations into offers (one OFFERS
  // event per framework) and sends itself the rest (offers_rest_atom); the
  // invariant checks run after the last part.
  void on_offers(allocator::Allocations& allocations);
  void remove_offer(const std::string& offer_id, bool rescind, std::optional<double> refuse);
  void on_offer_timeout(const std::string& offer_id);
  void on_decline(FrameworkRecord& f, const scheduler::Call::Decline& d);
  // Validates and consumes the offers at once, then launches the tasks in
  // order, at most LAUNCHES_PER_TURN (and TurnBudget) per turn: what is
  // left waits in pending_launches (first in, first launched) and the
  // master sends itself launch_slice_atom. Between turns a pending task can
  // be killed (TASK_KILLED, never launched) and is reconciled as
  // TASK_STAGING, as Mesos' pending tasks are (Master::kill, reconcile).
  void on_accept(FrameworkRecord& f, scheduler::Call::Accept& accept);
  void launch_slice();
  // `slave_it`: l.slave_id in st.slaves, or its end.
  void launch_task(FrameworkRecord& f, PendingLaunch& l, RenderedMap<SlaveRecord, NoneTouched>::const_iterator slave_it,
                   TaskInfo& t);
  // Drops the pending tasks of framework `fid` with id `tid`; the first of
  // them, or nullopt if none.
  std::optional<TaskInfo> take_pending_task(const std::string& fid, const std::string& tid);
  const TaskInfo* pending_task(const std::string& fid, const std::string& tid) const;
  void verify_invariants();
  void check_accounting();

  // --- tasks.cpp -------------------------------------------------------------
  // Sends the framework an UPDATE event with `status`.
  void send_update(FrameworkRecord& f, const TaskStatus& status);
  // The same, taking `status` (left empty) instead of copying it.
  void send_update(FrameworkRecord& f, TaskStatus* status);
  void send_master_update(FrameworkRecord& f, const TaskInfo& task, TaskState state,
                          TaskStatus::Reason reason, const std::string& message);
  void remove_task(FrameworkRecord& f, const Task& task, bool release);
  void on_status_update(internal::StatusUpdateMessage& m);
  // The same, `sender` being the sender's slave record (null if none),
  // looked up once for a batch (on_status_updates): the slave records
  // stay where they are while updates are handled.
  void on_status_update(internal::StatusUpdateMessage& m, const SlaveRecord* sender);
  void on_kill(FrameworkRecord& f, const scheduler::Call::Kill& k);
  void on_acknowledge(FrameworkRecord& f, const scheduler::Call::Acknowledge& ack);

  // --- reconciliation.cpp ----------------------------------------------------
  void on_reconcile(FrameworkRecord& f, const scheduler::Call::Reconcile& r);
  // The answer to a reconciliation of a task the framework does not hold
  // running (Mesos' cases); nullopt = no answer yet (its slave was recovered
  // from the registry and has not re-registered).
  std::optional<TaskState> unknown_task_state(const FrameworkRecord& f, const TaskID& tid,
                                              const std::optional<std::string>& slave_id);
  void send_reconciliation(FrameworkRecord& f, const TaskID& tid, const std::string& slave_id, TaskState state,
                           const std::string& message);
  // A known slave re-registers: tasks it does not report are dropped, kills
  // issued while it was away are sent, removed frameworks shut down.
  void reconcile_known_slave(SlaveRecord& s, const internal::ReregisterSlaveMessage& m);
  void shutdown_removed_frameworks(const caf::actor& to, const internal::ReregisterSlaveMessage& m);
  void send_pending_kills(const std::string& slave_id, const caf::actor& to);
  void forget_pending_kill(const std::string& slave_id, const std::string& fid, const std::string& tid);
  void mark_task_unreachable(FrameworkRecord& f, const std::string& tid, const std::string& message);
  bool framework_removed(const std::string& fid) const;
  void on_framework_message(FrameworkRecord& f, const scheduler::Call::Message& m);
  FrameworkRecord* framework_of_slave_message(const SlaveID& slave_id, const FrameworkID& framework_id);
  void on_exited_executor(internal::ExitedExecutorMessage& m);
  void on_executor_message(internal::ExecutorToFrameworkMessage& m);

  // --- operator.cpp ----------------------------------------------------------
  caf::result<int, std::string> on_state_request(const std::string& endpoint,
                                                 const std::map<std::string, std::string>& query);
  caf::result<int, std::string> on_update_request(const std::string& endpoint, const std::string& method,
                                                  const std::string& path, const std::string& body);
  StatusReply render(const std::string& endpoint, const std::map<std::string, std::string>& query);
  void refresh_gauges();

  // --- view_renders.cpp --------------------------------------------------------
  // True for the views whose size grows with the tasks (state, frameworks,
  // state-summary, slaves, tasks) once the state holds more than
  // `inline_render_limit()` slaves + tasks: those are rendered off the actor.
  bool renders_in_child(const std::string& endpoint) const;
  // Answers the view from a render off the actor (batched per view): with
  // (status, body), or with (status, body, spans) when `spans`.
  caf::response_promise serve_view_in_child(const std::string& endpoint,
                                            const std::map<std::string, std::string>& query, bool spans);
  // (view_atom, endpoint, query): a view for the HTTP routes (master.hpp).
  caf::result<int, std::string, ViewBody> on_view_request(const std::string& endpoint,
                                                          const std::map<std::string, std::string>& query);
  void start_view_render(const std::string& key);
  // One slice of a rope render of view `key`; the last one collects the
  // view, answers the view_atom requests with the rope and hands it to a
  // detached actor that concatenates it for the others.
  void on_rope_slice(const std::string& key);
  void on_view_rendered(const std::string& key, int status, std::string& body);
  // The view's requests are all answered: the next ones, if any, start a render.
  void next_view_render(const std::string& key);

  // --- usage_reports.cpp -----------------------------------------------------
  // A slave's SlaveUsageMessage: checked (numbers, known slave, sent by it),
  // else dropped, logged and counted; recorded in `utilization`.
  void on_slave_usage(internal::SlaveUsageMessage& m);
  void drop_usage_report(const std::string& slave_id, const char* reason, const std::string& why);
  // Slave `s`'s total and allocated (records) with `used` at `now`.
  UtilizationSample slave_sample(const SlaveRecord& s, double now, const MeasuredUsage& used);
  // Records the cluster's sample now and every cluster interval after
  // (from the moment this master leads).
  void start_utilization();
  // The cluster's total and allocated resources now (the kept totals, O(1)).
  UtilizationSample cluster_totals(double now);
  void on_utilization_tick();
  // GET /master/utilization[?slave_id=].
  StatusReply utilization_reply(const std::map<std::string, std::string>& query);
  void refresh_utilization_gauges();
  // --- operator_actions.cpp ----------------------------------------------------
  // POST /master/teardown and /master/kill (bodies as form or JSON).
  StatusReply teardown_by_operator(const std::string& body);
  StatusReply kill_by_operator(const std::string& body);
};

// Declares every master metric (Mesos' names) in `registry`.
void declare_master_metrics(metrics::Registry& registry);

// Declares master/utilization/* and the usage report counters (usage_reports.cpp).
void declare_utilization_metrics(metrics::Registry& registry);

// The leading master's message table (master.cpp).
caf::behavior leading_behavior(master_actor* self);

}  // namespace stoa::master
