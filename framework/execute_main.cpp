// stoa-execute: runs one shell command as a task (Mesos' mesos-execute).
//
//   stoa-execute --master=127.0.0.1:5050 --name=web --command="echo hi"
//   stoa-execute --master=zk://zk1:2181,zk2:2181/mesos --failover_timeout=1mins ...
//   stoa-execute --master=127.0.0.1:5050 --task=task.json   (a whole TaskInfo, e.g. with a health_check)
//
// Prints one line per status update ("Received status update TASK_RUNNING for
// task web-1a2b3c4d"). Exit status: 0 only for TASK_FINISHED; 1 for any other
// terminal state, a master error, or SIGINT/SIGTERM (the task is killed first);
// 2 for bad flags; 124 when --timeout expires.

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <google/protobuf/util/json_util.h>

#include "actors/daemon.hpp"
#include "common/json.hpp"
#include "common/flags.hpp"
#include "common/logging.hpp"
#include "common/resources.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"
#include "framework/scheduler.hpp"
#include "framework/tools.hpp"

namespace stoa {
namespace {

constexpr int EXIT_FINISHED = 0;
constexpr int EXIT_NOT_FINISHED = 1;
constexpr int EXIT_BAD_FLAGS = 2;
constexpr int EXIT_TIMED_OUT = 124;

// Offers are declined for this long once the task is launched (we need no more).
constexpr double LONG_REFUSE_SECONDS = 3600;
// Offers too small for the task are declined for this long (resources may free up).
constexpr double SHORT_REFUSE_SECONDS = 1;
// After a kill (signal, --timeout) we wait this long for the terminal update.
constexpr auto KILL_DEADLINE = std::chrono::seconds(10);

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
    add(&name, "name", "Name of the task; the task id is <name>-<short uuid> (required).");
    add(&command, "command", "Shell command to run as the task (required).");
    add(&resources, "resources", "Resources of the task, e.g. \"cpus:0.1;mem:32\".", "cpus:0.1;mem:32");
    add(&framework_name, "framework_name", "Name of the framework.", "stoa-execute");
    add(&checkpoint, "checkpoint",
        "Ask the slave to checkpoint the task, so it survives a slave restart (FrameworkInfo.checkpoint).", false);
    add(&role, "role", "Role the framework subscribes with.", "*");
    add(&kill_after, "kill_after",
        "Kill the task this long after it reaches TASK_RUNNING (e.g. \"10secs\"). Default: never.");
    add(&timeout, "timeout",
        "Give up after this long (e.g. \"1mins\"): the task is killed and stoa-execute exits 124. Default: never.");
    add(&task, "task",
        "The task as a JSON TaskInfo, or the path of a file holding one (Mesos' --task), e.g. with a "
        "health_check. Replaces --name and --command; task_id defaults to <name>-<short uuid>, slave_id is the "
        "offer's, and --resources applies when it lists none.");
    add(&ip, "ip",
        "IP address the scheduler's runtime binds (and, unless --advertise_ip, the master connects back to; "
        "0.0.0.0 advertises a routable address).",
        "127.0.0.1");
    check("ip", ipv4_address());
    add_framework_address_flags("ip", &port, &address);
    add(&docker_image, "docker_image",
        "Run the command in a Docker container of this image (ContainerInfo type DOCKER; the slave needs "
        "--containerizers with docker). With --task, sets its container's image.");
    check("docker_image", non_empty());
  }
  std::optional<std::string> master;
  Duration failover_timeout;
  std::optional<std::string> name;
  std::optional<std::string> command;
  std::string resources;
  std::string framework_name;
  std::string role;
  bool checkpoint = false;
  std::optional<std::string> kill_after;
  std::optional<std::string> timeout;
  std::optional<std::string> task;
  std::string ip;
  int port = 0;
  AddressFlags address;
  std::optional<std::string> docker_image;

  std::optional<Error> validate() const override { return check_address_flags(port, address); }
};

std::chrono::milliseconds to_millis(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); }

struct Config {
  std::string name;
  std::string command;
  Resources resources;
  std::optional<Duration> kill_after;
  std::optional<Duration> timeout;
  // From --task: the task to launch, without its slave_id.
  std::optional<TaskInfo> task;
  std::optional<std::string> docker_image;
};

