#pragma once
// Writing an executor as a CAF actor (ARCHITECTURE.md §8), the executor side
// of the SDK (framework/scheduler.hpp is the scheduler side).
//
// Derive from `Executor` and call spawn_executor(). One actor runs every
// callback (no locks needed) and speaks the slave protocol for you: it
// resolves the slave (STOA_SLAVE_PID, with STOA_SLAVE_ACTOR_PORT when given),
// monitors it, registers (RegisterExecutorMessage every
// `registration_retry` until ExecutorRegisteredMessage, retrying the resolve
// too, and giving up `registration_timeout` after start), turns the slave's messages into callbacks,
// and keeps every status update until the slave acknowledges it (re-sending
// it every `status_update_retry` meanwhile). It also remembers the TaskInfo
// of every task the slave asked it to run (RunTaskMessage, remembered before
// launch_task()) until the slave acknowledges that task's terminal update.
//
// Losing the slave (its actor goes down):
// - Before the registration was accepted, or when the framework does not
//   checkpoint (`checkpoint` false): disconnected(), then the actor exits.
// - After registration, with `checkpoint` (Mesos' agent recovery,
//   `--recover=reconnect`): reconnecting() becomes true, disconnected() is
//   called, and the actor keeps running. It resolves the slave again by its
//   UPID alone (HTTP discovery: a restarted slave has the same UPID but a new
//   actor port, so STOA_SLAVE_ACTOR_PORT is not used again), retrying with a
//   backoff from 50 ms doubling to at most 1 s. Once resolved, it monitors
//   the slave and sends ReregisterExecutorMessage (the remembered tasks, and
//   every unacknowledged update, oldest first) every `registration_retry`
//   until ExecutorReregisteredMessage arrives; then the slave id is updated,
//   reregistered() is called, updates sent since the last
//   ReregisterExecutorMessage are sent, and normal operation resumes (the
//   slave acknowledges the updates; the resend timer keeps running).
//   While reconnecting, status updates are kept (not sent on their own: they
//   travel in the next ReregisterExecutorMessage) and framework messages are
//   dropped. Each loss of a slave restarts the `recovery_timeout` timer: a
//   loss after re-registration calls disconnected() again; a slave that dies
//   after being resolved but before it answered does not (the executor is
//   already disconnected).
// - No re-registration within `recovery_timeout` of the last loss: the
//   driver gives up (connected() and reconnecting() false for good), calls
//   shutdown() (the executor must kill its tasks; nobody will acknowledge
//   their updates any more) and exits on its own `shutdown_grace` later
//   unless the executor called stop() first.
// - A ShutdownExecutorMessage while reconnecting (the restarted slave will
//   not take the executor back) ends the re-registration the same way:
//   shutdown(), then the driver exits `shutdown_grace` later at the latest.
//   While connected, ShutdownExecutorMessage is only the shutdown() callback.
//
// The actor exits when the executor calls ExecutorDriver::stop(), after
// error() (the slave cannot be reached, or never answered the registration),
// after disconnected() without `checkpoint` (see above), after the grace
// that follows a given-up or refused recovery, or when the Runtime shuts down. It does
// NOT exit on its own after a connected slave's shutdown(): the executor
// kills its tasks, reports them and then calls stop(). main waits with
// await_executor().
//
//   int main() {
//     Try<ExecutorOptions> options = ExecutorOptions::from_environment();
//     ... start a Runtime (serve=false is enough: executors only connect out)
//     caf::actor e = spawn_executor(rt, *options, std::make_unique<MyExecutor>());
//     await_executor(rt, e);
//     rt.shutdown();
//   }

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/launcher.hpp"  // shell_free_argv
#include "common/try.hpp"
#include "framework/timers.hpp"
#include "proto/messages.pb.h"
#include "proto/stoa.pb.h"

namespace stoa {

class Runtime;

// The argv a CommandInfo runs as (Mesos): with shell, {"/bin/sh", "-c",
// value}; otherwise value is the program and arguments the whole argv (its
// argv[0] replaced by the program), or just {value} without arguments.
std::vector<std::string> command_argv(const CommandInfo& command);
// `command` without protobuf (actors/launcher.hpp).
CommandLine command_line(const CommandInfo& command);


struct ExecutorOptions {
  // The slave's UPID ("slave(1)@ip:port"), STOA_SLAVE_PID.
  std::string slave_pid;
  // The slave's actor port, STOA_SLAVE_ACTOR_PORT; 0 = discover it over HTTP.
  uint16_t slave_actor_port = 0;
  FrameworkID framework_id;  // STOA_FRAMEWORK_ID
  ExecutorID executor_id;    // STOA_EXECUTOR_ID
  std::string directory;     // the sandbox, STOA_DIRECTORY
  std::string ip = "127.0.0.1";  // STOA_EXECUTOR_IP: where the Runtime binds

