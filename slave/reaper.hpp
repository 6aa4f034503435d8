#pragma once
// Waits for a process and reports the raw wait status once it exits (-1
// when it is not our child, e.g. an executor adopted from an earlier slave,
// or was already reaped).

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
// for any process: a child is reaped (its status), another process only
// watched (-1). It holds no thread: the process's one PidWatcher
// (slave/pid_watcher.hpp) tells it of the exit. Once `stop` is set it exits
// within 100 ms without answering (its owner stops while the process keeps
// running: a checkpointed executor outlives its slave). While the watcher's
// thread cannot start (EAGAIN) it tries again every second.
caf::actor spawn_waiter(caf::actor_system& sys, pid_t pid,
                        std::shared_ptr<std::atomic<bool>> stop = nullptr);

}  // namespace stoa::slave
