#pragma once
// Waits for a process in a detached actor (its own thread) and reports the
// raw wait status once it exits (-1 when it is not our child, e.g. an
// executor adopted from an earlier slave, or was already reaped).

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

namespace stoa::slave {

// A detached actor that, once sent `(reaped_atom, pid, notify)`, waits for
// that child and tells `notify` `(reaped_atom, tag, status)`. Spawn it
// before the child exists, best when the process starts: a thread started
// after the child could fail (EAGAIN) once the child fills the container's
// pids limit, as a fork bomb does, and CAF cannot shut down after a
// detached actor's thread failed to start. Send it an exit message when
// there is no child after all.
caf::actor spawn_reaper(caf::actor_system& sys, std::string tag);

// Answers one request `(reaped_atom) -> int32_t status`, then exits. Works
// for any process (a pidfd, or /proc where pidfds are missing): a child is
// reaped (its status), another process only watched (-1). Once `stop` is
// set it exits within 100 ms without answering (its owner stops while the
// process keeps running: a checkpointed executor outlives its slave).
// While no thread can start (EAGAIN) a thread-less stand-in answers
// instead, trying again every second to start the waiter.
caf::actor spawn_waiter(caf::actor_system& sys, pid_t pid,
                        std::shared_ptr<std::atomic<bool>> stop = nullptr);

}  // namespace stoa::slave
