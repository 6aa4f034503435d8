// stoa-guide-framework: keeps N copies of a command running, the smallest
// long-running framework (docs/framework-guide.md walks through it).
//
// Each task gets the cpus/mem of --task_resources plus one port of the
// offer, exported as PORT0, and, with --health_command, a COMMAND health
// check the slave runs. A task that ends for any reason is replaced. On
// every (re-)subscription the framework reconciles: it asks the master for
// the state of the tasks it knows and for every other task of its framework
// id, adopts the running ones, and launches only once the answers had time
// to arrive. With --failover_timeout, SIGTERM leaves the tasks running, and
// a new process started with --framework_id=<id> takes them over.
//
// Output (stdout, one line each):
//   "SUBSCRIBED <framework_id>", "RECONCILED <n>" (tasks known after
//   reconciliation), "LAUNCH <task_id> <slave_id> <port>",
//   "<STATE> <task_id>" for every state change (TASK_RUNNING, TASK_KILLED…),
//   "HEALTHY <task_id>" / "UNHEALTHY <task_id>" when the health flips.
// Exit status: 0 when stopped by a signal, 1 after an error from the master,
// 2 for bad flags.

#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/daemon.hpp"
#include "common/flags.hpp"
#include "common/logging.hpp"
#include "common/resources.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"
#include "framework/scheduler.hpp"
#include "framework/tools.hpp"

namespace stoa {
namespace {

constexpr int EXIT_STOPPED = 0;
constexpr int EXIT_MASTER_ERROR = 1;
constexpr int EXIT_BAD_FLAGS = 2;

// How long the answers to a reconciliation may take before offers are used.
constexpr auto RECONCILE_WAIT = std::chrono::seconds(2);
// Offers declined while reconciling come back this soon.
constexpr double RECONCILING_REFUSE_SECONDS = 1;
// Offers declined while every task runs (then offers are suppressed too).
constexpr double SATISFIED_REFUSE_SECONDS = 30;

// [flags]
struct Flags : FlagsBase {
  Flags() {
    add(&master, "master", "The master (required): host:port, zk://host1:port1,host2:port2/path or file:///path.");
    add(&instances, "instances", "How many copies of the command to keep running.", 2);
    add(&command, "command", "Shell command each task runs ($PORT0 is its port).", "sleep 3600");
    add(&task_resources, "task_resources", "Resources of each task (one port is added).", "cpus:0.1;mem:32");
    add(&health_command, "health_command",
        "A shell command the slave runs as each task's health check (none when empty).", "");
    add(&failover_timeout, "failover_timeout",
        "How long the master keeps the framework and its tasks after this scheduler goes away. "
        "When non-zero, SIGTERM leaves the tasks running for a successor (--framework_id).",
        Duration(0));
    add(&framework_id, "framework_id", "Take over this framework (a predecessor's SUBSCRIBED id).");
    add(&framework_name, "framework_name", "Name of the framework.", "stoa-guide-framework");
    add(&ip, "ip", "IP address the scheduler's runtime binds (and the master connects back to).", "127.0.0.1");
  }
  std::optional<std::string> master;
  int instances = 2;
  std::string command;
  std::string task_resources;
  std::string health_command;
  Duration failover_timeout;
  std::optional<std::string> framework_id;
  std::string framework_name;
  std::string ip;
};
// [flags]

struct Config {
  int instances = 0;
  std::string command;
  Resources task_resources;
  std::string health_command;
  bool failover = false;
};

// [scheduler]
class GuideScheduler : public Scheduler {
 public:
  GuideScheduler(Config config, std::shared_ptr<int> exit_code)
      : config_(std::move(config)), exit_code_(std::move(exit_code)) {}

