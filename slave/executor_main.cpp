// stoa-executor: the command executor. The slave starts one per command task
// (environment STOA_SLAVE_PID, STOA_FRAMEWORK_ID, STOA_EXECUTOR_ID,
// STOA_DIRECTORY, STOA_EXECUTOR_IP); it registers with the slave, runs the
// task's command in its own process group in the sandbox, reports
// TASK_STARTING / TASK_RUNNING / a terminal state with the exit status, and
// kills the whole group (SIGTERM, then SIGKILL after the grace period) when
// asked to. Written on the executor SDK (framework/executor.hpp), which does
// the resolving, registering and acknowledgement bookkeeping, through
// slave/task_executor.hpp, which it shares with stoa-docker-executor.
//
// Started with STOA_POOL_TOKEN instead (the slave's warm pool,
// --executor_pool_size), it first waits, connected to the slave, for a
// container to adopt (slave/executor_pool.hpp, docs/executor-pool.md) and
// is then the same executor.
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

#include <sys/wait.h>

#include <csignal>
#include <memory>
#include <optional>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/launcher.hpp"
#include "common/logging.hpp"
#include "framework/health_checker.hpp"
#include "slave/reaper.hpp"
#include "slave/task_executor.hpp"

namespace {

using namespace stoa;

constexpr auto DEFAULT_KILL_GRACE = std::chrono::seconds(3);

class CommandExecutor : public slave::TaskExecutor {
 public:
  // The reaper's thread starts with the executor: once the task runs, its
  // container's pids limit may leave no room for another thread (a fork
  // bomb takes every pid within a millisecond), and the executor must still
  // see the task end. Nothing starts a thread after the launch.
  CommandExecutor(caf::actor_system& sys, std::shared_ptr<std::atomic<bool>> failed)
      : TaskExecutor(sys, std::move(failed), DEFAULT_KILL_GRACE), reaper_(slave::spawn_reaper(sys, "task")) {}

  // Runs as the driver exits (its state goes): an unused reaper goes too,
  // or the actor system would wait for it.
  ~CommandExecutor() override {
    if (reaper_) {
      caf::anon_send_exit(reaper_, caf::exit_reason::user_shutdown);
    }
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

 protected:
  void start_task(ExecutorDriver& d) override {
    send_status(d, TASK_STARTING);
    const CommandInfo& cmd = task_->command();
    std::vector<std::pair<std::string, std::string>> env;
    for (const auto& v : cmd.environment().variables()) {
      env.emplace_back(v.name(), v.value());
    }
    const CommandLine line = command_line(cmd);
    LOG_INFO << "Launching";
    Try<pid_t> launched = launch_command_task(
        line, command_task_spec(line, d.options().directory, task_->task_id().value(), env), launch);
    if (launched.is_error()) {
      send_status(d, TASK_FAILED, "Failed to launch the command: " + launched.error(),
                  TaskStatus::REASON_COMMAND_EXECUTOR_FAILED);
      return;
    }
    pid_ = *launched;
    LOG_INFO << "Started task " << task_->task_id().value() << " (pid " << pid_ << "): " << cmd.value();
    send_status(d, TASK_RUNNING);
    caf::anon_send(reaper_, reaped_atom_v, pid_, d.self());
    reaper_ = caf::actor{};  // it exits once it has reported
    start_health_checker(d, "", HealthCheckTarget{});
  }

  // SIGTERM to the task's process group, SIGKILL after the grace period;
  // the reaper reports the end.
  void stop_task(ExecutorDriver& d, std::chrono::nanoseconds grace) override {
    announce_killing(d);
    LOG_INFO << "Sending SIGTERM to the process group of task " << task_->task_id().value();
    signal_process_group(pid_, SIGTERM);
    d.after(grace, [this] {
      if (pid_ > 0) {
        LOG_INFO << "Grace period over: sending SIGKILL";
        signal_process_group(pid_, SIGKILL);
      }
    });
  }

  bool task_active() const override { return pid_ > 0; }
  bool task_running() const override { return pid_ > 0; }
  std::string task_state_text() const override {
    return pid_ > 0 ? "the task is still running" : "the task is not running";
  }
  std::chrono::nanoseconds shutdown_grace() const override { return DEFAULT_KILL_GRACE; }

  void on_message(ExecutorDriver& d, caf::message& msg) override {
    if (msg.match_elements<reaped_atom, std::string, int>()) {
      on_reaped(d, msg.get_as<int>(2));
    }
  }

 private:
  void on_reaped(ExecutorDriver& d, int status) {
    // Whatever the command left behind in its group goes too.
    signal_process_group(pid_, SIGKILL);
    stop_health_checker();
    pid_ = -1;
    const bool finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    send(d, ended_status(describe_wait_status(status), finished ? TASK_FINISHED : TASK_FAILED));
  }

  caf::actor reaper_;
  pid_t pid_ = -1;
};

}  // namespace

int main() {
  return stoa::slave::run_task_executor("stoa-executor", [](caf::actor_system& sys, auto failed) {
    return std::make_unique<CommandExecutor>(sys, std::move(failed));
  });
}
