// The master actor: its message table, start-up, the guards every handler
// relies on, and its metrics. The flows live beside it (master_actor.hpp).

#include "master/master.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <typeinfo>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/safety.hpp"
#include "common/logging.hpp"
#include "common/metric_families.hpp"
#include "common/strings.hpp"
#include "common/uuid.hpp"
#include "common/version.hpp"
#include "master/heap_tidy.hpp"
#include "master/master_actor.hpp"
#include "master/turn_cpu.hpp"
#include "master/validation.hpp"

namespace stoa::master {

using namespace stoa::internal;
using stoa::scheduler::Call;

// --- guards and bookkeeping ---------------------------------------------------

caf::actor Master::sender_actor() { return caf::actor_cast<caf::actor>(self->current_sender()); }

// Internal messages (timers) are accepted only from the master itself;
// anything else is dropped, logged and counted.
bool Master::from_self(const char* what) {
  if (self->current_sender() == self->ctrl()) {
    return true;
  }
  drop_message(what);
  return false;
}

bool Master::from_this_process(const char* what) {
  const caf::strong_actor_ptr& sender = self->current_sender();
  if (sender && sender->node() == self->node()) {
    return true;
  }
  drop_message(what);
  return false;
}

void Master::drop_message(const char* what) {
  count("master/dropped_messages");
  const caf::strong_actor_ptr& sender = self->current_sender();
  LOG_WARNING << "Dropping " << what << " message from "
              << (sender ? caf::to_string(sender->address()) : std::string("an anonymous sender"))
              << ": only the master itself may send it";
}

std::string Master::new_framework_id() {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04llu", static_cast<unsigned long long>(next_framework++));
  return st.info.id() + "-" + buf;
}

const SlaveRecord* Master::slave_by_handle(const caf::actor_addr& addr) {
  auto it = slave_ids.find(addr);
  if (it == slave_ids.end()) {
    return nullptr;
  }
  auto s = st.slaves.find(it->second);
  return s == st.slaves.end() ? nullptr : &s->second;
}

FrameworkRecord* Master::framework_by_handle(const caf::actor_addr& addr) {
  auto it = framework_ids.find(addr);
  if (it == framework_ids.end()) {
    return nullptr;
  }
  auto f = st.frameworks.find(it->second);
  return f == st.frameworks.end() ? nullptr : &f->second;
}

// Every change of a record's handle goes through these, so the sender
// indexes stay exact. A null handle removes the record from the index.
void Master::set_slave_handle(SlaveRecord& s, const caf::actor& handle) {
  if (s.handle) {
    auto it = slave_ids.find(s.handle.address());
    if (it != slave_ids.end() && it->second == s.id) {
      slave_ids.erase(it);
    }
  }
  s.handle = handle;
  if (handle) {
    slave_ids[handle.address()] = s.id;
  }
}

void Master::set_slave_pid(SlaveRecord& s, const std::string& pid) {
  if (auto it = slave_pids.find(s.pid); it != slave_pids.end() && it->second == s.id) {
    slave_pids.erase(it);
  }
  s.pid = pid;
  if (!pid.empty()) {
    slave_pids[pid] = s.id;
  }
}

void Master::set_framework_handle(FrameworkRecord& f, const caf::actor& handle) {
  if (f.handle) {
    auto it = framework_ids.find(f.handle.address());
    if (it != framework_ids.end() && it->second == f.id) {
      framework_ids.erase(it);
    }
  }
  f.handle = handle;
  if (handle) {
    framework_ids[handle.address()] = f.id;
  }
}

// Terminal states are counters (Mesos: master/tasks_finished, ...); the
// active ones are gauges refreshed from the records on a scrape.
void Master::count_task_state(TaskState state) {
  if (is_terminal_state(state)) {
    count(metrics::task_state_metric("master", state));
  }
}

void Master::on_down(const caf::down_msg& dm) {
  if (const SlaveRecord* s = slave_by_handle(dm.source)) {
    if (s->active) {
      disconnect_slave(st.slaves.edit(s->id));
    }
    return;
  }
  if (FrameworkRecord* f = framework_by_handle(dm.source)) {
    if (f->connected) {
      disconnect_framework(*f);
    }
  }
}

// --- metrics ------------------------------------------------------------------

void declare_master_metrics(metrics::Registry& r) {
  r.gauge("master/elected", "1 while this master leads");
  r.gauge("master/uptime_secs", "Seconds since this master started");
  r.gauge("master/slaves_active", "Registered slaves that are connected");
  r.gauge("master/slaves_inactive", "Registered slaves that are not connected");
  r.gauge("master/slaves_connected", "Registered slaves with a live connection");
  r.gauge("master/slaves_disconnected", "Registered slaves without a live connection");
  r.gauge("master/frameworks_active", "Frameworks that receive offers");
  r.gauge("master/frameworks_inactive", "Frameworks that do not receive offers");
  r.gauge("master/frameworks_connected", "Frameworks with a live connection");
  r.gauge("master/frameworks_disconnected", "Frameworks waiting for their failover timeout");
  r.gauge("master/outstanding_offers", "Offers sent and not yet answered");
  metrics::declare_resource_metrics(r, "master", "used by tasks");
  metrics::declare_task_state_metrics(r, "master");
  r.counter("master/turns", "Messages the master handled (or stashed), each timed");
  r.gauge("master/turn_longest_ms",
          "The longest time the master took over one message since it started (wall ms; every message "
          "that came meanwhile waited for it)");
  r.counter("master/turns_over_10ms", "Messages the master took more than 10 ms over");
  r.counter("master/turns_over_50ms", "Messages the master took more than 50 ms over");
  r.counter("master/turns_over_100ms", "Messages the master took more than 100 ms over");
  r.counter("master/slave_registrations", "Slaves registered");
  r.counter("master/slave_reregistrations", "Slaves re-registered");
  r.counter("master/duplicate_reregistrations",
            "Re-registrations retried before the first was answered (dropped, or answered again)");
  r.counter("master/slave_removals", "Slaves removed");
  r.counter("master/slave_removals/reason_registered", "Slaves removed because they registered again");
  r.counter("master/slave_removals/reason_unhealthy", "Slaves removed after missed pings");
  r.counter("master/slave_removals/reason_unregistered",
            "Slaves removed because they unregistered or did not re-register in time");
  r.counter("master/offers_sent", "Offers sent to frameworks");
  r.counter("master/offers_rescinded", "Offers rescinded");
  r.counter("master/offers_timed_out", "Offers rescinded after --offer_timeout");
  r.counter("master/valid_status_updates", "Status updates from registered slaves");
  r.counter("master/invalid_status_updates", "Status updates dropped");
  r.counter("master/operator_kills", "Kills of a task asked by the operator (POST /master/kill)");
  r.counter("master/operator_teardowns", "Frameworks torn down by the operator (POST /master/teardown)");
  r.counter("master/valid_status_update_acknowledgements", "Acknowledgements forwarded to slaves");
  r.counter("master/invalid_status_update_acknowledgements", "Acknowledgements for an absent slave");
  r.counter("master/invalid_framework_to_executor_messages", "Framework messages for an absent slave");
  r.counter("master/dropped_messages", "Messages refused by a sender check");
  r.counter("master/invariant_violations", "Accounting invariant violations (tests require 0)");
  r.counter("master/accounting_checks", "Exact master/allocator accounting cross-checks done");
  r.counter("master/http_render_errors", "Read-only views that failed to render");
  r.counter("master/view_renders_forked", "Views rendered by a forked child of the master (state_serving.hpp)");
  r.counter("master/view_renders_roped",
            "/master/state and /master/frameworks renders collected as a rope of fragments (state_rope.hpp)");
  r.counter("master/view_render_rests",
            "Rope renders that waited for the master to rest as long as the last one kept it busy");
  r.counter("master/view_render_fork_failures", "Views rendered in the master actor because fork(2) failed");
  r.gauge("master/contenders", "Masters contending in ZooKeeper (json.info_ nodes seen)");
  r.gauge("master/recovered_slaves", "Slaves of the registry not re-registered since this master was elected");
  r.gauge("master/slaves_unreachable", "Slaves the registry holds as unreachable");
  r.counter("master/messages_while_not_leading", "Protocol messages dropped while not leading");
  r.counter("master/registrar_failures", "Registrar operations that failed (the master exits)");
  r.counter("master/slave_unreachable_completed", "Slaves marked unreachable");
  r.counter("master/slave_unreachable_scheduled", "Slaves that missed their pings, scheduled for removal");
  r.counter("master/slave_unreachable_canceled",
            "Scheduled removals canceled because the slave answered (--slave_removal_rate_limit)");
  r.counter("master/messages_from_unreachable_slaves",
            "Status updates and executor messages dropped because their slave is unreachable");
  r.counter("master/batches_received", "Batches received: StatusUpdatesMessage and scheduler Calls (Stoa's extension)");
  r.counter("master/batched_messages_received", "Status updates and scheduler calls that came in batches");
  r.counter("master/batches_sent",
            "Batches sent: scheduler Events and StatusUpdateAcknowledgementsMessage (Stoa's extension)");
  r.counter("master/batched_messages_sent", "Events and acknowledgements sent in batches");
  for (const char* m : {"register_slave", "reregister_slave", "unregister_slave", "scheduler_calls", "subscribe",
                        "accept", "decline_offers", "revive_offers", "suppress_offers", "kill_task",
                        "status_update", "status_update_acknowledgement", "reconcile_tasks",
                        "framework_to_executor", "executor_to_framework", "launch_tasks"}) {
    r.counter(std::string("master/messages_") + m, std::string("Messages: ") + m);
  }
  declare_utilization_metrics(r);
  allocator::declare_allocator_metrics(r);
}

namespace {

StatusReply refused_remote() { return {403, "{\"message\":\"not accepted from a remote actor\"}"}; }

caf::behavior master_behavior(master_actor* self, MasterOptions opts,
                              std::shared_ptr<std::unique_ptr<allocator::Allocator>> core) {
  Master& m = self->state;
  m.self = self;
  m.opts = std::move(opts);
  if (m.opts.metrics != nullptr) {
    m.metrics = m.opts.metrics;
  } else {
    m.own_metrics = std::make_shared<metrics::Registry>();
    m.metrics = m.own_metrics.get();
  }
  declare_master_metrics(*m.metrics);
  m.hot.scheduler_calls = &m.metrics->counter("master/messages_scheduler_calls", "");
  m.hot.status_update_messages = &m.metrics->counter("master/messages_status_update", "");
  m.hot.valid_status_updates = &m.metrics->counter("master/valid_status_updates", "");
  m.hot.acknowledgement_messages = &m.metrics->counter("master/messages_status_update_acknowledgement", "");
  m.hot.valid_acknowledgements = &m.metrics->counter("master/valid_status_update_acknowledgements", "");
  m.hot.batches_received = &m.metrics->counter("master/batches_received", "");
  m.hot.batched_received = &m.metrics->counter("master/batched_messages_received", "");
  m.hot.batches_sent = &m.metrics->counter("master/batches_sent", "");
  m.hot.batched_sent = &m.metrics->counter("master/batched_messages_sent", "");
  m.turns.count = &m.metrics->counter("master/turns", "");
  m.turns.longest_ms = &m.metrics->gauge("master/turn_longest_ms", "");
  m.turns.over_10ms = &m.metrics->counter("master/turns_over_10ms", "");
  m.turns.over_50ms = &m.metrics->counter("master/turns_over_50ms", "");
  m.turns.over_100ms = &m.metrics->counter("master/turns_over_100ms", "");
  if (const char* cpu = std::getenv("STOA_TURN_CPU"); cpu != nullptr && cpu == std::string("1")) {
    m.turns.over_50ms_cpu = &m.metrics->counter(
        "master/turns_over_50ms_cpu", "Turns that took at least 50 ms of the master thread's CPU (STOA_TURN_CPU=1)");
    m.turns.longest_cpu_ms = &m.metrics->gauge("master/turn_longest_cpu_ms",
                                               "The most CPU time of the master's thread in one turn (STOA_TURN_CPU=1)");
  }
  if (const char* check = std::getenv("STOA_CHECK_INVARIANTS"); check != nullptr && check == std::string("1")) {
    m.check_invariants = true;
  }
  if (m.opts.flags.slave_removal_rate_limit) {
    m.removal_limit = *parse_rate_limit(*m.opts.flags.slave_removal_rate_limit);
  }
  if (m.opts.flags.offer_timeout) {
    m.offer_timeout = *parse_duration(*m.opts.flags.offer_timeout);
  }
  set_safe_handlers(self, "master");
  if (caf::actor hub = m.opts.events.actor) {
    self->attach_functor([hub] { caf::anon_send_exit(hub, caf::exit_reason::user_shutdown); });
  }
  m.st.info.set_id(random_uuid());
  m.st.info.set_ip(master_ip_number(m.opts.upid.host));
  m.st.info.set_port(m.opts.upid.port);
  m.st.info.set_pid(m.opts.upid.str());
  m.st.info.set_hostname(m.opts.hostname);
  m.st.info.set_version(STOA_VERSION);
  m.st.info.set_address_ip(m.opts.upid.host);
  if (m.opts.actor_port != 0) {
    m.st.info.set_actor_port(m.opts.actor_port);
  }
  m.st.version = STOA_VERSION;
  m.st.start_time = now_seconds();
  m.st.elected_time = m.st.start_time;
  m.st.flags = m.opts.flags.values();
  m.st.cluster = m.opts.flags.cluster.value_or("");
  allocator::ActorOptions aopts;
  aopts.check_invariants = m.check_invariants;
  aopts.metrics = m.metrics;
  aopts.metrics_owner = m.own_metrics;
  aopts.event_delay = m.opts.allocation_event_delay;
  aopts.detached = m.opts.detached_allocator;
  m.alloc = allocator::spawn_allocator(self->system(), std::move(*core), caf::actor_cast<caf::actor>(self),
                                       aopts);
  // The two live and die together: a dead allocator ends the master (the
  // supervisor sees it), a stopping master takes its allocator along.
  self->link_to(m.alloc);
  LOG_INFO << "Master " << m.st.info.id() << " (" << m.opts.hostname << ") started on " << m.opts.upid.str();
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  registrar::Options ropts = registrar_options(m.opts.flags);
  ropts.detached = m.opts.detached_registrar;
  Try<caf::actor> registrar = m.opts.registry_storage
                                  ? Try<caf::actor>(registrar::spawn_registrar(self->system(),
                                                                               *m.opts.registry_storage, ropts))
                                  : registrar::spawn_registrar(self->system(), ropts);
  if (registrar.is_error()) {
    self->quit(caf::make_error(caf::sec::runtime_error, "Cannot start the registrar: " + registrar.error()));
    return {};
  }
  m.registrar = *registrar;
  self->link_to(m.registrar);
  LOG_INFO << "Using the " << ropts.backend << " registry";
  m.metrics->set("master/elected", 0);
  if (m.opts.flags.zk) {
    m.phase = Phase::standby;
    m.start_contending();
  } else {
    m.start_recovery();
  }
  return m.waiting_behavior();
}

}  // namespace

caf::behavior leading_behavior(master_actor* self) {
  return {
      [self](RegisterSlaveMessage& x) { self->state.on_register_slave(x); },
      [self](ReregisterSlaveMessage& x) { self->state.on_reregister_slave(x); },
      [self](UnregisterSlaveMessage& x) { self->state.on_unregister_slave(x); },
      [self](StatusUpdateMessage& x) { self->state.on_status_update(x); },
      [self](StatusUpdatesMessage& x) { self->state.on_status_updates(x); },
      [self](ExitedExecutorMessage& x) { self->state.on_exited_executor(x); },
      [self](ExecutorToFrameworkMessage& x) { self->state.on_executor_message(x); },
      [self](PongSlaveMessage&) { self->state.on_pong(); },
      [self](SlaveUsageMessage& x) { self->state.on_slave_usage(x); },
      [self](Call& x) { self->state.on_call(x); },
      [self](scheduler::Calls& x) { self->state.on_calls(x); },
      [self](flush_events_atom) {
        if (self->state.from_self("event flush")) {
          self->state.flush_events();
        }
      },
      // From the allocator actor only.
      [self](offers_atom, allocator::Allocations& a) {
        if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(self->state.alloc)) {
          self->state.drop_message("offers");
          return;
        }
        self->state.on_offers(a);
      },
      [self](launch_slice_atom) {
        if (self->state.from_self("launch slice")) {
          self->state.launch_slice();
        }
      },
      [self](offers_rest_atom, allocator::Allocations& a) {
        if (self->state.from_self("offers")) {
          self->state.on_offers(a);
        }
      },
      // Timers: only the master sends these to itself.
      [self](ping_timer_atom) {
        if (self->state.from_self("ping timer")) {
          self->state.on_ping_timer();
        }
      },
      [self](reregister_timer_atom, const std::string& id, uint64_t gen) {
        if (self->state.from_self("re-register timer")) {
          self->state.on_reregister_timeout(id, gen);
        }
      },
      [self](failover_timer_atom, const std::string& id, uint64_t gen) {
        if (self->state.from_self("failover timer")) {
          self->state.on_failover_timeout(id, gen);
        }
      },
      [self](rope_slice_atom, const std::string& key) {
        if (self->state.from_self("rope slice")) {
          self->state.on_rope_slice(key);
        }
      },
      [self](removal_permit_atom) {
        if (self->state.from_self("removal permit")) {
          self->state.on_removal_permit();
        }
      },
      [self](utilization_timer_atom) {
        if (self->state.from_self("utilization timer")) {
          self->state.on_utilization_tick();
        }
      },
      [self](offer_timer_atom, const std::string& offer_id) {
        if (self->state.from_self("offer timer")) {
          self->state.on_offer_timeout(offer_id);
        }
      },
      // Leadership: a leader that is no longer the leader exits.
      [self](detector::leader_atom, const detector::Leader& l) { self->state.on_leader(l); },
      [self](detector::lost_atom, const std::string& why) { self->state.on_lost(why); },
      [self](recovered_timer_atom) {
        if (self->state.from_self("recovered timer")) {
          self->state.on_recovered_timeout();
        }
      },
      // Operator requests come from this process' HTTP routes only; the
      // actor port is no back door around HTTP.
      [self](state_atom, const std::string& endpoint,
             const std::map<std::string, std::string>& query) -> caf::result<int, std::string> {
        if (!self->state.from_this_process("state request")) {
          auto [status, body] = refused_remote();
          return {status, body};
        }
        return self->state.on_state_request(endpoint, query);
      },
      [self](view_atom, const std::string& endpoint,
             const std::map<std::string, std::string>& query) -> caf::result<int, std::string, ViewBody> {
        if (!self->state.from_this_process("view request")) {
          auto [status, body] = refused_remote();
          return {status, body, ViewBody()};
        }
        return self->state.on_view_request(endpoint, query);
      },
      [self](update_atom, const std::string& endpoint, const std::string& method, const std::string& path,
             const std::string& body) -> caf::result<int, std::string> {
        if (!self->state.from_this_process("update request")) {
          auto [status, text] = refused_remote();
          return {status, text};
        }
        return self->state.on_update_request(endpoint, method, path, body);
      },
      [self](metrics_atom) -> bool {
        if (!self->state.from_this_process("metrics request")) {
          return false;
        }
        self->state.refresh_gauges();
        return true;
      },
  };
}

