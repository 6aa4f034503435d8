#pragma once
// Kills what is left of a container (its session, and any process that
// escaped it but still carries STOA_CONTAINER_ID=<id> in its environment)
// off the slave's actor thread. Finding those processes walks /proc (the
// stat and environ of every process): with hundreds of executors on a node a
// walk takes long enough that doing it inside the slave actor delayed every
// executor's registration past its timeout (docs/hardening.md).
//
// One detached actor per slave (its own thread), linked to the slave so it
// ends with it; requests are handled in order.

#include <sys/types.h>

#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace stoa::slave {

// Spawns the cleaner, linked to `owner`.
caf::actor spawn_cleaner(caf::local_actor* owner);

// Asks `cleaner` to SIGKILL the process group and session led by `pid` and
// every process whose environment holds STOA_CONTAINER_ID=`container_id`.
void clean_container(const caf::actor& cleaner, pid_t pid, const std::string& container_id);

// The same, synchronously, on the calling thread (shutdown paths only).
void clean_container_now(pid_t pid, const std::string& container_id);

}  // namespace stoa::slave
