// The shared part of the task executors (slave/task_executor.hpp).
#include "slave/task_executor.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/runtime.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "framework/health_checker.hpp"
#include "slave/executor_pool.hpp"

namespace stoa::slave {

namespace {

std::chrono::nanoseconds grace_of(const KillPolicy& policy) {
  return std::chrono::nanoseconds(std::max<int64_t>(0, policy.grace_period().nanoseconds()));
}

}  // namespace

TaskExecutor::TaskExecutor(caf::actor_system& sys, std::shared_ptr<std::atomic<bool>> failed,
                           std::chrono::nanoseconds default_grace)
    : sys_(sys), failed_(std::move(failed)), default_grace_(default_grace) {}

// The driver gave up (the slave unreachable or silent past the registration
// timeout): the process exits non-zero so the slave reports the executor's
// failure as what it was.
void TaskExecutor::error(ExecutorDriver&, const std::string& message) {
  LOG_ERROR << "Executor failed: " << message;
  failed_->store(true);
}

void TaskExecutor::registered(ExecutorDriver&, const ExecutorInfo&, const FrameworkInfo& framework,
                              const SlaveInfo&) {
  framework_ = framework;
}

void TaskExecutor::reregistered(ExecutorDriver& d, const SlaveInfo&) {
  LOG_INFO << "The slave came back; " << task_state_text();
  if (terminal_sent_ && d.unacknowledged() > 0) {
    arm_ack_timer(d);
  }
}

void TaskExecutor::launch_task(ExecutorDriver& d, const TaskInfo& t) {
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
  start_task(d);
}

void TaskExecutor::kill_task(ExecutorDriver& d, const TaskID&, const std::optional<KillPolicy>& policy) {
  kill(d, policy && policy->has_grace_period() ? grace_of(*policy) : task_kill_grace());
}

void TaskExecutor::shutdown(ExecutorDriver& d) {
  if (!d.connected()) {
    // The driver gave up on a lost slave (or the slave refused us): nobody
    // can acknowledge the task's last update, so stop once it is over.
    stop_when_done_ = true;
    if (!task_active()) {
      d.stop();
      return;
    }
  }
  kill(d, shutdown_grace());
}

void TaskExecutor::acknowledged(ExecutorDriver& d, const TaskID&, const std::string&) {
  if (terminal_sent_ && d.unacknowledged() == 0) {
    d.stop();
  }
}

void TaskExecutor::unhandled(ExecutorDriver& d, caf::message& msg) {
  if (msg.match_elements<health_status_atom, bool, bool, uint32_t, std::string>()) {
    on_health(d, msg.get_as<bool>(1), msg.get_as<bool>(2), msg.get_as<uint32_t>(3), msg.get_as<std::string>(4));
  } else {
    on_message(d, msg);
  }
}

std::chrono::nanoseconds TaskExecutor::task_kill_grace() const {
  if (task_ && task_->has_kill_policy() && task_->kill_policy().has_grace_period()) {
    return grace_of(task_->kill_policy());
  }
  return default_grace_;
}

TaskStatus TaskExecutor::make_status(TaskState state, const std::string& message,
                                     std::optional<TaskStatus::Reason> reason, std::optional<bool> healthy) const {
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
  return s;
}

void TaskExecutor::send(ExecutorDriver& d, TaskStatus s) {
  if (!task_ || terminal_sent_) {
    return;
  }
  const bool terminal = is_terminal_state(s.state());
  d.send_status_update(std::move(s));
  if (terminal) {
    terminal_sent_ = true;
    arm_ack_timer(d);
    if (stop_when_done_) {
      LOG_INFO << "The task is over after a shutdown without a slave; exiting";
      d.stop();
    }
  }
}

void TaskExecutor::send_status(ExecutorDriver& d, TaskState state, const std::string& message,
                               std::optional<TaskStatus::Reason> reason, std::optional<bool> healthy) {
  if (task_) {
    send(d, make_status(state, message, reason, healthy));
  }
}

// Stops the executor TERMINAL_ACK_TIMEOUT from now unless the slave is away
// then (reregistered() arms it again).
void TaskExecutor::arm_ack_timer(ExecutorDriver& d) {
  d.cancel(ack_timer_);
  ack_timer_ = d.after(TERMINAL_ACK_TIMEOUT, [&d] {
    if (!d.reconnecting()) {
      d.stop();
    }
  });
}

void TaskExecutor::kill(ExecutorDriver& d, std::chrono::nanoseconds grace) {
  if (killing_) {
    return;
  }
  killing_ = true;
  stop_health_checker();
  if (!task_) {
    d.stop();  // nothing to kill
    return;
  }
  if (task_active()) {
    stop_task(d, grace);
  }
}

void TaskExecutor::announce_killing(ExecutorDriver& d) {
  for (const auto& c : framework_.capabilities()) {
    if (c.type() == FrameworkInfo::Capability::TASK_KILLING_STATE) {
      send_status(d, TASK_KILLING);
    }
  }
}

TaskStatus TaskExecutor::ended_status(const std::string& why, TaskState otherwise,
                                      std::optional<TaskStatus::Reason> reason) const {
  if (!killed_by_health_check_.empty()) {
    return make_status(TASK_KILLED, killed_by_health_check_ + " (" + why + ")",
                       TaskStatus::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, false);
  }
  if (killing_) {
    return make_status(TASK_KILLED, why);
  }
  return make_status(otherwise, why, reason);
}

// A verdict of the health checker: report it, and kill the task after
// consecutive_failures (Mesos' command executor).
void TaskExecutor::on_health(ExecutorDriver& d, bool healthy, bool kill_task, uint32_t failures,
                             const std::string& message) {
  if (!task_ || killing_ || terminal_sent_ || !task_running()) {
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

void TaskExecutor::start_health_checker(ExecutorDriver& d, const std::string& against,
                                        const HealthCheckTarget& target) {
  if (!task_ || !task_->has_health_check()) {
    return;
  }
  LOG_INFO << "Starting the " << HealthCheck::Type_Name(task_->health_check().type()) << " health check of task "
           << task_->task_id().value() << against;
  checker_ = spawn_health_checker(sys_, task_->health_check(), d.options().directory, d.self(), nullptr, target);
}

void TaskExecutor::stop_health_checker() {
  if (checker_) {
    caf::anon_send_exit(checker_, caf::exit_reason::user_shutdown);
    checker_ = caf::actor{};
  }
}

int run_task_executor(const std::string& name, const TaskExecutorFactory& make) {
  LOG_INFO << name << " starting";
  // A pooled executor (--executor_pool_size) learns its options at adoption.
  const char* pool_token = std::getenv(POOL_TOKEN_VARIABLE);
  const std::string token = pool_token == nullptr ? "" : pool_token;
  Try<ExecutorOptions> options = ExecutorOptions::from_environment();
  if (!token.empty()) {
    ExecutorOptions pooled;
    if (const char* ip = std::getenv("STOA_EXECUTOR_IP"); ip != nullptr && *ip != '\0') {
      pooled.ip = ip;
    }
    options = pooled;
  }
  if (options.is_error()) {
    std::cerr << name << ": " << options.error() << "\n";
    return 1;
  }
  RuntimeOptions ropts;
  ropts.ip = options->ip;
  ropts.port = 0;
  ropts.serve = false;  // the executor only connects out
  ropts.max_threads = 1;
  auto runtime = Runtime::start(ropts);
  if (runtime.is_error()) {
    std::cerr << name << ": " << runtime.error() << "\n";
    return 1;
  }
  Runtime& rt = **runtime;
  LOG_INFO << "Runtime started";
  auto failed = std::make_shared<std::atomic<bool>>(false);
  caf::actor exec;
  if (token.empty()) {
    exec = spawn_executor(rt, std::move(*options), make(rt.system(), failed));
  } else {
    // Pooled: the actor waits for a container, adopts it and is registered
    // by the adoption. Unadopted, it exits 0 (nobody waits for its status);
    // a failed adoption is a container's executor failing at start (error(),
    // so 1).
    PooledExecutorOptions pooled;
    pooled.token = token;
    pooled.slave_pid = std::getenv("STOA_SLAVE_PID") == nullptr ? "" : std::getenv("STOA_SLAVE_PID");
    Try<uint16_t> port = ExecutorOptions::slave_actor_port_from_environment();
    if (pooled.slave_pid.empty() || port.is_error()) {
      std::cerr << name << ": "
                << (pooled.slave_pid.empty() ? std::string("STOA_SLAVE_PID is not set") : port.error()) << "\n";
      rt.shutdown();
      return 0;
    }
    pooled.slave_actor_port = *port;
    exec = spawn_pooled_executor(
        rt, std::move(pooled), [token](const internal::AdoptExecutorMessage& m) { return adopt(m, token); },
        make(rt.system(), failed));
  }
  if (caf::error reason = await_executor(rt, exec)) {
    // A callback threw: the actors are in any state, and one that failed to
    // start its thread (EAGAIN at the container's pids limit) would keep the
    // actor system's shutdown waiting for ever. Exit now; the slave sees its
    // executor gone, fails the task and destroys the container.
    LOG_ERROR << name << " stopped abnormally (" << rt.system().render(reason) << "); exiting at once";
    std::_Exit(1);
  }
  exec = caf::actor{};
  rt.shutdown();
  return failed->load() ? 1 : 0;
}

}  // namespace stoa::slave
