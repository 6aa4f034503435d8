#pragma once
// The POSIX containerizer: a container is a process in a session and
// process group of its own (launcher.hpp), started in its Mesos-layout
// sandbox (paths.hpp), measured and confined by the --isolation isolators
// (isolator.hpp), and killed as a whole (its group at once, any leftovers
// found in /proc by the cleaner).
//
// Nothing that blocks runs on the containerizer's own thread (a scheduler
// worker): each launch runs in a detached worker actor (sandbox creation,
// isolators' prepare, clone/exec, isolate), each container's exit is awaited
// in a detached waiter (waitpid), usage is sampled in a detached worker per
// request, and leftovers are killed by the detached cleaner.

#include <chrono>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "slave/containerizer.hpp"
#include "slave/isolator.hpp"
#include "slave/recovery_state.hpp"

namespace stoa::slave {

struct ContainerizerOptions {
  // The containers a restarted slave will adopt: every isolator's recover()
  // gets them, synchronously, before the containerizer spawns (what no
  // container owns, e.g. an orphan cgroup, is destroyed then).
  std::vector<RecoveredContainer> recovered;
  // Told (limitation_atom, container_id, ContainerLimitation) before the
  // wait of a container an isolator limited is answered (containerizer.hpp).
  caf::actor listener;
  // How often the watcher polls the isolators' limitation().
  std::chrono::milliseconds watch_interval{200};
};

// The containers of `checkpoint` a restarted slave adopts (--recover=reconnect):
// the latest run of each executor whose process still runs (and names its
// container in its environment), with its sandbox and its unfinished tasks'
// resources. Everything else an isolator finds under its root is an orphan.
std::vector<RecoveredContainer> recovered_containers(const SlaveCheckpoint& checkpoint, const std::string& work_dir);

// Spawns the containerizer. It stops when sent an exit (from anyone: its
// handle stays inside the slave), killing every container synchronously
// first.
containerizer_actor spawn_posix_containerizer(caf::actor_system& sys, Isolators isolators,
                                              ContainerizerOptions options = {});

// The launch steps, synchronously, on the calling thread: creates the
// sandbox `config.directory` (and runs/latest), calls every isolator's
// prepare, starts config.argv there (stdout/stderr appended to the sandbox's
// files, config.env added to our environment, a session of its own), then
// every isolator's isolate. Returns the pid, or an error naming the step:
// "Cannot create the sandbox: ...", "Cannot prepare posix/cpu: ...",
// "Cannot launch the executor: ...", "Cannot isolate with posix/cpu: ...".
// With config.user the sandbox (and its stdout/stderr) is chown'd to that
// user and the executor runs as it ("Cannot launch the executor: ... user
// 'x' does not exist"); the first process joins every isolator's cgroups()
// before it execs.
// On an error nothing is left running.
LaunchResult launch_container(const ContainerConfig& config, const Isolators& isolators);

}  // namespace stoa::slave