  // [subscribed]
  void subscribed(SchedulerDriver& driver, const FrameworkID& id, const MasterInfo&) override {
    say("SUBSCRIBED " + id.value());
    // Explicit reconciliation of the tasks we know, then implicit for the
    // ones we do not (a predecessor's): the master answers each with an
    // update carrying the task's latest state (no uuid, nothing to ack).
    std::vector<TaskStatus> known;
    for (const auto& [task_id, task] : tasks_) {
      TaskStatus s;
      s.mutable_task_id()->set_value(task_id);
      s.set_state(TASK_STAGING);
      if (task.slave_id) {
        *s.mutable_slave_id() = *task.slave_id;
      }
      known.push_back(s);
    }
    if (!known.empty()) {
      driver.reconcile(known);
    }
    driver.reconcile({});
    reconciling_ = true;
    driver.cancel(reconcile_timer_);
    reconcile_timer_ = driver.after(RECONCILE_WAIT, [this, &driver] { reconciled(driver); });
  }
  // [subscribed]

  // [offers]
  void offers(SchedulerDriver& driver, const std::vector<Offer>& offers) override {
    for (const Offer& offer : offers) {
      if (reconciling_) {
        driver.decline(offer.id(), refuse(RECONCILING_REFUSE_SECONDS));
        continue;
      }
      Try<Resources> offered = Resources::from_proto(offer.resources());
      Resources left = offered.is_error() ? Resources() : offered->flatten();
      std::vector<TaskInfo> launch;
      while (missing() > 0) {
        std::optional<TaskInfo> task = make_task(offer, left);
        if (!task) {
          break;
        }
        tasks_[task->task_id().value()] = Task{"TASK_STAGING", offer.slave_id(), std::nullopt};
        launch.push_back(std::move(*task));
      }
      if (launch.empty()) {
        driver.decline(offer.id(), refuse(missing() > 0 ? RECONCILING_REFUSE_SECONDS : SATISFIED_REFUSE_SECONDS));
      } else {
        driver.launch({offer.id()}, launch, refuse(RECONCILING_REFUSE_SECONDS));
      }
    }
    if (missing() == 0 && !suppressed_) {
      driver.suppress();  // no more offers until a task ends
      suppressed_ = true;
    }
  }
  // [offers]

  // [update]
  void update(SchedulerDriver& driver, const TaskStatus& status) override {
    const std::string& id = status.task_id().value();
    const std::string state = TaskState_Name(status.state());
    auto it = tasks_.find(id);
    if (is_terminal_state(status.state())) {
      if (it != tasks_.end()) {
        tasks_.erase(it);
        say(state + " " + id);
      }
      want_offers(driver);  // a replacement is needed
      return;
    }
    if (it == tasks_.end()) {
      // Reconciliation told us of a task of this framework we did not know.
      it = tasks_.emplace(id, Task{}).first;
    }
    if (status.has_slave_id()) {
      it->second.slave_id = status.slave_id();
    }
    if (it->second.state != state) {
      it->second.state = state;
      say(state + " " + id);
    }
    if (status.has_healthy() && status.healthy() != it->second.healthy) {
      it->second.healthy = status.healthy();
      say(std::string(status.healthy() ? "HEALTHY " : "UNHEALTHY ") + id);
    }
    if (static_cast<int>(tasks_.size()) > config_.instances && status.state() == TASK_RUNNING) {
      driver.kill(status.task_id(), it->second.slave_id);  // adopted more than we want
    }
  }
  // [update]

  void error(SchedulerDriver&, const std::string& message) override {
    std::cerr << "Error from the master: " << message << std::endl;
    *exit_code_ = EXIT_MASTER_ERROR;
  }

  void disconnected(SchedulerDriver&) override { LOG_WARNING << "Disconnected from the master; re-subscribing"; }

  // [signaled]
  void signaled(SchedulerDriver& driver, int) override {
    *exit_code_ = EXIT_STOPPED;
    driver.stop(config_.failover);  // failover: the master keeps the tasks for a successor
  }
  // [signaled]

 private:
  struct Task {
    std::string state;
    std::optional<SlaveID> slave_id;
    std::optional<bool> healthy;
  };

  int missing() const { return config_.instances - static_cast<int>(tasks_.size()); }

  void reconciled(SchedulerDriver& driver) {
    reconciling_ = false;
    say("RECONCILED " + std::to_string(tasks_.size()));
    want_offers(driver);
  }