namespace {

// The master as a class, only to time its turns: CAF hands each message to
// consume(), which runs the handler (or stashes or skips the message).
class TimedMasterActor : public master_actor {
 public:
  TimedMasterActor(caf::actor_config& cfg, MasterOptions opts,
                   std::shared_ptr<std::unique_ptr<allocator::Allocator>> core)
      : master_actor(cfg), opts_(std::move(opts)), core_(std::move(core)), heap_tidy_(heap_tidy_period()) {}

  caf::behavior make_behavior() override { return master_behavior(this, std::move(opts_), std::move(core_)); }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    const auto start = std::chrono::steady_clock::now();
    // Inside the turn's time: it is the master's thread's work.
    tidy_heap_every(heap_tidy_, start);
    if (state.turns.over_50ms_cpu == nullptr) {
      caf::invoke_message_result r = master_actor::consume(x);
      state.record_turn(std::chrono::steady_clock::now() - start, std::nullopt, x.content());
      return r;
    }
    turn_cpu_.begin(start);
    caf::invoke_message_result r = master_actor::consume(x);
    const auto end = std::chrono::steady_clock::now();
    state.record_turn(end - start, turn_cpu_.end(start, end), x.content());
    return r;
  }

  static std::chrono::nanoseconds thread_cpu() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }

 private:
  TurnCpu<std::chrono::nanoseconds (*)()> turn_cpu_{&thread_cpu};
  MasterOptions opts_;
  std::shared_ptr<std::unique_ptr<allocator::Allocator>> core_;
  std::chrono::milliseconds heap_tidy_;
};

}  // namespace