  std::chrono::milliseconds registration_retry = std::chrono::seconds(1);
  // Resolving the slave and registering are retried until this long after
  // start (the slave's --executor_registration_timeout, passed as
  // STOA_EXECUTOR_REGISTRATION_TIMEOUT); then the executor gives up.
  std::chrono::milliseconds registration_timeout = std::chrono::minutes(1);
  // An unacknowledged status update is re-sent after this long (and again
  // after each further period) while the slave is connected.
  std::chrono::milliseconds status_update_retry = std::chrono::seconds(5);
  // The framework checkpoints (FrameworkInfo.checkpoint): the executor
  // outlives its slave and waits for it to come back (see the top of this
  // file). STOA_CHECKPOINT, else MESOS_CHECKPOINT: "1"/"true" or "0"/"false".
  bool checkpoint = false;
  // How long a checkpointing executor waits for its lost slave to come back
  // (the slave's --recovery_timeout), STOA_RECOVERY_TIMEOUT, else
  // MESOS_RECOVERY_TIMEOUT.
  std::chrono::milliseconds recovery_timeout = std::chrono::minutes(15);
  // After a recovery given up or refused, the driver exits this long after calling
  // shutdown() if the executor has not stopped it,
  // STOA_EXECUTOR_SHUTDOWN_GRACE_PERIOD.
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(5);

  // Reads the STOA_* variables the slave sets (docs/wire-format.md). The
  // error names the variable that is missing or malformed, and its value.
  // STOA_EXECUTOR_IP defaults to 127.0.0.1, STOA_SLAVE_ACTOR_PORT to 0 and
  // the others to the defaults above. Durations use the flags' syntax
  // ("500ms", "15mins"); timeouts must be positive, the grace may be 0, and
  // none may exceed MAX_FLAG_DURATION.
  static Try<ExecutorOptions> from_environment();
  // STOA_SLAVE_ACTOR_PORT alone (0 when unset), as from_environment reads it.
  static Try<uint16_t> slave_actor_port_from_environment();
};

// The handle an Executor uses to talk to the slave. Only valid inside the
// executor's callbacks (it belongs to the executor actor); no call blocks.
class ExecutorDriver {
 public:
  ExecutorDriver(caf::event_based_actor* self, ExecutorOptions options) : self_(self), options_(std::move(options)) {}
  ExecutorDriver(const ExecutorDriver&) = delete;
  ExecutorDriver& operator=(const ExecutorDriver&) = delete;

  // Sends `status` (task_id and state set by the caller) to the slave. Fills
  // in uuid (a fresh one unless set), timestamp, executor_id, slave_id and
  // source (SOURCE_EXECUTOR unless set), and keeps the update until the
  // slave acknowledges it. Returns the uuid. Updates sent before the slave
  // is resolved are sent once it is; updates sent while reconnecting go in
  // the ReregisterExecutorMessage (or are sent once re-registered).
  std::string send_status_update(TaskStatus status);
  // Sends `data` to the framework's scheduler (ExecutorToFrameworkMessage).
  // Dropped (with a warning) unless the slave is resolved and, after a loss,
  // has taken the executor back: framework messages are unreliable.
  void send_framework_message(const std::string& data);
  // Makes the executor actor exit (unacknowledged updates are dropped).
  void stop();

  // Runs `fn` inside the executor actor after `delay` unless cancelled;
  // returns the timer's id.
  uint64_t after(std::chrono::nanoseconds delay, std::function<void()> fn);
  void cancel(uint64_t timer_id);

  // Status updates sent and not yet acknowledged by the slave.
  size_t unacknowledged() const { return unacked_.size(); }
  // Tasks launched and not yet known finished (their terminal update not
  // acknowledged), in launch order.
  const std::vector<TaskInfo>& tasks() const { return tasks_; }
  // The slave accepted the registration once (stays true after a loss).
  bool registered() const { return slave_id_.has_value(); }
  // Registered with a slave that is alive: updates sent now can be
  // acknowledged. False before registration, while reconnecting and after
  // a recovery was given up.
  bool connected() const { return phase_ == Phase::connected; }
  // The slave was lost and the driver waits for it to come back (checkpoint
  // only); true already inside disconnected().
  bool reconnecting() const { return phase_ == Phase::reconnecting; }
  // From the ExecutorRegisteredMessage (or ExecutorReregisteredMessage),
  // once registered.
  const std::optional<SlaveID>& slave_id() const { return slave_id_; }
  const ExecutorOptions& options() const { return options_; }
  // The executor actor: hand it to helpers (e.g. a process reaper) whose
  // messages then reach Executor::unhandled().
  caf::actor self() const;

