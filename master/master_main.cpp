// stoa-master: a master. Alone (in-memory or LevelDB registry), or one of
// several contending in ZooKeeper (--zk) for leadership.

#include <filesystem>

#include <caf/all.hpp>

#include "actors/daemon.hpp"
#include "common/logging.hpp"
#include "master/events.hpp"
#include "master/heap_tidy.hpp"
#include "master/master.hpp"

int main(int argc, char** argv) {
  using namespace stoa;
  const daemon::Program program{"stoa-master"};
  master::MasterFlags flags;
  if (std::optional<int> done = daemon::load_flags(program, flags, argc, argv)) {
    return *done;
  }
  std::error_code ec;
  std::filesystem::create_directories(flags.work_dir, ec);
  if (ec) {
    return daemon::fail(program, "Flag '--work_dir=" + flags.work_dir + "': " + ec.message());
  }
  // The master's actors run on CAF's I/O thread, as the slave's do: nearly
  // every message it handles comes from or goes to the network, and on a
  // scheduler thread of its own each one crossed between two threads. What
  // takes long or blocks has a thread of its own: the allocator's passes,
  // the registrar and its store, the ZooKeeper client, `/master/state`'s
  // renders (detached actors, or a forked child). Measured against
  // scheduler threads (#17; docs/benchmarks.md, "The master on the I/O
  // thread"): a quarter less of the master's CPU per status update and per
  // launch, failover and placement faster, no turn of ≥ 50 ms of its CPU.
  // LIBPROCESS_NUM_WORKER_THREADS or STOA_ACTORS_ON_IO_THREAD=0 give
  // scheduler threads instead.
  daemon::DaemonOptions options = daemon::daemon_options(program, flags);
  options.runtime.actors_on_io_thread = true;
  return daemon::run_daemon(
      program, argv[0], flags, options, [&](Runtime& rt) -> std::optional<Error> {
        master::MasterOptions mopts;
        mopts.flags = flags;
        mopts.upid = rt.upid("master");
        mopts.metrics = &rt.metrics();
        // Blocking (reverse DNS), on main's thread.
        mopts.hostname = daemon::announced_hostname(flags.hostname, flags.hostname_lookup, rt.advertised_ip());
        mopts.actor_port = rt.actor_port();
        daemon::warn_loopback_master(rt, flags.zk);
        mopts.events = sse::spawn_hub(rt.system());  // the master stops it
        Try<caf::actor> master = master::spawn_master(rt.system(), mopts);
        if (master.is_error()) {
          caf::anon_send_exit(mopts.events.actor, caf::exit_reason::user_shutdown);
          return Error(master.error());
        }
        rt.register_actor("master", *master);
        rt.add_metrics_collector(*master);
        master::register_master_routes(rt, *master, flags);
        master::register_events_route(rt, *master, mopts.events);
        rt.routes_complete();  // before saying so: an unknown path is 404 from now on
        LOG_INFO << "Stoa master listening on http://" << rt.ip() << ":" << rt.port() << " (pid "
                 << mopts.upid.str() << ", actor port " << rt.actor_port() << ", hostname " << mopts.hostname
                 << ", malloc " << master::malloc_name() << ")";
        return std::nullopt;
      });
}