Master::Turns::Seen Master::Turns::record(std::chrono::nanoseconds took) {
  using std::chrono::milliseconds;
  if (count == nullptr) {
    return Seen::usual;  // before the master's metrics are set up
  }
  count->inc();
  const bool longer = took > longest;
  if (longer) {
    longest = took;
    longest_ms->set(std::chrono::duration<double, std::milli>(took).count());
  }
  if (took < milliseconds(10)) {
    return Seen::usual;
  }
  over_10ms->inc();
  if (took < milliseconds(50)) {
    return Seen::usual;
  }
  over_50ms->inc();
  if (took >= milliseconds(100)) {
    over_100ms->inc();
  }
  return longer ? Seen::longest : Seen::slow;
}

namespace {

std::string demangled(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

}  // namespace

std::string Master::describe_turn_message(const caf::actor_system& sys, const caf::type_erased_tuple& what) {
  std::string types;
  for (size_t i = 0; i < what.size(); ++i) {
    const auto rtti = what.type(i);
    std::string name = sys.types().portable_name(rtti);
    if (name == "???" && rtti.second != nullptr) {
      // A type CAF was not told the name of (a message the master sends
      // itself): its C++ name.
      name = demangled(*rtti.second);
    }
    types += (i == 0 ? "" : ", ") + (name == "@atom" ? what.stringify(i) : name);
    if (what.match_element<Call>(i)) {
      // (The handler may have moved the call's members out; its type stays.)
      types += " " + Call::Type_Name(what.get_as<Call>(i).type());
    }
  }
  return types;
}

void Master::record_turn(std::chrono::nanoseconds took, std::optional<std::chrono::nanoseconds> cpu,
                         const caf::type_erased_tuple& what) {
  if (cpu) {
    if (*cpu >= std::chrono::milliseconds(50)) {
      turns.over_50ms_cpu->inc();
    }
    if (*cpu > turns.longest_cpu) {
      turns.longest_cpu = *cpu;
      turns.longest_cpu_ms->set(std::chrono::duration<double, std::milli>(*cpu).count());
      // Which message took the most of the master's own CPU (its wall
      // time may be a wait for a core; this is its work).
      if (*cpu >= std::chrono::milliseconds(10)) {
        LOG_INFO << "The most CPU in one turn so far: " << std::chrono::duration<double, std::milli>(*cpu).count()
                 << " ms (" << std::chrono::duration<double, std::milli>(took).count()
                 << " ms of wall time), over a message (" << describe_turn_message(self->system(), what) << ")";
      }
    }
  }
  Turns::Seen seen = turns.record(took);
  if (seen == Turns::Seen::usual) {
    return;
  }
  // Which message: what to look at when the master stalls. A slow turn that
  // is not the longest is logged at most once a second.
  auto now = std::chrono::steady_clock::now();
  if (seen == Turns::Seen::slow && now - turns.last_logged < std::chrono::seconds(1)) {
    return;
  }
  turns.last_logged = now;
  const std::string types = describe_turn_message(self->system(), what);
  LOG_INFO << (seen == Turns::Seen::longest ? "The longest turn so far: " : "A slow turn: ")
           << std::chrono::duration<double, std::milli>(took).count() << " ms"
           << (cpu ? " (" + std::to_string(std::chrono::duration<double, std::milli>(*cpu).count()) + " ms of CPU)"
                   : std::string())
           << ", over a message (" << types << ")";
}

Try<caf::actor> spawn_master(caf::actor_system& sys, MasterOptions opts) {
  allocator::Options aopts;
  aopts.policy = opts.flags.allocator_policy;
  aopts.allocation_interval = opts.flags.allocation_interval;
  const std::string& min_text = opts.flags.min_allocatable_resources;
  for (const std::string& part : split(min_text, '|')) {
    if (part.empty()) {
      continue;
    }
    Try<Resources> r = Resources::parse(part);
    if (r.is_error()) {
      return Error("Flag '--min_allocatable_resources=" + min_text + "': " + r.error());
    }
    aopts.min_allocatable.push_back(*r);
  }
  if (opts.flags.roles) {
    std::set<std::string> roles;
    for (const std::string& role : split(*opts.flags.roles, ',')) {
      if (role.empty()) {
        return Error("Flag '--roles=" + *opts.flags.roles + "': empty role");
      }
      roles.insert(role);
    }
    roles.insert("*");
    aopts.roles = roles;
  }
  if (opts.flags.weights) {
    Try<std::map<std::string, double>> w = parse_weights(*opts.flags.weights);
    if (w.is_error()) {
      return Error("Flag '--weights=" + *opts.flags.weights + "': " + w.error());
    }
    aopts.weights = *w;
  }
  Try<std::unique_ptr<allocator::Allocator>> core = allocator::Allocator::create(aopts);
  if (core.is_error()) {
    return Error("Cannot create the allocator: " + core.error());
  }
  auto holder = std::make_shared<std::unique_ptr<allocator::Allocator>>(std::move(*core));
  return caf::actor(sys.spawn<TimedMasterActor>(std::move(opts), holder));
}

}  // namespace stoa::master
