#pragma once
// A CAF scheduler that runs every scheduled actor of the process on CAF's
// I/O thread (the multiplexer, which already runs the brokers: the HTTP
// server, BASP) instead of on scheduler threads.
//
// Why (#17, docs/benchmarks.md "One thread for the slave's actors"): a
// slave's actors each do little per message, and nearly every message
// crosses between the multiplexer (a request or a remote message read, a
// reply written) and the scheduler thread. Each crossing woke the other
// thread (a futex wake, a wait, two context switches); on this project's
// VMs the switches alone were a sixth of the slave's CPU per launch. On one
// thread a hand-off is a push to the multiplexer's own queue.
//
// What it costs: nothing on this thread may block (true of every actor
// already: blocking work runs in detached actors, which keep their own
// threads), and a long handler delays the process's network reads and
// writes as it delays every other actor. Detached and blocking actors and
// scoped actors are unchanged; timers run on a thread of their own as on
// CAF's schedulers, with a clock that wakes it only for an earlier deadline
// (actors/deadline_clock.hpp).

#include <caf/fwd.hpp>

namespace stoa {

// Makes the actor system built from `cfg` use this scheduler; `cfg` must
// load the middleman (caf::io::middleman) too.
void use_io_thread_scheduler(caf::actor_system_config& cfg);

}  // namespace stoa
