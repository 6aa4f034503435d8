// stoa-chaos-checker: the chaos harness' framework (docs/chaos.md). It runs
// --tasks short tasks ("logical" tasks 0..N-1), each writing a unique token
// into its sandbox (`echo <token> > token`), and keeps an append-only record
// (JSON lines, --record) of everything it sees and does:
//
//   {"t":<ms>,"type":"subscribed","framework_id":..,"master_id":..,"master_pid":..}
//   {"t":<ms>,"type":"disconnected"}
//   {"t":<ms>,"type":"launch","task":..,"logical":k,"attempt":a,"slave":..,"token":..}
//   {"t":<ms>,"type":"update","task":..,"state":..,"uuid":..,"reason":..,"source":..,
//    "slave":..,"master_id":..}
//   {"t":<ms>,"type":"ack","task":..,"uuid":..}
//   {"t":<ms>,"type":"reconcile","tasks":[..]}
//   {"t":<ms>,"type":"done","launched":n}
//
// <ms> is wall-clock time (milliseconds since the epoch). "master_id" is the
// MasterInfo.id of the master whose SUBSCRIBED came last: the scheduler
// driver delivers events only from that master (framework/scheduler.hpp),
// so it is the master that sent the update.
//
// What a good framework does: acknowledgements are explicit (recorded before
// they are sent); a task that ends in any terminal state other than
// TASK_FINISHED (LOST, GONE, DROPPED, FAILED, ERROR, KILLED, or UNREACHABLE)
// is relaunched under a NEW task id ("chaos-<k>-<attempt>"); after every
// (re-)subscription, and every --reconcile_interval for tasks without news
// for that long, the non-terminal tasks are reconciled explicitly.
// Once every logical task has finished it records "done", stops its driver
// with failover (so the master keeps its tasks for the checks) and exits 0.

#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/daemon.hpp"
#include "common/flags.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/resources.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"
#include "framework/scheduler.hpp"
#include "framework/tools.hpp"

namespace stoa {
namespace {

constexpr int EXIT_DONE = 0;
constexpr int EXIT_NOT_DONE = 1;
constexpr int EXIT_BAD_FLAGS = 2;
// How long offers we cannot use now are declined for.
constexpr double DECLINE_SECONDS = 0.2;

struct CheckerFlags : FlagsBase {
  CheckerFlags() {
    add(&master, "master", "The master: host:port or zk://host:port,.../path (required).");
    add(&tasks, "tasks", "Logical tasks to finish (each once).", 100);
    check("tasks", at_least(1));
    add(&record, "record", "The record file (JSON lines, appended to; required).");
    add(&tasks_per_second, "tasks_per_second",
        "Launch at most this many tasks per second (0 = no limit).", 0.0);
    add(&task_resources, "task_resources", "Resources of each task.", "cpus:0.1;mem:16");
    add(&reconcile_interval, "reconcile_interval",
        "Reconcile tasks without news for this long, checked this often (> 0).",
        std::chrono::seconds(3));
    check("reconcile_interval", positive_duration());
    add(&zk_session_timeout, "zk_session_timeout", "ZooKeeper session timeout for a zk:// master.",
        std::chrono::seconds(10));
    check("zk_session_timeout", positive_duration());
    add(&ip, "ip", "IP address the scheduler's runtime binds.", "127.0.0.1");
  }
  std::optional<std::string> master;
  int tasks = 100;
  std::optional<std::string> record;
  double tasks_per_second = 0;
  std::string task_resources;
  Duration reconcile_interval;
  Duration zk_session_timeout;
  std::string ip;
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

struct Attempt {
  std::string id;
  int logical = 0;
  SlaveID slave;
  std::optional<TaskState> last;  // last state heard of
  int64_t last_news_ms = 0;
  bool terminal = false;
};

struct Config {
  int tasks = 0;
  std::string record;
  double tasks_per_second = 0;
  Resources task_resources;
  std::chrono::milliseconds reconcile_interval{0};
};

class ChaosChecker : public Scheduler {
 public:
  ChaosChecker(Config config, std::shared_ptr<int> exit_code)
      : config_(std::move(config)),
        exit_code_(std::move(exit_code)),
        out_(config_.record, std::ios::app) {
    for (int k = 0; k < config_.tasks; ++k) {
      pending_.push_back(k);
    }
    attempts_of_.resize(static_cast<size_t>(config_.tasks), 0);
    finished_.resize(static_cast<size_t>(config_.tasks), false);
  }

  void started(SchedulerDriver& driver) override {
    start_ms_ = now_ms();
    schedule_reconciliation(driver);
  }

