// The slave simulator: the coordinator that follows the leader, and how a
// process of simulated slaves starts (slave_simulator.hpp). The slaves:
// simulated_slave.cpp; flags: slave_simulator_flags.cpp.

#include "bench/slave_simulator.hpp"

#include <algorithm>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/master_detector.hpp"
#include "actors/messages.hpp"
#include "actors/router.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "actors/upid.hpp"
#include "bench/remote_rate.hpp"
#include "bench/slave_simulator_internal.hpp"
#include "common/logging.hpp"

namespace stoa::bench {

using namespace stoa::internal;
using sim::random_wait;
using sim::Shared;
using sim::sim_master_atom;

namespace {

// Private to the coordinator (texts no other atom uses).
using sim_resolve_atom =
    caf::atom_constant<caf::atom("sim_resolv")>;  // the coordinator resolves again
using sim_detector_atom =
    caf::atom_constant<caf::atom("sim_detect")>;  // the coordinator keeps its detector

// The coordinator tries a lost or unreachable master again after a random
// wait of at most this, doubling to _MAX: one resolve per process, so
// unlike the slaves' registrations there is no herd to spread.
constexpr auto RESOLVE_BACKOFF_MIN = std::chrono::milliseconds(50);
constexpr auto RESOLVE_BACKOFF_MAX = std::chrono::seconds(2);

// --- the coordinator ----------------------------------------------------------

class Coordinator {
 public:
  Coordinator() = default;

  caf::stateful_actor<Coordinator>* self = nullptr;
  std::shared_ptr<const Shared> shared;
  caf::actor router;
  caf::actor detector;
  std::vector<caf::actor> slaves;
  std::string leader;  // the leader's UPID; empty = none
  caf::actor master;
  uint64_t generation = 0;
  Duration backoff{};
  std::minstd_rand rng;
  static inline const char* name = "slave simulator";

  void broadcast() {
    for (const caf::actor& s : slaves) {
      self->send(s, sim_master_atom::value, master);
    }
  }

  void drop_master() {
    if (master) {
      self->demonitor(master);
      master = caf::actor{};
      broadcast();
    }
  }

  void on_leader(const detector::Leader& l) {
    if (l.pid == leader && master) {
      return;
    }
    if (l.pid != leader) {
      LOG_INFO << "The leading master is now " << (l.pid.empty() ? std::string("none") : l.pid);
      shared->leader_changes->inc();
    }
    leader = l.pid;
    ++generation;
    drop_master();
    backoff = RESOLVE_BACKOFF_MIN;
    if (!leader.empty()) {
      resolve();
    }
  }

  void resolve() {
    uint64_t g = generation;
    self->request(router, RESOLVE_TIMEOUT, resolve_atom_v, leader)
        .then(
            [this, g](const caf::actor& m) {
              if (g != generation) {
                return;
              }
              master = m;
              self->monitor(master);
              LOG_INFO << "Reached " << leader << "; " << slaves.size() << " slaves (re-)register";
              broadcast();
            },
            [this, g](caf::error& e) {
              if (g != generation) {
                return;
              }
              shared->resolve_failures->inc();
              LOG_WARNING << "Cannot reach " << leader << ": " << self->system().render(e)
                          << "; retrying";
              retry_later();
            });
  }

  void retry_later() {
    self->delayed_send(self, random_wait(rng, backoff), sim_resolve_atom::value, generation);
    backoff = std::min<Duration>(backoff * 2, RESOLVE_BACKOFF_MAX);
  }

