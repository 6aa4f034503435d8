// stoa-example-framework: launches N copies of a command, packing as many
// tasks into each offer as fit (Mesos' test-framework).
//
// Output (stdout, one line each):
//   "<STATE> <task_id>" per terminal update, e.g. "TASK_FINISHED example-3"
//   (other states add " - <message>" when the update carries one),
//   "finished=N failed=M" once every task is terminal.
// Exit status: 0 iff all tasks finished; 1 otherwise; 2 for bad flags.
//
// --launch_without_fit launches the tasks on the first offer whether or not
// they fit (to exercise TASK_ERROR). --hold_offers never answers offers and
// prints "OFFER <offer_id> <slave_id>" and "RESCIND <offer_id>" until SIGTERM.

#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "actors/daemon.hpp"
#include "common/flags.hpp"
#include "common/logging.hpp"
#include "common/resources.hpp"
#include "common/task_state.hpp"
#include "framework/scheduler.hpp"
#include "framework/tools.hpp"

namespace stoa {
namespace {

constexpr int EXIT_ALL_FINISHED = 0;
constexpr int EXIT_NOT_ALL_FINISHED = 1;
constexpr int EXIT_BAD_FLAGS = 2;

// Leftovers of accepted offers while tasks are still pending come back at once.
constexpr double PENDING_REFUSE_SECONDS = 0;
// Offers (and leftovers) once every task is launched.
constexpr double DONE_REFUSE_SECONDS = 1;

struct Flags : FlagsBase {
  Flags() {
    add(&master, "master",
        "The master (required): host:port, master@host:port, http://host:port, "
        "zk://host1:port1,host2:port2/path (follow the leader elected in ZooKeeper) or file:///path "
        "(a file holding one of those).");
    add(&failover_timeout, "failover_timeout",
        "How long the master keeps the framework (and its tasks) after this scheduler disconnects, "
        "e.g. \"1mins\" (FrameworkInfo.failover_timeout).",
        Duration(0));
    add(&tasks, "tasks", "Number of tasks to run.", 5);
    add(&command, "command", "Shell command each task runs.", "true");
    add(&task_resources, "task_resources", "Resources of each task.", "cpus:0.1;mem:32");
    add(&launch_without_fit, "launch_without_fit",
        "Launch the tasks on the first offer even if they do not fit (to test TASK_ERROR).", false);
    add(&hold_offers, "hold_offers",
        "Never answer offers: print \"OFFER <offer_id> <slave_id>\" and \"RESCIND <offer_id>\" until SIGTERM.",
        false);
    add(&framework_name, "framework_name", "Name of the framework.", "stoa-example-framework");
    add(&checkpoint, "checkpoint",
        "Ask slaves to checkpoint this framework's tasks, so they survive a slave restart "
        "(FrameworkInfo.checkpoint).",
        false);
    add(&partition_aware, "partition_aware",
        "Declare the PARTITION_AWARE capability: tasks of a partitioned slave become TASK_UNREACHABLE "
        "(and may come back) instead of TASK_LOST.",
        false);
    add(&ip, "ip",
        "IP address the scheduler's runtime binds (and, unless --advertise_ip, the master connects back to; "
        "0.0.0.0 advertises a routable address).",
        "127.0.0.1");
    check("ip", ipv4_address());
    add_framework_address_flags("ip", &port, &address);
  }
  std::optional<std::string> master;
  Duration failover_timeout;
  int tasks = 5;
  std::string command;
  std::string task_resources;
  bool launch_without_fit = false;
  bool hold_offers = false;
  std::string framework_name;
  bool checkpoint = false;
  bool partition_aware = false;
  std::string ip;
  int port = 0;
  AddressFlags address;

  std::optional<Error> validate() const override { return check_address_flags(port, address); }
};

struct Config {
  int tasks = 0;
  std::string command;
  Resources task_resources;
  bool launch_without_fit = false;
  bool hold_offers = false;
};

class ExampleScheduler : public Scheduler {
 public:
  ExampleScheduler(Config config, std::shared_ptr<int> exit_code)
      : config_(std::move(config)), exit_code_(std::move(exit_code)) {}

  void subscribed(SchedulerDriver& driver, const FrameworkID& id, const MasterInfo&) override {
    LOG_INFO << "Subscribed as framework " << id.value();
    if (config_.tasks == 0 && !config_.hold_offers) {
      finish(driver);
    }
  }

  void offers(SchedulerDriver& driver, const std::vector<Offer>& offers) override {
    for (const Offer& offer : offers) {
      if (config_.hold_offers) {
        say("OFFER " + offer.id().value() + " " + offer.slave_id().value());
        continue;
      }
      std::vector<TaskInfo> tasks;
      Try<Resources> offered = Resources::from_proto(offer.resources());
      Resources remaining = offered.is_error() ? Resources() : offered->flatten();
      while (launched_ < config_.tasks) {
        bool fits = remaining.contains(config_.task_resources);
        if (!fits && !config_.launch_without_fit) {
          break;
        }
        remaining -= config_.task_resources;
        tasks.push_back(make_task(offer, launched_++));
      }
      if (tasks.empty()) {
        driver.decline(offer.id(), refuse(all_launched() ? DONE_REFUSE_SECONDS : PENDING_REFUSE_SECONDS));
        continue;
      }
      LOG_INFO << "Launching " << tasks.size() << " task(s) on slave " << offer.slave_id().value();
      driver.launch({offer.id()}, tasks, refuse(all_launched() ? DONE_REFUSE_SECONDS : PENDING_REFUSE_SECONDS));
    }
  }