  void want_offers(SchedulerDriver& driver) {
    if (missing() > 0 && suppressed_) {
      driver.revive();
      suppressed_ = false;
    }
  }

  // [make_task]
  // One task on `offer` if what is `left` of it holds the task's resources
  // and a port; takes them from `left`.
  std::optional<TaskInfo> make_task(const Offer& offer, Resources& left) const {
    std::vector<Range> ports = left.ranges("ports");
    if (ports.empty()) {
      return std::nullopt;
    }
    const uint64_t port = ports.front().begin;
    Resources wanted = config_.task_resources + Resources::ranges_resource("ports", {Range{port, port}});
    if (!left.contains(wanted)) {
      return std::nullopt;
    }
    left -= wanted;
    const std::string id = "guide-" + random_uuid();
    TaskInfo task = shell_task(offer, id, id, wanted, config_.command);
    Environment::Variable* env = task.mutable_command()->mutable_environment()->add_variables();
    env->set_name("PORT0");
    env->set_value(std::to_string(port));
    if (!config_.health_command.empty()) {
      HealthCheck* check = task.mutable_health_check();
      check->set_type(HealthCheck::COMMAND);
      check->mutable_command()->set_value(config_.health_command);
      check->set_delay_seconds(0);
      check->set_interval_seconds(1);
      check->set_grace_period_seconds(5);
      check->set_consecutive_failures(3);
    }
    say("LAUNCH " + id + " " + offer.slave_id().value() + " " + std::to_string(port));
    return task;
  }
  // [make_task]

  Config config_;
  std::shared_ptr<int> exit_code_;
  std::map<std::string, Task> tasks_;  // every task not known to be terminal
  bool reconciling_ = true;
  bool suppressed_ = false;
  uint64_t reconcile_timer_ = 0;
};
// [scheduler]

const daemon::Program PROGRAM{"stoa-guide-framework", daemon::FlagErrors::PRINT_USAGE, EXIT_BAD_FLAGS};

// [main]
int run(int argc, char** argv) {
  daemon::block_stop_signals();
  Flags flags;
  if (std::optional<int> done = daemon::load_flags(PROGRAM, flags, argc, argv)) {
    return *done;
  }
  if (!flags.master || flags.master->empty()) {
    return daemon::bad_flags(PROGRAM, flags, "Missing required flag --master");
  }
  if (flags.instances < 0) {
    return daemon::bad_flags(PROGRAM, flags,
                             "Invalid --instances '" + std::to_string(flags.instances) + "': must be >= 0");
  }
  Try<Resources> resources = Resources::parse(flags.task_resources);
  if (resources.is_error() || resources->empty()) {
    return daemon::bad_flags(PROGRAM, flags,
                             "Invalid --task_resources '" + flags.task_resources + "': " +
                                 (resources.is_error() ? resources.error() : "no resources"));
  }
  Config config;
  config.instances = flags.instances;
  config.command = flags.command;
  config.task_resources = *resources;
  config.health_command = flags.health_command;
  config.failover = flags.failover_timeout > Duration(0);

  RuntimeOptions runtime_options;
  runtime_options.ip = flags.ip;
  SchedulerOptions options;
  options.master = *flags.master;
  options.framework_info.set_name(flags.framework_name);
  options.framework_info.set_failover_timeout(std::chrono::duration<double>(flags.failover_timeout).count());
  options.framework_info.set_checkpoint(true);  // tasks survive a slave restart
  if (flags.framework_id && !flags.framework_id->empty()) {
    FrameworkID id;
    id.set_value(*flags.framework_id);
    options.framework_id = id;  // fail over: subscribe with the predecessor's id
  }
  auto exit_code = std::make_shared<int>(EXIT_STOPPED);
  return daemon::run_tool(
      PROGRAM, runtime_options, "scheduler",
      [&](Runtime& rt) {
        return spawn_scheduler(rt, options, std::make_unique<GuideScheduler>(std::move(config), exit_code));
      },
      [exit_code] { return *exit_code; });
}
// [main]

}  // namespace
}  // namespace stoa

int main(int argc, char** argv) { return stoa::run(argc, argv); }
