#pragma once
// Kills what is left of a container (through its freezer cgroup when an
// isolator has one; else its session, and any process that escaped it but
// still carries STOA_CONTAINER_ID=<id> in its environment)
// and cleans up its isolators, off the containerizer's actor thread. Finding
// those processes walks /proc (the stat and environ of every process): with
// hundreds of executors on a node a walk takes long enough that doing it
// inside an actor on the scheduler delayed every executor's registration
// past its timeout (docs/hardening.md).
//
// One detached actor per containerizer (its own thread), linked to it so it
// ends with it; requests are handled in order.

#include <sys/types.h>

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "slave/isolator.hpp"

namespace stoa::slave {

// Spawns the cleaner, linked to `owner`. It calls `cleanup` of every
// isolator in `isolators` once it has killed a container's leftovers.
caf::actor spawn_cleaner(caf::local_actor* owner, Isolators isolators = {});

// Asks `cleaner` to SIGKILL the process group and session led by `pid` and
// every process whose environment holds STOA_CONTAINER_ID=`container_id`,
// then to clean up the container's isolators. Without a cleaner (it died),
// does it synchronously on the calling thread. `started_ticks` is when `pid`
// started (process_start_ticks; 0 = unknown): only processes started since
// have their environment read. Requests within 50 ms of each other, or that
// queue up while the cleaner walks /proc, share one walk, and walks start at
// least 250 ms apart; pending ones are walked for before the cleaner exits.
void clean_container(const caf::actor& cleaner, pid_t pid, const std::string& container_id,
                     const Isolators& isolators = {}, uint64_t started_ticks = 0);

// Asks `cleaner` to kill every process of the container through the
// isolators that can (the freezer: Isolator::kill); does nothing when none
// can. Without a cleaner, synchronously.
void kill_container(const caf::actor& cleaner, const std::string& container_id, const Isolators& isolators);

// Kills every process of the container through the first isolator that
// can (Isolator::kill), synchronously: true when one did.
bool kill_through_isolators(const std::string& container_id, const Isolators& isolators);

// The same as clean_container, synchronously, on the calling thread
// (shutdown paths only).
void clean_container_now(pid_t pid, const std::string& container_id, const Isolators& isolators = {});

}  // namespace stoa::slave
