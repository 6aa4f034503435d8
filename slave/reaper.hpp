#pragma once
// Waits for a child process in a detached actor (its own thread: waitpid
// blocks) and tells `notify` `(reaped_atom, tag, status)` with the raw wait
// status once the child exits.

#include <sys/types.h>

#include <string>

#include <caf/fwd.hpp>

namespace stoa::slave {

void spawn_reaper(caf::actor_system& sys, pid_t pid, const caf::actor& notify, std::string tag);

}  // namespace stoa::slave