// --task: JSON text, or the path of a file holding it. task_id defaults to
// <name>-<short uuid>. The error names what is wrong.
Try<TaskInfo> parse_task_flag(const std::string& value) {
  std::string text = value;
  if (!value.empty() && value[0] != '{') {
    std::ifstream in(value);
    if (!in) {
      return Error("'" + value + "' is neither a JSON object nor a readable file");
    }
    std::stringstream buf;
    buf << in.rdbuf();
    text = buf.str();
  }
  Try<picojson::value> json = json_parse(text);
  if (json.is_error()) {
    return Error("invalid JSON: " + json.error());
  }
  if (!json->is<picojson::object>()) {
    return Error("expected a JSON object (a TaskInfo)");
  }
  picojson::object& o = json->get<picojson::object>();
  if (!o.count("name") || !o["name"].is<std::string>() || o["name"].get<std::string>().empty()) {
    return Error("the TaskInfo needs a non-empty \"name\"");
  }
  if (!o.count("task_id")) {
    picojson::object id;
    id["value"] = picojson::value(o["name"].get<std::string>() + "-" + random_uuid().substr(0, 8));
    o["task_id"] = picojson::value(id);
  }
  picojson::object slave;
  slave["value"] = picojson::value(std::string("set from the offer"));
  o["slave_id"] = picojson::value(slave);
  TaskInfo task;
  auto status = google::protobuf::util::JsonStringToMessage(json_serialize(*json), &task);
  if (!status.ok()) {
    return Error("not a TaskInfo: " + status.ToString());
  }
  if (!task.has_command()) {
    return Error("the TaskInfo needs a \"command\"");
  }
  return task;
}

class ExecuteScheduler : public Scheduler {
 public:
  ExecuteScheduler(Config config, std::shared_ptr<int> exit_code)
      : config_(std::move(config)), exit_code_(std::move(exit_code)) {
    task_id_.set_value(config_.task ? config_.task->task_id().value()
                                    : config_.name + "-" + random_uuid().substr(0, 8));
  }

  void started(SchedulerDriver& driver) override {
    if (config_.timeout) {
      driver.after(to_millis(*config_.timeout), [this, &driver] {
        std::cerr << "Timed out after " << format_duration(*config_.timeout) << std::endl;
        give_up(driver, EXIT_TIMED_OUT);
      });
    }
  }

  void subscribed(SchedulerDriver&, const FrameworkID& id, const MasterInfo&) override {
    say("Subscribed with framework ID " + id.value());
  }

  void offers(SchedulerDriver& driver, const std::vector<Offer>& offers) override {
    for (const Offer& offer : offers) {
      if (launched_ || stopping_) {
        driver.decline(offer.id(), refuse(LONG_REFUSE_SECONDS));
        continue;
      }
      Try<Resources> offered = Resources::from_proto(offer.resources());
      if (offered.is_error() || !offered->flatten().contains(config_.resources)) {
        driver.decline(offer.id(), refuse(SHORT_REFUSE_SECONDS));
        continue;
      }
      TaskInfo task = shell_task(offer, config_.name, task_id_.value(), config_.resources, config_.command);
      if (config_.task) {
        // The given TaskInfo, with shell_task's resources (allocation info included) and slave.
        TaskInfo given = *config_.task;
        *given.mutable_slave_id() = task.slave_id();
        *given.mutable_resources() = task.resources();
        task = std::move(given);
      }
      if (config_.docker_image) {
        task.mutable_container()->set_type(ContainerInfo::DOCKER);
        task.mutable_container()->mutable_docker()->set_image(*config_.docker_image);
      }
      driver.launch({offer.id()}, {task}, refuse(LONG_REFUSE_SECONDS));
      launched_ = true;
      slave_id_ = offer.slave_id();
      say("Submitted task '" + config_.name + "' as " + task_id_.value() + " to slave " + offer.slave_id().value());
    }
  }

  void update(SchedulerDriver& driver, const TaskStatus& status) override {
    if (status.task_id().value() != task_id_.value()) {
      return;
    }
    std::string line =
        "Received status update " + TaskState_Name(status.state()) + " for task " + status.task_id().value();
    if (!status.message().empty()) {
      line += ": " + status.message();
    }
    if (status.has_reason()) {
      line += " (" + TaskStatus::Reason_Name(status.reason()) + ")";
    }
    if (status.has_healthy()) {
      line += status.healthy() ? " [healthy]" : " [unhealthy]";
    }
    say(line);
    if (status.state() == TASK_RUNNING && config_.kill_after && !kill_timer_) {
      kill_timer_ = driver.after(to_millis(*config_.kill_after), [this, &driver] {
        say("Killing task " + task_id_.value() + " after " + format_duration(*config_.kill_after));
        driver.kill(task_id_, slave_id_);
      });
    }
    if (is_terminal_state(status.state())) {
      if (!forced_exit_) {
        *exit_code_ = status.state() == TASK_FINISHED ? EXIT_FINISHED : EXIT_NOT_FINISHED;
      }
      driver.stop();
    }
  }

  void error(SchedulerDriver&, const std::string& message) override {
    std::cerr << "Error from the master: " << message << std::endl;
    if (!forced_exit_) {
      *exit_code_ = EXIT_NOT_FINISHED;
    }
  }

  void disconnected(SchedulerDriver&) override { std::cerr << "Disconnected from the master" << std::endl; }

