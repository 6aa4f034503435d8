// stoa-slave-simulator: N simulated slaves in one process, speaking the real
// slave protocol to the master (bench/slave_simulator.hpp).
//
//   stoa-slave-simulator --master=127.0.0.1:5050 --slaves=1000 [--ip=127.0.0.1] [--port=0]
//
// GET /metrics/snapshot on its port shows simulator/slaves_registered.

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <caf/all.hpp>

#include "actors/daemon.hpp"
#include "bench/slave_simulator.hpp"
#include "common/logging.hpp"

int main(int argc, char** argv) {
  using namespace stoa;
  const daemon::Program program{"stoa-slave-simulator"};
  bench::SimulatorFlags flags;
  if (std::optional<int> done = daemon::load_flags(program, flags, argc, argv)) {
    return *done;
  }
  Try<bench::SimulatorOptions> options = bench::simulator_options(flags);
  if (options.is_error()) {
    return daemon::bad_flags(program, flags, options.error());
  }
  // Nice is per thread on Linux: set on this one before any other exists,
  // every thread of the runtime inherits it.
  errno = 0;
  if (flags.nice > 0 && ::nice(flags.nice) == -1 && errno != 0) {
    return daemon::bad_flags(program, flags,
                             "--nice=" + std::to_string(flags.nice) + ": nice() failed: " + std::strerror(errno));
  }
  // Its actors run on CAF's I/O thread, as stoa-slave's: the simulated
  // slaves stand for other machines, and on a bench machine every thread
  // they wake is taken from the master's cores. With CAF's default (one
  // scheduler thread per core) a failover of 50k slaves re-registered ~1 s
  // later and each status update cost the simulator ~4 us more than with
  // one (docs/benchmarks.md, "One thread per simulator"); on the I/O thread
  // no message between the network and a simulated slave wakes a second
  // thread ("One thread for the slave's actors").
  // LIBPROCESS_NUM_WORKER_THREADS gives scheduler threads instead.
  daemon::DaemonOptions daemon_options = daemon::daemon_options(program, flags);
  daemon_options.runtime.actors_on_io_thread = true;
  return daemon::run_daemon(program, argv[0], flags, daemon_options,
                            [&](Runtime& rt) -> std::optional<Error> {
                              Try<caf::actor> simulator = bench::start_simulator(rt, *options);
                              if (simulator.is_error()) {
                                return Error(simulator.error());
                              }
                              rt.routes_complete();
                              LOG_INFO << "Stoa slave simulator listening on http://" << rt.ip()
                                       << ":" << rt.port() << " (actor port " << rt.actor_port()
                                       << ") with " << options->slaves << " slaves of "
                                       << options->resources.to_string() << " following "
                                       << options->master;
                              return std::nullopt;
                            });
}