 private:
  friend struct executor_state;
  // [pooled ->] registering -> connected -> reconnecting -> connected ... ;
  // abandoned (recovery given up or refused) is final. `pooled`: a pooled
  // executor not adopted yet (spawn_pooled_executor).
  enum class Phase { pooled, registering, connected, reconnecting, abandoned };
  caf::event_based_actor* self_;
  ExecutorOptions options_;
  Phase phase_ = Phase::registering;
  std::optional<SlaveID> slave_id_;
  // Sent and not yet acknowledged, in the order sent.
  std::vector<internal::StatusUpdate> unacked_;
  // Launched, until their terminal update is acknowledged.
  std::vector<TaskInfo> tasks_;
  Timers timers_;
};

// An executor written as callbacks. All callbacks run inside one actor, in
// the order the messages arrived.
class Executor {
 public:
  virtual ~Executor() = default;

  // The slave accepted the registration.
  virtual void registered(ExecutorDriver&, const ExecutorInfo&, const FrameworkInfo&, const SlaveInfo&) {}
  // A restarted slave took the executor back after disconnected() (checkpoint
  // only); slave_id() is the one it gave.
  virtual void reregistered(ExecutorDriver&, const SlaveInfo&) {}
  // The slave asks to run a task (RunTaskMessage).
  virtual void launch_task(ExecutorDriver&, const TaskInfo&) {}
  // Kill a task; the policy is the one of the kill request, if it had one.
  virtual void kill_task(ExecutorDriver&, const TaskID&, const std::optional<KillPolicy>&) {}
  // Data from the scheduler (FrameworkToExecutorMessage).
  virtual void framework_message(ExecutorDriver&, const std::string& /*data*/) {}
  // The slave asks the executor to kill all its tasks and exit; call stop()
  // when done (the slave kills the executor after its shutdown grace period).
  // Also called when the driver gives up waiting for a lost slave (then
  // connected() is false: nobody will acknowledge the tasks' updates, and
  // the driver exits after `shutdown_grace` if stop() was not called).
  virtual void shutdown(ExecutorDriver&) {}
  // The slave cannot be reached or never answered the registration; the
  // driver exits right after.
  virtual void error(ExecutorDriver&, const std::string& /*message*/) {}
  // The slave was lost. Unless reconnecting() (checkpoint), the driver exits
  // right after; otherwise it waits for the slave to come back (the tasks
  // should keep running).
  virtual void disconnected(ExecutorDriver&) {}
  // The slave acknowledged the update with `uuid`.
  virtual void acknowledged(ExecutorDriver&, const TaskID&, const std::string& /*uuid*/) {}
  // Any other message sent to the executor actor (see ExecutorDriver::self()).
  virtual void unhandled(ExecutorDriver&, caf::message&) {}
};

// Spawns the executor actor running `executor`. Does not block.
// REQUIRES: `runtime` outlives the actor (Runtime::shutdown() exits it).
caf::actor spawn_executor(Runtime& runtime, ExecutorOptions options, std::unique_ptr<Executor> executor);

// A pooled executor (the slave's warm pool, docs/executor-pool.md): started
// before there is a container for it.
struct PooledExecutorOptions {
  std::string slave_pid;              // STOA_SLAVE_PID
  uint16_t slave_actor_port = 0;      // STOA_SLAVE_ACTOR_PORT
  std::string token;                  // STOA_POOL_TOKEN
};
// Takes the container of the slave's AdoptExecutorMessage (sandbox,
// environment) and returns the adopted executor's options, or why not.
using AdoptContainer = std::function<Try<ExecutorOptions>(const internal::AdoptExecutorMessage&)>;

// Spawns the executor actor of a pooled executor. It resolves the slave,
// monitors it and tells it ExecutorPoolReadyMessage{token, getpid()} (so the
// slave's handle of the pooled process is this actor), then waits, with no
// deadline, for the slave's AdoptExecutorMessage. It calls `adopt` with it
// (inside the actor) and from then on is the executor of `executor` with the
// options `adopt` returned. The adoption carries the registration
// (`registered`, `run_tasks`): registered() and launch_task() are called as
// if ExecutorRegisteredMessage and RunTaskMessages had arrived, and no
// RegisterExecutorMessage is sent; without it the executor registers as
// spawn_executor's does. Before adoption, an unreachable slave, the loss of
// the slave or its ShutdownExecutorMessage (a token it did not start) make
// the actor exit without any callback; a failed `adopt` calls error() (the
// slave counts on this process as a container's executor) and exits.
caf::actor spawn_pooled_executor(Runtime& runtime, PooledExecutorOptions options, AdoptContainer adopt,
                                 std::unique_ptr<Executor> executor);

// Blocks the calling thread (main; never an actor) until `actor` has exited;
// returns its exit reason (none when the driver stopped, an error when a
// callback threw).
caf::error await_executor(Runtime& runtime, const caf::actor& actor);

}  // namespace stoa
