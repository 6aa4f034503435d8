// stoa-executor: the command executor. The slave starts one per command task
// (environment STOA_SLAVE_PID, STOA_FRAMEWORK_ID, STOA_EXECUTOR_ID,
// STOA_DIRECTORY, STOA_EXECUTOR_IP); it registers with the slave, runs the
// task's command in its own process group in the sandbox, reports
// TASK_STARTING / TASK_RUNNING / a terminal state with the exit status, and
// kills the whole group (SIGTERM, then SIGKILL after the grace period) when
// asked to. Written on the executor SDK (framework/executor.hpp), which does
// the resolving, registering and acknowledgement bookkeeping.
//
// When its slave dies, a framework that does not checkpoint loses the task
// (it is killed and the executor exits). One that checkpoints
// (STOA_CHECKPOINT) keeps it running while the driver waits for the slave
// to come back: a task that ends meanwhile is reported, and the driver
// delivers that update on re-registration. If the slave does not come back
// within the recovery timeout (or refuses the executor), the driver calls
// shutdown(): the task is killed and, once it is reaped, the executor stops
// at once, since nobody is left to acknowledge its last update.
//
// A task with a health_check gets a checker (framework/health_checker.hpp)
// once it runs: each verdict becomes a TASK_RUNNING update with `healthy`
// and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED; a kill verdict kills the
// task, whose terminal update is then TASK_KILLED with healthy=false and
// that reason. The checker stops when the task ends or is killed
// (docs/health-checks.md).

#include <atomic>
#include <memory>
#include <sys/wait.h>

#include <csignal>
#include <iostream>
#include <memory>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/runtime.hpp"
#include "common/logging.hpp"
#include "framework/executor.hpp"
#include "framework/health_checker.hpp"
#include "actors/launcher.hpp"
#include "slave/reaper.hpp"

namespace {

using namespace stoa;

constexpr auto DEFAULT_KILL_GRACE = std::chrono::seconds(3);
// After the terminal update the executor waits this long for the slave's
// acknowledgement before exiting anyway (counted again from a
// re-registration: while the slave is away, the update is kept for it).
constexpr auto TERMINAL_ACK_TIMEOUT = std::chrono::seconds(10);

bool is_terminal(TaskState state) {
  return state == TASK_FINISHED || state == TASK_FAILED || state == TASK_KILLED || state == TASK_ERROR ||
         state == TASK_LOST;
}

class CommandExecutor : public Executor {
 public:
  CommandExecutor(caf::actor_system& sys, std::shared_ptr<std::atomic<bool>> failed)
      : sys_(sys), failed_(std::move(failed)) {}

  // The driver gave up (the slave unreachable or silent past the
  // registration timeout): the process exits non-zero so the slave reports
  // the executor's failure as what it was.
  void error(ExecutorDriver&, const std::string& message) override {
    LOG_ERROR << "Executor failed: " << message;
    failed_->store(true);
  }

  void registered(ExecutorDriver&, const ExecutorInfo&, const FrameworkInfo& framework, const SlaveInfo&) override {
    framework_ = framework;
  }

  void reregistered(ExecutorDriver& d, const SlaveInfo&) override {
    LOG_INFO << "The slave came back; the task "
             << (pid_ > 0 ? std::string("is still running") : std::string("is not running"));
    if (terminal_sent_ && d.unacknowledged() > 0) {
      arm_ack_timer(d);
    }
  }

