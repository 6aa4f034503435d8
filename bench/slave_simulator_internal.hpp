#pragma once
// What the slave simulator's pieces share (slave_simulator.hpp): the
// simulated slaves and their timers (simulated_slave.cpp) and the
// coordinator that follows the leader and starts them (slave_simulator.cpp).

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include <caf/fwd.hpp>
#include <caf/actor.hpp>
#include <caf/atom.hpp>

#include "bench/slave_simulator.hpp"
#include "common/metrics.hpp"
#include "proto/stoa.pb.h"

namespace stoa::bench::sim {

// coordinator -> slave: the master (a text no other atom uses).
using sim_master_atom = caf::atom_constant<caf::atom("sim_master")>;

// What every slave of the process shares (one pointer per slave).
struct Shared {
  SimulatorOptions opts;
  // The registration retries of every slave of the process (timers_actor).
  caf::actor timers;
  SlaveInfo info;       // resources and port; hostname and id per slave
  std::string address;  // "ip:port" of this process
  uint32_t seed = 0;    // of every slave's random waits (drawn once, in start_simulator)
  metrics::Gauge* slaves = nullptr;
  metrics::Gauge* registered = nullptr;
  metrics::Gauge* tasks_running = nullptr;
  metrics::Counter* registrations = nullptr;
  metrics::Counter* reregistrations = nullptr;
  metrics::Counter* registration_messages = nullptr;
  metrics::Counter* registration_errors = nullptr;
  metrics::Counter* pongs = nullptr;
  metrics::Counter* tasks_launched = nullptr;
  metrics::Counter* tasks_finished = nullptr;
  metrics::Counter* tasks_killed = nullptr;
  metrics::Counter* updates_sent = nullptr;
  metrics::Counter* update_batches = nullptr;
  metrics::Counter* updates_acknowledged = nullptr;
  metrics::Counter* dropped = nullptr;
  metrics::Counter* shutdowns = nullptr;
  metrics::Counter* leader_changes = nullptr;
  metrics::Counter* resolve_failures = nullptr;
};

inline Duration random_wait(std::minstd_rand& rng, Duration bound) {
  std::uniform_int_distribution<int64_t> d(0, std::max<int64_t>(1, bound.count()));
  return Duration(d(rng));
}

// The process's registration timers, for Shared::timers (simulated_slave.cpp).
caf::actor spawn_timers(caf::actor_system& sys);
// Simulated slave `index`, `slave(index)@` this process.
caf::actor spawn_slave(caf::actor_system& sys, std::shared_ptr<const Shared> shared, uint32_t index);

}  // namespace stoa::bench::sim
