#pragma once
// Many simulated slaves in one OS process, speaking the real slave protocol
// to the master (issue #8's failover benchmark, issue #17's scale
// benchmarks). Nothing is forked and nothing blocks: a slave is one small
// actor, all of them share the process's one Runtime (one HTTP port, one
// actor port, one connection to the master).
//
// Each simulated slave, named `slave(i)` (i = 1..N) in the router:
// - registers (RegisterSlaveMessage with SlaveInfo: hostname, resources)
//   and retries with a random wait of at most the backoff (starting at
//   `registration_backoff`, doubling up to 60 s) until the master answers;
//   keeps its slave id and from then on re-registers
//   (ReregisterSlaveMessage with its frameworks and tasks);
// - answers every PingSlaveMessage of the current master with a pong;
// - on RunTaskMessage sends TASK_STARTING, then TASK_RUNNING, then (after
//   `task_duration`, if set) TASK_FINISHED; KillTaskMessage and
//   ShutdownFrameworkMessage give TASK_KILLED. Updates go out one at a time
//   per task, each with its own uuid, re-sent (10 s doubling to 10 min, as
//   the real slave) until the master acknowledges; a task is forgotten once
//   its terminal update is acknowledged; with `repeat_running_updates`
//   a running task sends a new TASK_RUNNING (a new uuid, as a health check
//   would) as soon as its last one is acknowledged: a flood of updates as
//   fast as the master and the framework acknowledge them (issue #17);
// - drops every message from anyone but the current master.
//
// The process also serves the raw remote message rate's receiving end
// (bench/remote_rate.hpp), named "rate-echo".
//
// One coordinator actor per process follows the leader: it gets
// `(detector::leader_atom, detector::Leader)` from the process's one
// detector (actors/master_detector.hpp; a fixed `host:port` master when the
// detector is not built), resolves the leader's UPID once, monitors it, and
// hands its handle to every slave, which then registers at once or (with an
// id: a failover) re-registers after a random wait of at most
// `reregister_spread` (a timer, no sleep), as stoa-slave does.
// When the master's connection breaks the slaves hold still and the
// coordinator re-resolves (a random wait of at most 50 ms, doubling to 2 s:
// one resolve per process) until it or a new leader answers.
//
// Counters and gauges go to the Runtime's registry (`simulator/...`, listed
// in declare_simulator_metrics()), so GET /metrics/snapshot on the
// simulator's port shows how many slaves are registered right now.

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "common/flags.hpp"
#include "common/metrics.hpp"
#include "common/resources.hpp"
#include "common/try.hpp"

namespace stoa {
class Runtime;
}

namespace stoa::bench {

// The resources of a simulated slave unless told otherwise.
inline const std::string DEFAULT_SIMULATED_RESOURCES =
    "cpus:4;mem:8192;disk:10000;ports:[31000-32000]";

struct SimulatorOptions {
  // The --master text: "host:port", "master@host:port", "zk://h:p/path" or
  // "file:///path" (the last two need the master detector).
  std::string master;
  size_t slaves = 1;
  // Slave i announces hostname "<hostname>-<i>".
  std::string hostname = "sim";
  Resources resources;
  // TASK_FINISHED this long after TASK_RUNNING; nullopt: tasks run until
  // killed.
  std::optional<Duration> task_duration;
  Duration registration_backoff = std::chrono::seconds(1);
  // After a new leader is known, each slave that has an id waits a random
  // time of at most this before re-registering (stoa-slave waits at most its
  // --registration_backoff_factor after a failover); 0 = at once.
  Duration reregister_spread = std::chrono::seconds(1);
  // The detector's ZooKeeper session (zk:// masters).
  Duration zk_session_timeout = std::chrono::seconds(10);
  // A running task repeats TASK_RUNNING once its last update is acknowledged.
  bool repeat_running_updates = false;
  // Registers saying it takes batched acknowledgements (as stoa-slave does),
  // and answers a batch with its updates in one message.
  bool batched_acknowledgements = true;
  // The first retry of an unacknowledged update (then doubling to 10 min);
  // the slave's STATUS_UPDATE_RETRY_INTERVAL_MIN unless a test shortens it.
  Duration update_retry_interval = std::chrono::seconds(10);
};

// The flags of stoa-slave-simulator.
struct SimulatorFlags : FlagsBase {
  SimulatorFlags();

  std::optional<std::string> master;
  int slaves;
  std::string ip;
  int port;
  NetworkLimitFlags limits;
  LoggingFlags logging;
  std::optional<std::string> log_dir;
  std::string hostname;
  std::string resources;
  std::optional<std::string> task_duration;  // a duration, e.g. "5secs"
  Duration registration_backoff_factor;
  std::optional<std::string> reregister_spread;  // a duration; unset: as stoa-slave
  Duration zk_session_timeout;
  bool repeat_running_updates;
  bool batched_acknowledgements;
  int nice;  // applied by stoa-slave-simulator's main, before the actor system starts
};

// The options the flags describe. Error (naming the flag and its value) for
// a missing --master or one this build cannot follow.
Try<SimulatorOptions> simulator_options(const SimulatorFlags& flags);

// Null when `master` can be followed by this build, else why not.
std::optional<std::string> check_master(const std::string& master);

// Declares every `simulator/...` metric (idempotent).
void declare_simulator_metrics(metrics::Registry& registry);

// Spawns the coordinator and its slaves in `runtime`, names them
// `simulator` and `slave(1)`..`slave(N)` in its router (the coordinator is
// supervised: if it or a slave fails, the process fails) and starts
// following the master. Call from a non-actor thread (main, a test).
// Errors: a master text that cannot be followed, zero slaves.
Try<caf::actor> start_simulator(Runtime& runtime, SimulatorOptions options);

}  // namespace stoa::bench
