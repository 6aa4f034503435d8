#pragma once
// One thread per process that tells when processes exit: every container's
// waiter and every pooled executor's watch register here instead of each
// starting a thread of its own (#17: the two threads a task cost, their
// start, their 100 ms polls and their stacks' unmapping were a sixth of the
// slave's CPU per launch; docs/benchmarks.md, session 29).
//
// The thread waits in epoll on a pidfd per process (Linux ≥ 5.3); where
// pidfd_open fails (older kernels, or no descriptor left) the process is
// looked at every 100 ms instead. It never reaps: a report means the
// process has exited (a zombie, for its parent to reap) or is gone.
//
// A plain std::thread rather than a blocking actor: it serves the actors of
// every actor system in the process and must not hold one system's
// shutdown; its start failing (EAGAIN under a full pids limit) is an
// ordinary error, which CAF's detached actors cannot give
// (docs/actor-pitfalls.md, 16).

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/try.hpp"

namespace stoa::slave {

class PidWatcher {
 public:
  using Id = std::uint64_t;
  // Called once, on the watcher's thread: `exited` true once the process
  // has exited, false when `stop` was set first (within 100 ms of it). It
  // must not block; it typically sends a message.
  using Report = std::function<void(bool exited)>;

  // The process's watcher, started at the first call and stopped when the
  // last holder lets it go. Error: its thread cannot start (EAGAIN).
  // Thread-safe.
  static Try<std::shared_ptr<PidWatcher>> shared();

  PidWatcher(const PidWatcher&) = delete;
  PidWatcher& operator=(const PidWatcher&) = delete;
  // Stops the thread; pending watches never report.
  ~PidWatcher();

  // Reports on `report` once `pid` has exited (at once when there is no
  // such process), or once `stop` (may be null) is set. Thread-safe.
  Id watch(pid_t pid, std::shared_ptr<std::atomic<bool>> stop, Report report);
  // Forgets a watch. A report already due may still run once, concurrently.
  void unwatch(Id id);
  // Watches not yet reported (tests).
  std::size_t size() const;

  struct Core;  // shared with the thread (pid_watcher.cpp)

 private:
  explicit PidWatcher(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  std::shared_ptr<Core> core_;
};

}  // namespace stoa::slave