  void subscribed(SchedulerDriver& driver, const FrameworkID& id,
                  const MasterInfo& master) override {
    master_id_ = master.id();
    picojson::object o = line("subscribed");
    o["framework_id"] = picojson::value(id.value());
    o["master_id"] = picojson::value(master.id());
    o["master_pid"] = picojson::value(master.pid());
    write(o);
    reconcile(driver, 0);
  }

  void disconnected(SchedulerDriver&) override {
    master_id_.clear();
    write(line("disconnected"));
  }

  void offers(SchedulerDriver& driver, const std::vector<Offer>& offers) override {
    for (const Offer& offer : offers) {
      Try<Resources> offered = Resources::from_proto(offer.resources());
      Resources remaining = offered.is_error() ? Resources() : offered->flatten();
      std::vector<TaskInfo> tasks;
      while (!pending_.empty() && allowed_launches() > 0 &&
             remaining.contains(config_.task_resources)) {
        remaining -= config_.task_resources;
        int k = pending_.front();
        pending_.pop_front();
        tasks.push_back(make_task(offer, k));
      }
      if (tasks.empty()) {
        driver.decline(offer.id(), refuse(DECLINE_SECONDS));
      } else {
        driver.launch({offer.id()}, tasks, refuse(DECLINE_SECONDS));
      }
    }
  }

  void update(SchedulerDriver& driver, const TaskStatus& status) override {
    const std::string& id = status.task_id().value();
    std::string uuid = status.has_uuid() ? hex(status.uuid()) : "";
    picojson::object o = line("update");
    o["task"] = picojson::value(id);
    o["state"] = picojson::value(TaskState_Name(status.state()));
    o["uuid"] = picojson::value(uuid);
    o["reason"] =
        picojson::value(status.has_reason() ? TaskStatus::Reason_Name(status.reason()) : "");
    o["source"] =
        picojson::value(status.has_source() ? TaskStatus::Source_Name(status.source()) : "");
    o["slave"] = picojson::value(status.slave_id().value());
    o["master_id"] = picojson::value(master_id_);
    write(o);
    if (!uuid.empty()) {
      picojson::object ack = line("ack");
      ack["task"] = picojson::value(id);
      ack["uuid"] = picojson::value(uuid);
      write(ack);
      driver.acknowledge(status.slave_id(), status.task_id(), status.uuid());
    }
    auto it = attempts_.find(id);
    if (it == attempts_.end()) {
      LOG_WARNING << "Update for unknown task " << id;
      return;
    }
    Attempt& a = it->second;
    a.last = status.state();
    a.last_news_ms = now_ms();
    bool ends = is_terminal_state(status.state()) || status.state() == TASK_UNREACHABLE;
    if (!ends || a.terminal) {
      return;
    }
    a.terminal = true;
    size_t k = static_cast<size_t>(a.logical);
    if (status.state() == TASK_FINISHED) {
      if (!finished_[k]) {
        finished_[k] = true;
        ++finished_count_;
      }
    } else if (!finished_[k]) {
      LOG_INFO << "Relaunching logical task " << a.logical << " after "
               << TaskState_Name(status.state()) << " of " << id;
      pending_.push_back(a.logical);
      driver.revive();
    }
    if (finished_count_ == config_.tasks && !done_) {
      done_ = true;
      picojson::object d = line("done");
      d["launched"] = picojson::value(static_cast<double>(attempts_.size()));
      write(d);
      *exit_code_ = EXIT_DONE;
      driver.stop(true);
    }
  }

  void error(SchedulerDriver&, const std::string& message) override {
    LOG_ERROR << "Error from the master: " << message;
    picojson::object o = line("error");
    o["message"] = picojson::value(message);
    write(o);
  }

 private:
  picojson::object line(const std::string& type) {
    picojson::object o;
    o["t"] = picojson::value(static_cast<double>(now_ms()));
    o["type"] = picojson::value(type);
    return o;
  }

  // Appends one line and flushes: the record survives a kill of this process.
  void write(const picojson::object& o) {
    out_ << json_serialize(picojson::value(o)) << '\n';
    out_.flush();
  }

  int64_t allowed_launches() const {
    if (config_.tasks_per_second <= 0) {
      return INT64_MAX;
    }
    double elapsed = static_cast<double>(now_ms() - start_ms_) / 1000.0;
    return static_cast<int64_t>(elapsed * config_.tasks_per_second) + 1 - launches_;
  }

  TaskInfo make_task(const Offer& offer, int k) {
    int attempt = attempts_of_[static_cast<size_t>(k)]++;
    std::string id = "chaos-" + std::to_string(k) + "-" + std::to_string(attempt);
    std::string token = id + "-" + random_uuid();
    Attempt a;
    a.id = id;
    a.logical = k;
    a.slave = offer.slave_id();
    a.last_news_ms = now_ms();
    attempts_[id] = a;
    ++launches_;
    picojson::object o = line("launch");
    o["task"] = picojson::value(id);
    o["logical"] = picojson::value(static_cast<double>(k));
    o["attempt"] = picojson::value(static_cast<double>(attempt));
    o["slave"] = picojson::value(offer.slave_id().value());
    o["token"] = picojson::value(token);
    write(o);
    return shell_task(offer, id, id, config_.task_resources, "echo " + token + " > token");
  }

