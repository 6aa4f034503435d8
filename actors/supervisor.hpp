#pragma once
// The supervisor of a process' components and the channel through which the
// process learns it should stop (internal to the Runtime; see
// Runtime::supervise and Runtime::wait).
//
// A supervised component that
// * quits with exit_reason::normal has stopped on its own (the slave told by
//   the master to shut down): a COMPONENT_STOPPED event is posted;
// * is exited with user_shutdown was stopped by someone else, in order
//   (Runtime::shutdown, stop_actor): nothing happens;
// * terminates for any other reason has failed: `on_failure` is called
//   (by default it logs and exits the process with status 70) and a
//   COMPONENT_FAILED event is posted.
// Runtime::shutdown() stops the supervisor first, so the components it then
// exits are never taken for stopped or failed ones.

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

namespace stoa {

// The status a process exits with when one of its components failed
// (EX_SOFTWARE): a service manager restarts it.
constexpr int EXIT_COMPONENT_FAILED = 70;

// Why Runtime::wait_for_stop() returned.
struct StopEvent {
  enum class Cause { SIGNAL, COMPONENT_STOPPED, COMPONENT_FAILED };
  Cause cause = Cause::SIGNAL;
  int signal = 0;          // SIGNAL: SIGINT or SIGTERM
  std::string component;   // COMPONENT_*: the name it was supervised under
  std::string reason;      // COMPONENT_FAILED: the exit reason, rendered

  // 0 for a signal or a component's own stop; EXIT_COMPONENT_FAILED otherwise.
  int exit_status() const { return cause == Cause::COMPONENT_FAILED ? EXIT_COMPONENT_FAILED : 0; }
  // "signal 15", "component 'slave(1)' stopped", "component 'x' failed: <reason>".
  std::string describe() const;
};

// Events from the supervisor (an actor thread) to the thread in
// Runtime::wait (main), which sleeps in poll() on `fd()`, an eventfd that
// post() makes readable. Thread-safe.
class StopChannel {
 public:
  StopChannel();
  ~StopChannel();
  StopChannel(const StopChannel&) = delete;
  StopChannel& operator=(const StopChannel&) = delete;

  void post(StopEvent event);
  // The oldest event not taken yet.
  std::optional<StopEvent> take();
  // Readable while an event has been posted since the last clear().
  int fd() const { return fd_; }
  void clear();

 private:
  int fd_ = -1;
  std::mutex mu_;
  std::deque<StopEvent> events_;
};

// `(supervise_atom, name, actor)`: supervise `actor` under `name`. Accepted
// from actors of this process only.
using supervise_atom = caf::atom_constant<caf::atom("supervise")>;

// Spawns the supervisor (hidden: it does not keep the system alive).
caf::actor spawn_supervisor(caf::actor_system& sys, std::function<void(const std::string&)> on_failure,
                            std::shared_ptr<StopChannel> channel);

}  // namespace stoa