  void rescind(SchedulerDriver&, const OfferID& offer_id) override {
    if (config_.hold_offers) {
      say("RESCIND " + offer_id.value());
    }
  }

  void update(SchedulerDriver& driver, const TaskStatus& status) override {
    const std::string& id = status.task_id().value();
    LOG_INFO << "Task " << id << " is in state " << TaskState_Name(status.state())
             << (status.has_reason() ? " (" + TaskStatus::Reason_Name(status.reason()) + ")" : std::string())
             << (status.message().empty() ? "" : ": " + status.message());
    if (!is_terminal_state(status.state()) || done_.contains(id)) {
      return;
    }
    done_.insert(id);
    std::string line = TaskState_Name(status.state()) + " " + id;
    if (status.state() == TASK_FINISHED) {
      ++finished_;
    } else {
      ++failed_;
      if (!status.message().empty()) {
        line += " - " + status.message();
      }
    }
    say(line);
    if (finished_ + failed_ >= config_.tasks) {
      finish(driver);
    }
  }

  void error(SchedulerDriver&, const std::string& message) override {
    std::cerr << "Error from the master: " << message << std::endl;
  }

  void disconnected(SchedulerDriver&) override { std::cerr << "Disconnected from the master" << std::endl; }

 private:
  bool all_launched() const { return launched_ >= config_.tasks; }

  TaskInfo make_task(const Offer& offer, int index) const {
    std::string id = "example-" + std::to_string(index);
    return shell_task(offer, id, id, config_.task_resources, config_.command);
  }

  void finish(SchedulerDriver& driver) {
    say("finished=" + std::to_string(finished_) + " failed=" + std::to_string(failed_));
    *exit_code_ = finished_ == config_.tasks ? EXIT_ALL_FINISHED : EXIT_NOT_ALL_FINISHED;
    driver.stop();
  }

  Config config_;
  std::shared_ptr<int> exit_code_;
  int launched_ = 0;
  int finished_ = 0;
  int failed_ = 0;
  std::set<std::string> done_;
};

const daemon::Program PROGRAM{"stoa-example-framework", daemon::FlagErrors::PRINT_USAGE, EXIT_BAD_FLAGS};

int run(int argc, char** argv) {
  daemon::block_stop_signals();
  Flags flags;
  if (std::optional<int> done = daemon::load_flags(PROGRAM, flags, argc, argv)) {
    return *done;
  }
  if (!flags.master || flags.master->empty()) {
    return daemon::bad_flags(PROGRAM, flags, "Missing required flag --master");
  }
  if (flags.tasks < 0) {
    return daemon::bad_flags(PROGRAM, flags, "Invalid --tasks '" + std::to_string(flags.tasks) + "': must be >= 0");
  }
  Try<Resources> resources = Resources::parse(flags.task_resources);
  if (resources.is_error()) {
    return daemon::bad_flags(PROGRAM, flags, "Invalid --task_resources '" + flags.task_resources + "': " + resources.error());
  }
  if (resources->empty()) {
    return daemon::bad_flags(PROGRAM, flags, "Invalid --task_resources '" + flags.task_resources + "': no resources");
  }
  Config config;
  config.tasks = flags.tasks;
  config.command = flags.command;
  config.task_resources = *resources;
  config.launch_without_fit = flags.launch_without_fit;
  config.hold_offers = flags.hold_offers;

  RuntimeOptions ropts;
  ropts.ip = flags.ip;
  ropts.port = static_cast<uint16_t>(flags.port);
  set_addresses(&ropts, flags.port, flags.address);
  SchedulerOptions options;
  options.master = *flags.master;
  options.framework_info.set_name(flags.framework_name);
  options.framework_info.set_failover_timeout(std::chrono::duration<double>(flags.failover_timeout).count());
  options.framework_info.set_checkpoint(flags.checkpoint);
  if (flags.partition_aware) {
    options.framework_info.add_capabilities()->set_type(FrameworkInfo::Capability::PARTITION_AWARE);
  }
  auto exit_code = std::make_shared<int>(flags.hold_offers ? EXIT_ALL_FINISHED : EXIT_NOT_ALL_FINISHED);
  return daemon::run_tool(
      PROGRAM, ropts, "scheduler",
      [&](Runtime& rt) {
        return spawn_scheduler(rt, options, std::make_unique<ExampleScheduler>(std::move(config), exit_code));
      },
      [exit_code] { return *exit_code; });
}

}  // namespace
}  // namespace stoa

int main(int argc, char** argv) { return stoa::run(argc, argv); }