  // Reconciles the non-terminal tasks without news for `quiet_ms`.
  void reconcile(SchedulerDriver& driver, int64_t quiet_ms) {
    std::vector<TaskStatus> statuses;
    picojson::array ids;
    int64_t now = now_ms();
    for (const auto& [id, a] : attempts_) {
      if (a.terminal || now - a.last_news_ms < quiet_ms) {
        continue;
      }
      TaskStatus s;
      s.mutable_task_id()->set_value(id);
      *s.mutable_slave_id() = a.slave;
      s.set_state(a.last.value_or(TASK_STAGING));
      statuses.push_back(s);
      ids.emplace_back(id);
    }
    if (statuses.empty()) {
      return;
    }
    picojson::object o = line("reconcile");
    o["tasks"] = picojson::value(ids);
    write(o);
    driver.reconcile(statuses);
  }

  void schedule_reconciliation(SchedulerDriver& driver) {
    driver.after(config_.reconcile_interval, [this, &driver] {
      if (!master_id_.empty()) {
        reconcile(driver, config_.reconcile_interval.count());
      }
      schedule_reconciliation(driver);
    });
  }

  Config config_;
  std::shared_ptr<int> exit_code_;
  std::ofstream out_;
  std::deque<int> pending_;
  std::vector<int> attempts_of_;
  std::vector<bool> finished_;
  std::map<std::string, Attempt> attempts_;
  std::string master_id_;
  int finished_count_ = 0;
  int64_t launches_ = 0;
  int64_t start_ms_ = 0;
  bool done_ = false;
};

const daemon::Program PROGRAM{"stoa-chaos-checker", daemon::FlagErrors::PRINT_USAGE,
                              EXIT_BAD_FLAGS};

int run(int argc, char** argv) {
  daemon::block_stop_signals();
  CheckerFlags flags;
  if (std::optional<int> done = daemon::load_flags(PROGRAM, flags, argc, argv)) {
    return *done;
  }
  if (!flags.master || flags.master->empty()) {
    return daemon::bad_flags(PROGRAM, flags, "Missing required flag --master");
  }
  if (!flags.record || flags.record->empty()) {
    return daemon::bad_flags(PROGRAM, flags, "Missing required flag --record");
  }
  if (flags.tasks_per_second < 0) {
    return daemon::bad_flags(PROGRAM, flags,
                             "Invalid --tasks_per_second '" +
                                 std::to_string(flags.tasks_per_second) + "': must be >= 0");
  }
  Try<Resources> resources = Resources::parse(flags.task_resources);
  if (resources.is_error() || resources->empty()) {
    return daemon::bad_flags(
        PROGRAM, flags,
        "Invalid --task_resources '" + flags.task_resources +
            "': " + (resources.is_error() ? resources.error() : std::string("no resources")));
  }
  {
    std::ofstream probe(*flags.record, std::ios::app);
    if (!probe) {
      return daemon::bad_flags(PROGRAM, flags,
                               "Cannot open --record '" + *flags.record + "' for appending");
    }
  }
  Config config;
  config.tasks = flags.tasks;
  config.record = *flags.record;
  config.tasks_per_second = flags.tasks_per_second;
  config.task_resources = *resources;
  config.reconcile_interval =
      std::chrono::duration_cast<std::chrono::milliseconds>(flags.reconcile_interval);

  RuntimeOptions ropts;
  ropts.ip = flags.ip;
  SchedulerOptions options;
  options.master = *flags.master;
  options.zk_session_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(flags.zk_session_timeout);
  options.implicit_acknowledgements = false;
  options.subscribe_backoff = std::chrono::milliseconds(500);
  options.resolve_backoff = std::chrono::milliseconds(100);
  options.resolve_backoff_max = std::chrono::seconds(1);
  options.framework_info.set_name("stoa-chaos-checker");
  options.framework_info.set_checkpoint(true);
  options.framework_info.set_failover_timeout(
      std::chrono::duration<double>(std::chrono::hours(24)).count());
  auto exit_code = std::make_shared<int>(EXIT_NOT_DONE);
  return daemon::run_tool(
      PROGRAM, ropts, "scheduler",
      [&](Runtime& rt) {
        return spawn_scheduler(rt, options,
                               std::make_unique<ChaosChecker>(std::move(config), exit_code));
      },
      [exit_code] { return *exit_code; });
}

}  // namespace
}  // namespace stoa

int main(int argc, char** argv) { return stoa::run(argc, argv); }
