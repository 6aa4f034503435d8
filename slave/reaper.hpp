#pragma once
// Waits for a child process in a detached actor (its own thread: waitpid
// blocks) and reports the raw wait status once the child exits (-1 when it
// is not our child or was already reaped).

#include <sys/types.h>

#include <string>

#include <caf/fwd.hpp>

namespace stoa::slave {

// Tells `notify` `(reaped_atom, tag, status)`.
void spawn_reaper(caf::actor_system& sys, pid_t pid, const caf::actor& notify, std::string tag);

// Answers one request `(reaped_atom) -> int32_t status`, then exits.
caf::actor spawn_waiter(caf::actor_system& sys, pid_t pid);

}  // namespace stoa::slave