  void signaled(SchedulerDriver& driver, int signo) override {
    std::cerr << "Received signal " << signo << ((launched_ && !stopping_) ? "; killing the task" : "") << std::endl;
    give_up(driver, EXIT_NOT_FINISHED);
  }

 private:
  // Kills the task (if launched) and exits with `code` after its terminal
  // update or KILL_DEADLINE, whichever comes first.
  void give_up(SchedulerDriver& driver, int code) {
    if (!forced_exit_) {
      forced_exit_ = true;
      *exit_code_ = code;
    }
    if (!launched_ || stopping_) {
      driver.stop();
      return;
    }
    stopping_ = true;
    driver.kill(task_id_, slave_id_);
    driver.after(KILL_DEADLINE, [&driver] {
      std::cerr << "No terminal update within " << format_duration(KILL_DEADLINE) << " of the kill; exiting"
                << std::endl;
      driver.stop();
    });
  }

  Config config_;
  std::shared_ptr<int> exit_code_;
  TaskID task_id_;
  std::optional<SlaveID> slave_id_;
  bool launched_ = false;
  bool stopping_ = false;     // killing on the way out
  bool forced_exit_ = false;  // the exit code was fixed by a signal or the timeout
  std::optional<uint64_t> kill_timer_;
};

const daemon::Program PROGRAM{"stoa-execute", daemon::FlagErrors::PRINT_USAGE, EXIT_BAD_FLAGS};

int run(int argc, char** argv) {
  daemon::block_stop_signals();
  Flags flags;
  if (std::optional<int> done = daemon::load_flags(PROGRAM, flags, argc, argv)) {
    return *done;
  }
  Config config;
  if (flags.task) {
    if (flags.name || flags.command) {
      return daemon::bad_flags(PROGRAM, flags, "--task replaces --name and --command: give one or the other");
    }
    Try<TaskInfo> task = parse_task_flag(*flags.task);
    if (task.is_error()) {
      return daemon::bad_flags(PROGRAM, flags, "Invalid --task: " + task.error());
    }
    flags.name = task->name();
    flags.command = task->command().value();
    if (task->resources_size() > 0) {
      Try<Resources> given = Resources::from_proto(task->resources());
      if (given.is_error()) {
        return daemon::bad_flags(PROGRAM, flags, "Invalid --task: its resources: " + given.error());
      }
      flags.resources = given->to_string();
    }
    config.task = std::move(*task);
  }
  for (auto [value, name] : {std::pair{&flags.master, "master"}, {&flags.name, "name"}, {&flags.command, "command"}}) {
    if (!*value || (*value)->empty()) {
      return daemon::bad_flags(PROGRAM, flags, std::string("Missing required flag --") + name);
    }
  }
  config.name = *flags.name;
  config.command = *flags.command;
  config.docker_image = flags.docker_image;
  Try<Resources> resources = Resources::parse(flags.resources);
  if (resources.is_error()) {
    return daemon::bad_flags(PROGRAM, flags, "Invalid --resources '" + flags.resources + "': " + resources.error());
  }
  if (resources->empty()) {
    return daemon::bad_flags(PROGRAM, flags, "Invalid --resources '" + flags.resources + "': no resources");
  }
  config.resources = *resources;
  for (auto [text, out, name] : {std::tuple{&flags.kill_after, &config.kill_after, "kill_after"},
                                 {&flags.timeout, &config.timeout, "timeout"}}) {
    if (*text) {
      Try<Duration> d = parse_duration(**text);
      if (d.is_error()) {
        return daemon::bad_flags(PROGRAM, flags, std::string("Invalid --") + name + " '" + **text + "': " + d.error());
      }
      *out = *d;
    }
  }
  if (flags.role.empty()) {
    return daemon::bad_flags(PROGRAM, flags, "Invalid --role: empty");
  }

  RuntimeOptions ropts;
  ropts.ip = flags.ip;
  ropts.port = static_cast<uint16_t>(flags.port);
  set_addresses(&ropts, flags.port, flags.address);
  SchedulerOptions options;
  options.master = *flags.master;
  options.framework_info.set_name(flags.framework_name);
  options.framework_info.set_failover_timeout(std::chrono::duration<double>(flags.failover_timeout).count());
  options.framework_info.set_role(flags.role);
  options.framework_info.set_checkpoint(flags.checkpoint);
  auto exit_code = std::make_shared<int>(EXIT_NOT_FINISHED);
  return daemon::run_tool(
      PROGRAM, ropts, "scheduler",
      [&](Runtime& rt) {
        return spawn_scheduler(rt, options, std::make_unique<ExecuteScheduler>(std::move(config), exit_code));
      },
      [exit_code] { return *exit_code; });
}

}  // namespace
}  // namespace stoa

int main(int argc, char** argv) { return stoa::run(argc, argv); }