  void on_down(const caf::down_msg& dm) {
    if (master && dm.source == master.address()) {
      LOG_WARNING << "Lost the master " << leader
                  << "; reaching it again until a new leader is known";
      master = caf::actor{};
      broadcast();
      ++generation;
      backoff = RESOLVE_BACKOFF_MIN;
      retry_later();
    }
  }
};

caf::behavior coordinator_actor(caf::stateful_actor<Coordinator>* self,
                                std::shared_ptr<const Shared> shared, caf::actor router,
                                std::vector<caf::actor> slaves) {
  Coordinator& c = self->state;
  c.self = self;
  c.shared = std::move(shared);
  c.router = std::move(router);
  c.slaves = std::move(slaves);
  c.rng.seed(c.shared->seed);
  set_safe_handlers(self, "slave simulator");
  // The slaves, their timers and the coordinator live and die together.
  for (const caf::actor& s : c.slaves) {
    self->link_to(s);
  }
  self->link_to(c.shared->timers);
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  auto local = [self] {
    return self->current_sender() && self->current_sender()->node() == self->node();
  };
  return {
      [self, local](detector::leader_atom, const detector::Leader& l) {
        if (local()) {
          self->state.on_leader(l);
        }
      },
      [self, local](sim_detector_atom, const caf::actor& d) {
        if (local()) {
          self->state.detector = d;
          self->link_to(d);
        }
      },
      [self](sim_resolve_atom, uint64_t generation) {
        if (self->current_sender() == self->ctrl() && generation == self->state.generation &&
            !self->state.leader.empty() && !self->state.master) {
          self->state.resolve();
        }
      },
  };
}
}  // namespace

// --- start ------------------------------------------------------------------------

void declare_simulator_metrics(metrics::Registry& r) {
  r.gauge("simulator/slaves", "Simulated slaves in this process");
  r.gauge("simulator/slaves_registered", "Simulated slaves registered with the current leader");
  r.gauge("simulator/tasks_running", "Tasks of the simulated slaves in TASK_RUNNING");
  r.counter("simulator/registrations", "SlaveRegisteredMessages that registered a simulated slave");
  r.counter("simulator/reregistrations",
            "SlaveReregisteredMessages that re-registered a simulated slave");
  r.counter("simulator/registration_messages",
            "Register and re-register messages sent, retries included");
  r.counter("simulator/registration_errors",
            "Registrations that gave a simulated slave a different id");
  r.counter("simulator/pongs", "Pongs sent");
  r.counter("simulator/tasks_launched", "RunTaskMessages accepted");
  r.counter("simulator/tasks_finished", "Tasks that reported TASK_FINISHED");
  r.counter("simulator/tasks_killed", "Tasks that reported TASK_KILLED");
  r.counter("simulator/status_updates_sent", "Status update messages sent, retries included");
  r.counter("simulator/status_updates_acknowledged", "Status updates the master acknowledged");
  r.counter("simulator/status_update_batches",
            "StatusUpdatesMessages sent: updates released by one batch of acknowledgements");
  r.counter("simulator/dropped_messages",
            "Messages dropped: not from the current master, or a foreign timer");
  r.counter("simulator/shutdowns", "ShutdownMessages the master sent to a simulated slave");
  r.counter("simulator/leader_changes", "Leaders the detector reported");
  r.counter("simulator/resolve_failures", "Failed attempts to reach the leading master");
}

Try<caf::actor> start_simulator(Runtime& runtime, SimulatorOptions options) {
  if (options.slaves == 0) {
    return Error("a simulator needs at least one slave");
  }
  if (auto why = check_master(options.master)) {
    return Error("Invalid master '" + options.master + "': " + *why);
  }
  metrics::Registry& r = runtime.metrics();
  declare_simulator_metrics(r);
  auto shared = std::make_shared<Shared>();
  shared->opts = options;
  shared->address = Upid{"", runtime.ip(), runtime.port()}.address();
  shared->seed = std::random_device{}();
  shared->info.set_port(runtime.port());
  options.resources.to_proto(shared->info.mutable_resources());
  shared->slaves = &r.gauge("simulator/slaves", "");
  shared->registered = &r.gauge("simulator/slaves_registered", "");
  shared->tasks_running = &r.gauge("simulator/tasks_running", "");
  shared->registrations = &r.counter("simulator/registrations", "");
  shared->reregistrations = &r.counter("simulator/reregistrations", "");
  shared->registration_messages = &r.counter("simulator/registration_messages", "");
  shared->registration_errors = &r.counter("simulator/registration_errors", "");
  shared->pongs = &r.counter("simulator/pongs", "");
  shared->tasks_launched = &r.counter("simulator/tasks_launched", "");
  shared->tasks_finished = &r.counter("simulator/tasks_finished", "");
  shared->tasks_killed = &r.counter("simulator/tasks_killed", "");
  shared->updates_sent = &r.counter("simulator/status_updates_sent", "");
  shared->updates_acknowledged = &r.counter("simulator/status_updates_acknowledged", "");
  shared->update_batches = &r.counter("simulator/status_update_batches", "");
  shared->dropped = &r.counter("simulator/dropped_messages", "");
  shared->shutdowns = &r.counter("simulator/shutdowns", "");
  shared->leader_changes = &r.counter("simulator/leader_changes", "");
  shared->resolve_failures = &r.counter("simulator/resolve_failures", "");
  shared->slaves->add(static_cast<double>(options.slaves));

  caf::actor_system& sys = runtime.system();
  shared->timers = sim::spawn_timers(sys);
  std::vector<caf::actor> slaves;
  slaves.reserve(options.slaves);
  for (size_t i = 1; i <= options.slaves; ++i) {
    slaves.push_back(sim::spawn_slave(sys, std::shared_ptr<const Shared>(shared),
                               static_cast<uint32_t>(i)));
  }
  // Named in the router (so `slave(i)@ip:port` resolves), not supervised
  // one by one: each is linked to the coordinator, which is.
  {
    caf::scoped_actor self{sys};
    for (size_t i = 0; i < slaves.size(); ++i) {
      self->request(runtime.router(), ROUTER_STEP_TIMEOUT, register_atom_v,
                    "slave(" + std::to_string(i + 1) + ")", slaves[i])
          .receive([] {},
                   [&](caf::error& e) {
                     LOG_ERROR << "Cannot name slave(" << i + 1 << "): " << sys.render(e);
                   });
    }
  }
  caf::actor coordinator = sys.spawn(coordinator_actor, std::shared_ptr<const Shared>(shared),
                                     runtime.router(), std::move(slaves));
  runtime.register_actor("simulator", coordinator);
  runtime.register_actor(RATE_ECHO_NAME, sys.spawn(rate_echo_actor));
  detector::Options d;
  d.master = options.master;
  d.subscriber = coordinator;
  d.session_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.zk_session_timeout);
  Try<caf::actor> det = detector::spawn_detector(sys, d);
  if (det.is_error()) {
    stop_actor(sys, coordinator);
    return Error(det.error());
  }
  caf::scoped_actor self{sys};
  self->send(coordinator, sim_detector_atom::value, *det);
  return coordinator;
}

}  // namespace stoa::bench