  void launch_task(ExecutorDriver& d, const TaskInfo& t) override {
    LOG_INFO << "Received task " << t.task_id().value();
    if (task_) {
      LOG_WARNING << "Ignoring a second task " << t.task_id().value();
      return;
    }
    task_ = t;
    if (killing_) {
      send_status(d, TASK_KILLED, "Killed before it started", TaskStatus::REASON_TASK_KILLED_DURING_LAUNCH);
      return;
    }
    send_status(d, TASK_STARTING);
    const CommandInfo& cmd = task_->command();
    LaunchSpec spec;
    spec.argv = command_argv(cmd);
    const std::string& dir = d.options().directory;
    // Its own process group inside our session, so that whoever kills our
    // session (the slave, when this executor dies) takes the task down too.
    spec.new_session = false;
    spec.new_process_group = true;
    spec.working_dir = dir;
    spec.stdout_path = dir + "/stdout";
    spec.stderr_path = dir + "/stderr";
    spec.env["MESOS_SANDBOX"] = dir;
    spec.env["STOA_SANDBOX"] = dir;
    spec.env["MESOS_TASK_ID"] = task_->task_id().value();
    for (const auto& v : cmd.environment().variables()) {
      spec.env[v.name()] = v.value();
    }
    LOG_INFO << "Launching";
    caf::actor reaper = slave::spawn_reaper(sys_, d.self(), "task");
    Try<pid_t> launched = launch(spec);
    if (launched.is_error()) {
      caf::anon_send_exit(reaper, caf::exit_reason::user_shutdown);
      send_status(d, TASK_FAILED, "Failed to launch the command: " + launched.error(),
                  TaskStatus::REASON_COMMAND_EXECUTOR_FAILED);
      return;
    }
    pid_ = *launched;
    LOG_INFO << "Started task " << task_->task_id().value() << " (pid " << pid_ << "): " << cmd.value();
    caf::anon_send(reaper, reaped_atom_v, pid_);
    send_status(d, TASK_RUNNING);
    if (task_->has_health_check()) {
      LOG_INFO << "Starting the " << HealthCheck::Type_Name(task_->health_check().type())
               << " health check of task " << task_->task_id().value();
      checker_ = spawn_health_checker(sys_, task_->health_check(), dir, d.self());
    }
  }

  void kill_task(ExecutorDriver& d, const TaskID&, const std::optional<KillPolicy>& policy) override {
    std::chrono::nanoseconds grace = task_kill_grace();
    if (policy && policy->has_grace_period()) {
      grace = std::chrono::nanoseconds(std::max<int64_t>(0, policy->grace_period().nanoseconds()));
    }
    kill(d, grace);
  }

  // The task's kill grace period: its kill policy's, else the default.
  std::chrono::nanoseconds task_kill_grace() const {
    if (task_ && task_->has_kill_policy() && task_->kill_policy().has_grace_period()) {
      return std::chrono::nanoseconds(std::max<int64_t>(0, task_->kill_policy().grace_period().nanoseconds()));
    }
    return DEFAULT_KILL_GRACE;
  }

  void shutdown(ExecutorDriver& d) override {
    if (!d.connected()) {
      // The driver gave up on a lost slave (or the slave refused us): nobody
      // can acknowledge the task's last update, so stop once it is reaped.
      stop_when_reaped_ = true;
      if (pid_ <= 0) {
        d.stop();
        return;
      }
    }
    kill(d, DEFAULT_KILL_GRACE);
  }

  void disconnected(ExecutorDriver& d) override {
    if (d.reconnecting()) {
      LOG_WARNING << "Lost the slave; the framework checkpoints, so the task "
                  << (pid_ > 0 ? "keeps running" : "state is kept") << " until the slave comes back";
      return;
    }
    LOG_WARNING << "Lost the slave; killing the task and exiting";
    if (pid_ > 0) {
      signal_process_group(pid_, SIGKILL);
    }
  }

  void acknowledged(ExecutorDriver& d, const TaskID&, const std::string&) override {
    if (terminal_sent_ && d.unacknowledged() == 0) {
      d.stop();
    }
  }

  void unhandled(ExecutorDriver& d, caf::message& msg) override {
    if (msg.match_elements<reaped_atom, std::string, int>()) {
      on_reaped(d, msg.get_as<int>(2));
    } else if (msg.match_elements<health_status_atom, bool, bool, uint32_t, std::string>()) {
      on_health(d, msg.get_as<bool>(1), msg.get_as<bool>(2), msg.get_as<uint32_t>(3), msg.get_as<std::string>(4));
    }
  }

 private:
  void send_status(ExecutorDriver& d, TaskState state, const std::string& message = "",
                   std::optional<TaskStatus::Reason> reason = std::nullopt,
                   std::optional<bool> healthy = std::nullopt) {
    if (!task_ || terminal_sent_) {
      return;
    }
    TaskStatus s;
    *s.mutable_task_id() = task_->task_id();
    s.set_state(state);
    if (!message.empty()) {
      s.set_message(message);
    }
    if (reason) {
      s.set_reason(*reason);
    }
    if (healthy) {
      s.set_healthy(*healthy);
    }
    d.send_status_update(std::move(s));
    if (is_terminal(state)) {
      terminal_sent_ = true;
      arm_ack_timer(d);
    }
  }

