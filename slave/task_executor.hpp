#pragma once
// What stoa-executor (the command executor, slave/executor_main.cpp) and
// stoa-docker-executor (slave/docker_executor_main.cpp) share: an executor
// of one task, written on the executor SDK (framework/executor.hpp), that
//   * takes the first task it is given (a second is ignored; one killed
//     before it came is TASK_KILLED with REASON_TASK_KILLED_DURING_LAUNCH),
//   * sends its status updates through the SDK, which keeps each until the
//     slave acknowledges it, and stops TERMINAL_ACK_TIMEOUT after the
//     terminal one unless the slave acknowledged it sooner (counted again
//     from a re-registration: while the slave is away the update is kept),
//   * kills it with the kill request's grace period, else the task's kill
//     policy's, else the executor's default, announced by TASK_KILLING to
//     frameworks with the TASK_KILLING_STATE capability,
//   * runs its health check (framework/health_checker.hpp): each verdict is
//     a TASK_RUNNING update with `healthy` and
//     REASON_TASK_HEALTH_CHECK_STATUS_UPDATED; a kill verdict kills the
//     task, whose terminal update is then TASK_KILLED with healthy=false,
//   * on shutdown() without a slave (a recovery given up), kills the task
//     and stops once its terminal update is sent.
// A subclass says how its task starts, stops and ends (the hooks below).
// Every callback runs inside the executor actor.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <caf/fwd.hpp>
#include <caf/actor.hpp>

#include "framework/executor.hpp"

namespace stoa {

struct HealthCheckTarget;

namespace slave {

// After the terminal update the executor waits this long for the slave's
// acknowledgement before exiting anyway.
constexpr auto TERMINAL_ACK_TIMEOUT = std::chrono::seconds(10);

class TaskExecutor : public stoa::Executor {
 public:
  // `default_grace`: the kill grace period of a task without a kill policy.
  // `failed` is set when the driver gives up (the process then exits
  // non-zero).
  TaskExecutor(caf::actor_system& sys, std::shared_ptr<std::atomic<bool>> failed,
               std::chrono::nanoseconds default_grace);

  void error(ExecutorDriver&, const std::string& message) override;
  void registered(ExecutorDriver&, const ExecutorInfo&, const FrameworkInfo& framework, const SlaveInfo&) override;
  void reregistered(ExecutorDriver& d, const SlaveInfo&) override;
  void launch_task(ExecutorDriver& d, const TaskInfo& t) override;
  void kill_task(ExecutorDriver& d, const TaskID&, const std::optional<KillPolicy>& policy) override;
  void shutdown(ExecutorDriver& d) override;
  void acknowledged(ExecutorDriver& d, const TaskID&, const std::string&) override;
  // Health verdicts; anything else goes to on_message().
  void unhandled(ExecutorDriver& d, caf::message& msg) override;

 protected:
  // --- The hooks. ---
  // Starts task_ (set; no kill came before it).
  virtual void start_task(ExecutorDriver& d) = 0;
  // Stops the started task_ (killing_ is set, the checker stopped): its end
  // then reaches finish_with() as TASK_KILLED.
  virtual void stop_task(ExecutorDriver& d, std::chrono::nanoseconds grace) = 0;
  // The task is starting or running (not over yet).
  virtual bool task_active() const = 0;
  // The task runs: health verdicts count.
  virtual bool task_running() const = 0;
  // One line on the task for the log at a re-registration.
  virtual std::string task_state_text() const = 0;
  // Another message to the executor actor (a subclass' workers').
  virtual void on_message(ExecutorDriver&, caf::message&) {}
  // The grace period of a kill by shutdown(): the task's by default.
  virtual std::chrono::nanoseconds shutdown_grace() const { return task_kill_grace(); }

  // --- For the subclasses. ---
  // The task's kill grace period: its kill policy's, else the default.
  std::chrono::nanoseconds task_kill_grace() const;

  TaskStatus make_status(TaskState state, const std::string& message = "",
                         std::optional<TaskStatus::Reason> reason = std::nullopt,
                         std::optional<bool> healthy = std::nullopt) const;
  // Sends `s` unless no task or its terminal update went already; a terminal
  // one arms the acknowledgement timer (and stops the executor after a
  // shutdown without a slave).
  void send(ExecutorDriver& d, TaskStatus s);
  void send_status(ExecutorDriver& d, TaskState state, const std::string& message = "",
                   std::optional<TaskStatus::Reason> reason = std::nullopt,
                   std::optional<bool> healthy = std::nullopt);

  // Kills the task once (later calls do nothing): stops the checker, then
  // stop_task() when it is active; with no task at all, stops the executor.
  void kill(ExecutorDriver& d, std::chrono::nanoseconds grace);
  // TASK_KILLING, to a framework that asked for it.
  void announce_killing(ExecutorDriver& d);

  // The task's terminal update once its process or container ended (`why`
  // says how): TASK_KILLED when a kill or a health check ended it, else
  // `otherwise` with `why`.
  TaskStatus ended_status(const std::string& why, TaskState otherwise,
                          std::optional<TaskStatus::Reason> reason = std::nullopt) const;

  // Starts the task's health check, if it has one, on `target`.
  void start_health_checker(ExecutorDriver& d, const std::string& against, const HealthCheckTarget& target);
  void stop_health_checker();

  caf::actor_system& sys_;
  std::optional<TaskInfo> task_;
  bool killing_ = false;
  bool terminal_sent_ = false;
  // shutdown() without a slave: stop once the terminal update is sent.
  bool stop_when_done_ = false;

 private:
  void arm_ack_timer(ExecutorDriver& d);
  void on_health(ExecutorDriver& d, bool healthy, bool kill_task, uint32_t failures, const std::string& message);

  std::shared_ptr<std::atomic<bool>> failed_;
  std::chrono::nanoseconds default_grace_;
  FrameworkInfo framework_;
  uint64_t ack_timer_ = 0;
  caf::actor checker_;
  // Set when the health checker asked for the kill: the terminal update's message.
  std::string killed_by_health_check_;
};

// The main() of a task executor named `name`: reads the SDK's options from
// the environment, starts a one-thread runtime that only connects out, runs
// the executor `make` returns until it stops. The exit code: 1 when the
// options are bad or the driver gave up, else 0.
using TaskExecutorFactory =
    std::function<std::unique_ptr<stoa::Executor>(caf::actor_system&, std::shared_ptr<std::atomic<bool>> failed)>;
int run_task_executor(const std::string& name, const TaskExecutorFactory& make);

}  // namespace slave
}  // namespace stoa
