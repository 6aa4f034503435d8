#pragma once
// An actor system on the I/O-thread scheduler (actors/io_thread_scheduler.hpp)
// for the tests of the scheduler and of its clock (actors/deadline_clock.hpp).

#include <cstddef>
#include <functional>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/deadline_clock.hpp"
#include "actors/io_thread_scheduler.hpp"

namespace stoa {

struct IoThreadSystem {
  IoThreadSystem() : sys(init(cfg)) {}
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.load<caf::io::middleman>();
    c.set("logger.console-verbosity", caf::atom("quiet"));
    use_io_thread_scheduler(c);
    return c;
  }
  // The multiplexer's thread, hashed as thread_hash() in the tests.
  std::size_t io_thread() { return std::hash<std::thread::id>{}(sys.middleman().backend().thread_id()); }
  DeadlineClock& clock() { return dynamic_cast<DeadlineClock&>(sys.clock()); }
  caf::actor_system_config cfg;
  caf::actor_system sys;
};

}  // namespace stoa