  // Stops the executor TERMINAL_ACK_TIMEOUT from now unless the slave is
  // away then (reregistered() arms it again).
  void arm_ack_timer(ExecutorDriver& d) {
    d.cancel(ack_timer_);
    ack_timer_ = d.after(TERMINAL_ACK_TIMEOUT, [&d] {
      if (!d.reconnecting()) {
        d.stop();
      }
    });
  }

  // A verdict of the health checker: report it, and kill the task after
  // consecutive_failures (Mesos' command executor).
  void on_health(ExecutorDriver& d, bool healthy, bool kill_task, uint32_t failures, const std::string& message) {
    if (!task_ || killing_ || terminal_sent_ || pid_ <= 0) {
      return;  // the task is ending anyway
    }
    send_status(d, TASK_RUNNING, message, TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, healthy);
    if (kill_task) {
      killed_by_health_check_ = "Task killed after " + std::to_string(failures) +
                                (failures == 1 ? " failed health check" : " consecutive failed health checks");
      LOG_WARNING << killed_by_health_check_ << ": " << message;
      kill(d, task_kill_grace());
    }
  }

  void stop_health_checker() {
    if (checker_) {
      caf::anon_send_exit(checker_, caf::exit_reason::user_shutdown);
      checker_ = caf::actor{};
    }
  }

  void kill(ExecutorDriver& d, std::chrono::nanoseconds grace) {
    if (killing_) {
      return;
    }
    killing_ = true;
    stop_health_checker();
    if (pid_ <= 0) {
      if (!task_) {
        d.stop();  // nothing to kill
      }
      return;
    }
    for (const auto& c : framework_.capabilities()) {
      if (c.type() == FrameworkInfo::Capability::TASK_KILLING_STATE) {
        send_status(d, TASK_KILLING);
      }
    }
    LOG_INFO << "Sending SIGTERM to the process group of task " << task_->task_id().value();
    signal_process_group(pid_, SIGTERM);
    d.after(grace, [this] {
      if (pid_ > 0) {
        LOG_INFO << "Grace period over: sending SIGKILL";
        signal_process_group(pid_, SIGKILL);
      }
    });
  }

  void on_reaped(ExecutorDriver& d, int status) {
    // Whatever the command left behind in its group goes too.
    signal_process_group(pid_, SIGKILL);
    stop_health_checker();
    std::string why = describe_wait_status(status);
    if (!killed_by_health_check_.empty()) {
      send_status(d, TASK_KILLED, killed_by_health_check_ + " (" + why + ")",
                  TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, false);
    } else if (killing_) {
      send_status(d, TASK_KILLED, why);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      send_status(d, TASK_FINISHED, why);
    } else {
      send_status(d, TASK_FAILED, why);
    }
    pid_ = -1;
    if (stop_when_reaped_) {
      LOG_INFO << "Task reaped after a shutdown without a slave; exiting";
      d.stop();
    }
  }

  caf::actor_system& sys_;
  std::shared_ptr<std::atomic<bool>> failed_;
  FrameworkInfo framework_;
  std::optional<TaskInfo> task_;
  pid_t pid_ = -1;
  bool killing_ = false;
  bool terminal_sent_ = false;
  bool stop_when_reaped_ = false;
  uint64_t ack_timer_ = 0;
  caf::actor checker_;
  // Set when the health checker asked for the kill: the terminal update's message.
  std::string killed_by_health_check_;
};

}  // namespace

int main() {
  LOG_INFO << "stoa-executor starting";
  Try<ExecutorOptions> options = ExecutorOptions::from_environment();
  if (options.is_error()) {
    std::cerr << "stoa-executor: " << options.error() << "\n";
    return 1;
  }
  stoa::RuntimeOptions ropts;
  ropts.ip = options->ip;
  ropts.port = 0;
  ropts.serve = false;  // the executor only connects out
  ropts.max_threads = 1;
  auto runtime = stoa::Runtime::start(ropts);
  if (runtime.is_error()) {
    std::cerr << "stoa-executor: " << runtime.error() << "\n";
    return 1;
  }
  stoa::Runtime& rt = **runtime;
  LOG_INFO << "Runtime started";
  auto failed = std::make_shared<std::atomic<bool>>(false);
  caf::actor exec = spawn_executor(rt, std::move(*options), std::make_unique<CommandExecutor>(rt.system(), failed));
  await_executor(rt, exec);
  exec = caf::actor{};
  rt.shutdown();
  return failed->load() ? 1 : 0;
}
