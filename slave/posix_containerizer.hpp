#pragma once
// The POSIX containerizer: a container is a process in a session and
// process group of its own (launcher.hpp), started in its Mesos-layout
// sandbox (paths.hpp), measured and confined by the --isolation isolators
// (isolator.hpp), and killed as a whole (its group at once, any leftovers
// found in /proc by the cleaner).
//
// Nothing that blocks runs on the containerizer's own thread (a scheduler
// worker): each launch runs in a detached worker actor (sandbox creation,
// isolators' prepare, fork/exec, isolate), each container's exit is awaited
// in a detached waiter (waitpid), usage is sampled in a detached worker per
// request, and leftovers are killed by the detached cleaner.

#include <caf/fwd.hpp>

#include "slave/containerizer.hpp"
#include "slave/isolator.hpp"

namespace stoa::slave {

// Spawns the containerizer. It stops when sent an exit (from anyone: its
// handle stays inside the slave), killing every container synchronously
// first.
containerizer_actor spawn_posix_containerizer(caf::actor_system& sys, Isolators isolators);

// The launch steps, synchronously, on the calling thread: creates the
// sandbox `config.directory` (and runs/latest), calls every isolator's
// prepare, starts config.argv there (stdout/stderr appended to the sandbox's
// files, config.env added to our environment, a session of its own), then
// every isolator's isolate. Returns the pid, or an error naming the step:
// "Cannot create the sandbox: ...", "Cannot prepare posix/cpu: ...",
// "Cannot launch the executor: ...", "Cannot isolate with posix/cpu: ...".
// On an error nothing is left running.
LaunchResult launch_container(const ContainerConfig& config, const Isolators& isolators);

}  // namespace stoa::slave
