#include "slave/slave.hpp"

#include <csignal>
#include <unistd.h>

#include <deque>
#include <map>
#include <random>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <picojson.h>

#include "actors/actor_route.hpp"
#include "actors/atoms.hpp"
#include "actors/http.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "common/attributes.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"
#include "common/version.hpp"
#include "slave/cleaner.hpp"
#include "slave/launcher.hpp"
#include "slave/paths.hpp"
#include "slave/reaper.hpp"
#include "slave/status_update_manager.hpp"

namespace stoa::slave {

using namespace stoa::internal;

namespace {

constexpr auto MAX_REGISTRATION_BACKOFF = std::chrono::seconds(60);
constexpr size_t MAX_COMPLETED_TASKS = 200;
constexpr size_t MAX_COMPLETED_FRAMEWORKS = 50;
// Without a ping from the master for this long (Mesos: 15 s x 5), the slave
// takes the master for lost and re-registers (a one-way partition).
constexpr auto MASTER_PING_TIMEOUT = std::chrono::seconds(75);

struct Executor {
  enum class Phase { LAUNCHING, RUNNING, TERMINATING, TERMINATED };
  std::string framework_id;
  std::string executor_id;
  std::string container_id;
  std::string directory;
  pid_t pid = -1;
  caf::actor handle;
  Phase phase = Phase::LAUNCHING;
  std::map<std::string, TaskInfo> queued;    // not yet sent to the executor
  std::map<std::string, Task> tasks;         // sent to the executor
  std::vector<Task> completed;
  Resources resources;
};

struct Framework {
  FrameworkInfo info;
  std::string pid;
  std::map<std::string, Executor> executors;  // by executor id
  std::vector<Executor> completed_executors;
  bool shutting_down = false;  // the master removed it; archived once its executors are gone
};

class Slave {
 public:
  // User-declared so CAF default-constructs the state (an aggregate would be
  // built from the actor pointer in C++20).
  Slave() = default;

  caf::stateful_actor<Slave>* self = nullptr;
  caf::actor router;
  caf::actor cleaner;  // kills container leftovers off this thread (slave/cleaner.hpp)
  SlaveOptions opts;
  // Messages dropped because of who sent them (served at /metrics/snapshot
  // as slave/dropped_messages).
  double dropped_messages = 0;

  size_t executors_running() const {
    size_t n = 0;
    for (const auto& [fid, f] : frameworks) {
      n += f.executors.size();
    }
    return n;
  }

  // Logs and counts a message the slave refuses because of its sender.
  void drop_message(const char* what, const char* rule) {
    ++dropped_messages;
    const caf::strong_actor_ptr& sender = self->current_sender();
    LOG_WARNING << "Dropping " << what << " from "
                << (sender ? caf::to_string(sender->address()) : std::string("an anonymous sender"))
                << ": " << rule;
  }

  // Timers are accepted only from the slave itself.
  bool from_self(const char* what) {
    if (self->current_sender() == self->ctrl()) {
      return true;
    }
    drop_message(what, "only the slave itself may send it");
    return false;
  }

  // Reapers and HTTP routes are actors of this process.
  bool from_this_process(const char* what) {
    const caf::strong_actor_ptr& sender = self->current_sender();
    if (sender && sender->node() == self->node()) {
      return true;
    }
    drop_message(what, "only actors of this process may send it");
    return false;
  }
  SlaveInfo info;
  std::string slave_id;
  bool registered = false;
  caf::actor master;
  bool resolving = false;
  std::chrono::nanoseconds backoff{0};
  uint64_t connection_generation = 0;
  uint64_t ping_generation = 0;
  std::map<std::string, Framework> frameworks;
  std::deque<Framework> completed_frameworks;
  std::map<std::string, std::pair<std::string, std::string>> containers;  // cid -> (fid, eid)
  StatusUpdateManager updates;
  double start_time = 0;
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "slave";

  // --- registration ---------------------------------------------------------

  void detect_master() {
    if (resolving) {
      return;
    }
    resolving = true;
    uint64_t gen = ++connection_generation;
    self->request(router, RESOLVE_TIMEOUT, resolve_atom_v, opts.master.str())
        .then(
            [this, gen](const caf::actor& m) {
              resolving = false;
              if (gen != connection_generation) {
                return;
              }
              master = m;
              self->monitor(master);
              backoff = opts.flags.registration_backoff_factor;
              LOG_INFO << "Detected master " << opts.master.str();
              send_registration();
            },
            [this, gen](caf::error& e) {
              resolving = false;
              if (gen != connection_generation) {
                return;
              }
              LOG_WARNING << "Cannot reach master " << opts.master.str() << ": "
                          << self->system().render(e) << "; retrying";
              schedule_retry();
            });
  }

  void schedule_retry() {
    if (backoff.count() == 0) {
      backoff = opts.flags.registration_backoff_factor;
    }
    std::uniform_int_distribution<int64_t> d(0, std::max<int64_t>(1, backoff.count()));
    auto wait = std::chrono::nanoseconds(d(rng));
    backoff = std::min<std::chrono::nanoseconds>(backoff * 2, MAX_REGISTRATION_BACKOFF);
    self->delayed_send(self, wait, retry_atom_v, connection_generation);
  }

  void on_retry(uint64_t gen) {
    if (gen != connection_generation || registered) {
      return;
    }
    if (!master) {
      detect_master();
    } else {
      send_registration();
    }
  }

  void send_registration() {
    if (!master) {
      return;
    }
    if (slave_id.empty()) {
      RegisterSlaveMessage m;
      *m.mutable_slave() = info;
      m.set_version(STOA_VERSION);
      m.set_pid(opts.upid.str());
      self->send(master, m);
    } else {
      ReregisterSlaveMessage m;
      *m.mutable_slave() = info;
      m.mutable_slave()->mutable_id()->set_value(slave_id);
      m.set_version(STOA_VERSION);
      m.set_pid(opts.upid.str());
      for (auto& [fid, f] : frameworks) {
        *m.add_frameworks() = f.info;
        for (auto& [eid, e] : f.executors) {
          for (auto& [tid, t] : e.tasks) {
            *m.add_tasks() = t;
          }
          for (auto& [tid, ti] : e.queued) {
            Task t = make_task(ti, fid, TASK_STAGING);
            *m.add_tasks() = t;
          }
        }
      }
      self->send(master, m);
    }
    schedule_retry();
  }

  void on_registered(const std::string& id, bool reregistered) {
    if (!slave_id.empty() && id != slave_id) {
      LOG_ERROR << "Registered with a different id " << id << " than " << slave_id << "; exiting";
      ::kill(::getpid(), SIGTERM);
      return;
    }
    bool first = !registered;
    registered = true;
    slave_id = id;
    info.mutable_id()->set_value(id);
    if (first) {
      LOG_INFO << (reregistered ? "Re-registered" : "Registered") << " with master "
               << opts.master.str() << " as " << id;
    }
    // Resume status updates held while disconnected.
    for (const auto& key : updates.streams()) {
      if (const StatusUpdate* u = updates.head(key)) {
        forward(*u);
      }
    }
  }

  void on_master_down() {
    LOG_WARNING << "Lost the master " << opts.master.str() << "; re-registering";
    master = caf::actor{};
    registered = false;
    backoff = opts.flags.registration_backoff_factor;
    ++connection_generation;
    schedule_retry();
  }

  // --- tasks ----------------------------------------------------------------

  Task make_task(const TaskInfo& ti, const std::string& fid, TaskState state) {
    Task t;
    t.set_name(ti.name());
    *t.mutable_task_id() = ti.task_id();
    t.mutable_framework_id()->set_value(fid);
    t.mutable_executor_id()->set_value("");
    t.mutable_slave_id()->set_value(slave_id);
    t.set_state(state);
    *t.mutable_resources() = ti.resources();
    if (ti.has_labels()) {
      *t.mutable_labels() = ti.labels();
    }
    return t;
  }

  // An update the slave itself generates (the executor could not).
  void slave_update(const std::string& fid, const std::string& eid, const TaskID& task_id,
                    TaskState state, TaskStatus::Reason reason, const std::string& message) {
    StatusUpdate u;
    u.mutable_framework_id()->set_value(fid);
    u.mutable_executor_id()->set_value(eid);
    u.mutable_slave_id()->set_value(slave_id);
    std::string uuid = random_uuid_bytes();
    TaskStatus* s = u.mutable_status();
    *s->mutable_task_id() = task_id;
    s->set_state(state);
    s->set_reason(reason);
    s->set_source(TaskStatus::SOURCE_SLAVE);
    s->set_message(message);
    s->set_timestamp(now_seconds());
    s->mutable_slave_id()->set_value(slave_id);
    s->set_uuid(uuid);
    u.set_timestamp(now_seconds());
    u.set_uuid(uuid);
    handle_update(u);
  }

  void on_run_task(RunTaskMessage& m) {
    const TaskInfo& ti = m.task();
    const std::string fid = m.framework_id().value();
    const std::string tid = ti.task_id().value();
    if (!registered) {
      LOG_WARNING << "Ignoring task " << tid << ": not registered";
      return;
    }
    Framework& f = frameworks[fid];
    f.info = m.framework();
    f.shutting_down = false;
    f.pid = m.pid();
    std::string eid = tid;  // the command executor is named after its task
    if (auto err = validate_path_id("task id", tid)) {
      slave_update(fid, eid, ti.task_id(), TASK_FAILED, TaskStatus::REASON_CONTAINER_LAUNCH_FAILED,
                   err->message);
      return;
    }
    if (f.executors.count(eid)) {
      slave_update(fid, eid, ti.task_id(), TASK_FAILED, TaskStatus::REASON_TASK_INVALID,
                   "An executor named " + eid + " is already running");
      return;
    }
    Executor e;
    e.framework_id = fid;
    e.executor_id = eid;
    e.container_id = random_uuid();
    Try<std::string> dir = create_sandbox(opts.flags.work_dir, slave_id, fid, eid, e.container_id);
    if (dir.is_error()) {
      slave_update(fid, eid, ti.task_id(), TASK_FAILED, TaskStatus::REASON_CONTAINER_LAUNCH_FAILED,
                   "Cannot create the sandbox: " + dir.error());
      return;
    }
    e.directory = *dir;
    e.queued[tid] = ti;
    Try<Resources> r = Resources::from_proto(ti.resources());
    if (r.is_some()) {
      e.resources = *r;
    }
    LaunchSpec spec;
    spec.argv = {opts.executor_path};
    spec.working_dir = e.directory;
    spec.stdout_path = e.directory + "/stdout";
    spec.stderr_path = e.directory + "/stderr";
    spec.env = {
        {"STOA_SLAVE_PID", opts.upid.str()},  {"STOA_SLAVE_ID", slave_id},
        {"STOA_SLAVE_ACTOR_PORT", std::to_string(opts.actor_port)},
        {"STOA_EXECUTOR_REGISTRATION_TIMEOUT",
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            opts.flags.executor_registration_timeout).count()) + "ms"},
        {"STOA_FRAMEWORK_ID", fid},           {"STOA_EXECUTOR_ID", eid},
        {"STOA_CONTAINER_ID", e.container_id}, {"STOA_DIRECTORY", e.directory},
        {"STOA_EXECUTOR_IP", opts.upid.host}, {"MESOS_SANDBOX", e.directory},
        {"MESOS_DIRECTORY", e.directory},     {"MESOS_FRAMEWORK_ID", fid},
        {"MESOS_EXECUTOR_ID", eid},           {"MESOS_SLAVE_ID", slave_id},
    };
    Try<pid_t> pid = launch(spec);
    if (pid.is_error()) {
      slave_update(fid, eid, ti.task_id(), TASK_FAILED, TaskStatus::REASON_CONTAINER_LAUNCH_FAILED,
                   "Cannot launch the executor: " + pid.error());
      return;
    }
    e.pid = *pid;
    containers[e.container_id] = {fid, eid};
    spawn_reaper(self->system(), e.pid, self, e.container_id);
    self->delayed_send(self, opts.flags.executor_registration_timeout, timeout_atom_v,
                       e.container_id);
    LOG_INFO << "Launched executor " << eid << " (pid " << e.pid << ") of framework " << fid
             << " in " << e.directory;
    f.executors.emplace(eid, std::move(e));
  }

  Executor* executor_by_container(const std::string& cid) {
    auto it = containers.find(cid);
    if (it == containers.end()) {
      return nullptr;
    }
    auto f = frameworks.find(it->second.first);
    if (f == frameworks.end()) {
      return nullptr;
    }
    auto e = f->second.executors.find(it->second.second);
    return e == f->second.executors.end() ? nullptr : &e->second;
  }

  Executor* executor_by_handle(const caf::actor_addr& addr) {
    for (auto& [fid, f] : frameworks) {
      for (auto& [eid, e] : f.executors) {
        if (e.handle && e.handle.address() == addr) {
          return &e;
        }
      }
    }
    return nullptr;
  }

  void on_register_executor(RegisterExecutorMessage& m) {
    caf::actor from = caf::actor_cast<caf::actor>(self->current_sender());
    if (!from) {
      return;
    }
    auto f = frameworks.find(m.framework_id().value());
    Executor* e = nullptr;
    if (f != frameworks.end()) {
      auto it = f->second.executors.find(m.executor_id().value());
      if (it != f->second.executors.end()) {
        e = &it->second;
      }
    }
    if (e != nullptr && e->phase == Executor::Phase::RUNNING && e->handle == from) {
      // A retried registration that crossed our answer: answer again.
      ExecutorRegisteredMessage again;
      again.mutable_executor_info()->mutable_executor_id()->set_value(e->executor_id);
      again.mutable_executor_info()->mutable_framework_id()->set_value(e->framework_id);
      *again.mutable_framework_id() = m.framework_id();
      *again.mutable_framework_info() = f->second.info;
      again.mutable_slave_id()->set_value(slave_id);
      *again.mutable_slave_info() = info;
      self->send(from, again);
      return;
    }
    if (e == nullptr || e->phase != Executor::Phase::LAUNCHING) {
      ShutdownExecutorMessage sm;
      *sm.mutable_executor_id() = m.executor_id();
      *sm.mutable_framework_id() = m.framework_id();
      self->send(from, sm);
      return;
    }
    e->handle = from;
    e->phase = Executor::Phase::RUNNING;
    self->monitor(from);
    ExecutorRegisteredMessage reply;
    reply.mutable_executor_info()->mutable_executor_id()->set_value(e->executor_id);
    reply.mutable_executor_info()->mutable_framework_id()->set_value(e->framework_id);
    *reply.mutable_framework_id() = m.framework_id();
    *reply.mutable_framework_info() = f->second.info;
    reply.mutable_slave_id()->set_value(slave_id);
    *reply.mutable_slave_info() = info;
    self->send(from, reply);
    for (auto& [tid, ti] : e->queued) {
      e->tasks[tid] = make_task(ti, e->framework_id, TASK_STAGING);
      RunTaskMessage run;
      *run.mutable_framework_id() = m.framework_id();
      *run.mutable_framework() = f->second.info;
      *run.mutable_task() = ti;
      run.set_pid(f->second.pid);
      self->send(from, run);
    }
    e->queued.clear();
  }

  void on_executor_update(StatusUpdateMessage& m) {
    caf::actor from = caf::actor_cast<caf::actor>(self->current_sender());
    if (!from) {
      return;  // anonymous: not from an executor
    }
    StatusUpdate u = m.update();
    if (u.uuid().empty()) {
      LOG_WARNING << "Dropping a status update without uuid from an executor";
      return;
    }
    u.mutable_slave_id()->set_value(slave_id);
    u.mutable_status()->mutable_slave_id()->set_value(slave_id);
    // The executor may forget the update once the slave has it.
    StatusUpdateAcknowledgementMessage ack;
    ack.mutable_slave_id()->set_value(slave_id);
    *ack.mutable_framework_id() = u.framework_id();
    *ack.mutable_task_id() = u.status().task_id();
    ack.set_uuid(u.uuid());
    self->send(from, ack);
    handle_update(u);
  }

  // Records the task's new state and queues the update for the master.
  void handle_update(StatusUpdate& u) {
    const std::string fid = u.framework_id().value();
    const std::string tid = u.status().task_id().value();
    auto f = frameworks.find(fid);
    if (f != frameworks.end()) {
      auto e = f->second.executors.find(u.executor_id().value());
      if (e != f->second.executors.end()) {
        auto t = e->second.tasks.find(tid);
        if (t != e->second.tasks.end()) {
          bool duplicate = false;
          for (const TaskStatus& seen : t->second.statuses()) {
            duplicate |= seen.uuid() == u.uuid();
          }
          if (!duplicate) {  // a re-sent update is recorded once
            t->second.set_state(u.status().state());
            TaskStatus s = u.status();
            s.clear_message();
            s.set_uuid(u.uuid());
            *t->second.add_statuses() = s;
          }
          u.set_latest_state(t->second.state());
        }
      }
    }
    if (updates.update(u)) {
      forward(u);
    }
  }

  void forward(const StatusUpdate& u) {
    if (!registered || !master) {
      return;  // re-sent on (re-)registration
    }
    StatusUpdateMessage m;
    *m.mutable_update() = u;
    m.set_pid(opts.upid.str());
    // The latest known state of the task, which may be newer than the head.
    if (Task* t = find_task(u.framework_id().value(), u.status().task_id().value())) {
      m.mutable_update()->set_latest_state(t->state());
    }
    self->send(master, m);
    self->delayed_send(self, STATUS_UPDATE_RETRY_INTERVAL_MIN, tick_atom_v, u.framework_id().value(),
                       u.status().task_id().value(), u.uuid(),
                       static_cast<int64_t>(std::chrono::nanoseconds(STATUS_UPDATE_RETRY_INTERVAL_MIN).count()));
  }

  void on_update_retry(const std::string& fid, const std::string& tid, const std::string& uuid,
                       int64_t interval_ns) {
    const StatusUpdate* head = updates.head({fid, tid});
    if (head == nullptr || head->uuid() != uuid || !registered || !master) {
      return;
    }
    StatusUpdateMessage m;
    *m.mutable_update() = *head;
    m.set_pid(opts.upid.str());
    self->send(master, m);
    auto next = std::min<std::chrono::nanoseconds>(std::chrono::nanoseconds(interval_ns * 2),
                                                   STATUS_UPDATE_RETRY_INTERVAL_MAX);
    self->delayed_send(self, next, tick_atom_v, fid, tid, uuid, static_cast<int64_t>(next.count()));
  }

  Task* find_task(const std::string& fid, const std::string& tid) {
    auto f = frameworks.find(fid);
    if (f == frameworks.end()) {
      return nullptr;
    }
    for (auto& [eid, e] : f->second.executors) {
      auto t = e.tasks.find(tid);
      if (t != e.tasks.end()) {
        return &t->second;
      }
    }
    return nullptr;
  }

  void on_acknowledgement(StatusUpdateAcknowledgementMessage& m) {
    bool matched = false;
    std::optional<StatusUpdate> next =
        updates.acknowledge(m.framework_id().value(), m.task_id().value(), m.uuid(), &matched);
    if (!matched) {
      return;
    }
    if (next) {
      forward(*next);
    }
    if (updates.done({m.framework_id().value(), m.task_id().value()})) {
      complete_task(m.framework_id().value(), m.task_id().value());
    }
  }

  // The task's terminal update is acknowledged: archive it, and the executor
  // when it has exited and nothing is left.
  void complete_task(const std::string& fid, const std::string& tid) {
    auto f = frameworks.find(fid);
    if (f == frameworks.end()) {
      return;
    }
    for (auto it = f->second.executors.begin(); it != f->second.executors.end(); ++it) {
      Executor& e = it->second;
      auto t = e.tasks.find(tid);
      if (t == e.tasks.end()) {
        continue;
      }
      if (!is_terminal_state(t->second.state())) {
        return;
      }
      e.completed.push_back(t->second);
      e.tasks.erase(t);
      maybe_archive(f->second, it->first);
      return;
    }
  }

  void maybe_archive(Framework& f, const std::string& eid) {
    auto it = f.executors.find(eid);
    if (it == f.executors.end()) {
      return;
    }
    Executor& e = it->second;
    if (e.phase != Executor::Phase::TERMINATED || !e.tasks.empty() || !e.queued.empty()) {
      return;
    }
    containers.erase(e.container_id);
    f.completed_executors.push_back(std::move(e));
    if (f.completed_executors.size() > MAX_COMPLETED_TASKS) {
      f.completed_executors.erase(f.completed_executors.begin());
    }
    f.executors.erase(it);
    maybe_archive_framework(f.info.id().value());
  }

  // A framework the master removed leaves once its last executor is gone.
  void maybe_archive_framework(const std::string& fid) {
    auto it = frameworks.find(fid);
    if (it == frameworks.end() || !it->second.shutting_down || !it->second.executors.empty()) {
      return;
    }
    completed_frameworks.push_back(std::move(it->second));
    while (completed_frameworks.size() > MAX_COMPLETED_FRAMEWORKS) {
      completed_frameworks.pop_front();
    }
    frameworks.erase(it);
  }

  void on_kill_task(KillTaskMessage& m) {
    const std::string fid = m.framework_id().value();
    const std::string tid = m.task_id().value();
    auto f = frameworks.find(fid);
    if (f != frameworks.end()) {
      for (auto& [eid, e] : f->second.executors) {
        if (auto q = e.queued.find(tid); q != e.queued.end()) {
          TaskID task_id = q->second.task_id();
          e.tasks[tid] = make_task(q->second, fid, TASK_STAGING);
          e.queued.erase(q);
          slave_update(fid, eid, task_id, TASK_KILLED, TaskStatus::REASON_TASK_KILLED_DURING_LAUNCH,
                       "Killed before the executor registered");
          if (e.queued.empty() && e.phase == Executor::Phase::LAUNCHING) {
            e.phase = Executor::Phase::TERMINATING;
            signal_process_group(e.pid, SIGKILL);
          }
          return;
        }
        if (auto t = e.tasks.find(tid); t != e.tasks.end()) {
          if (is_terminal_state(t->second.state())) {
            return;
          }
          if (e.handle) {
            self->send(e.handle, m);
          }
          return;
        }
      }
    }
    TaskID task_id = m.task_id();
    LOG_WARNING << "Asked to kill unknown task " << tid << " of framework " << fid;
    StatusUpdateMessage lost;
    StatusUpdate* u = lost.mutable_update();
    u->mutable_framework_id()->set_value(fid);
    u->mutable_slave_id()->set_value(slave_id);
    TaskStatus* s = u->mutable_status();
    *s->mutable_task_id() = task_id;
    s->set_state(TASK_LOST);
    s->set_source(TaskStatus::SOURCE_SLAVE);
    s->set_reason(TaskStatus::REASON_TASK_UNKNOWN);
    s->set_message("Task is unknown to the slave");
    s->set_timestamp(now_seconds());
    u->set_timestamp(now_seconds());
    if (master) {
      self->send(master, lost);  // no uuid: informational, never retried
    }
  }

  void on_reaped(const std::string& cid, int status) {
    Executor* e = executor_by_container(cid);
    if (e == nullptr) {
      return;
    }
    std::string why = describe_wait_status(status, "Executor");
    if (e->phase == Executor::Phase::LAUNCHING) {
      why = "the executor exited before it registered with the slave: " + why;
    }
    LOG_INFO << "Executor " << e->executor_id << " of framework " << e->framework_id << " exited: "
             << why;
    e->phase = Executor::Phase::TERMINATED;
    // Anything left of its session (the task's process group included) goes
    // too: the group at once, the /proc walks in the cleaner's thread.
    signal_process_group(e->pid, SIGKILL);
    clean_container(cleaner, e->pid, e->container_id);
    remember_cleanup(e->pid, e->container_id);
    std::string fid = e->framework_id;
    std::string eid = e->executor_id;
    std::vector<TaskID> unfinished;
    for (auto& [tid, t] : e->tasks) {
      if (!is_terminal_state(t.state())) {
        unfinished.push_back(t.task_id());
      }
    }
    for (auto& [tid, ti] : e->queued) {
      e->tasks[tid] = make_task(ti, fid, TASK_STAGING);
      unfinished.push_back(ti.task_id());
    }
    e->queued.clear();
    for (const TaskID& id : unfinished) {
      slave_update(fid, eid, id, TASK_FAILED, TaskStatus::REASON_EXECUTOR_TERMINATED,
                   "Executor terminated: " + why);
    }
    if (master && registered) {
      ExitedExecutorMessage m;
      m.mutable_slave_id()->set_value(slave_id);
      m.mutable_framework_id()->set_value(fid);
      m.mutable_executor_id()->set_value(eid);
      m.set_status(status);
      self->send(master, m);
    }
    auto f = frameworks.find(fid);
    if (f != frameworks.end()) {
      maybe_archive(f->second, eid);
    }
  }

  void on_registration_timeout(const std::string& cid) {
    Executor* e = executor_by_container(cid);
    if (e == nullptr || e->phase != Executor::Phase::LAUNCHING) {
      return;
    }
    LOG_WARNING << "Executor " << e->executor_id << " did not register in time; killing it";
    e->phase = Executor::Phase::TERMINATING;
    for (auto& [tid, ti] : e->queued) {
      e->tasks[tid] = make_task(ti, e->framework_id, TASK_STAGING);
      slave_update(e->framework_id, e->executor_id, ti.task_id(), TASK_FAILED,
                   TaskStatus::REASON_EXECUTOR_REGISTRATION_TIMEOUT,
                   "Executor did not register within --executor_registration_timeout");
    }
    e->queued.clear();
    signal_process_group(e->pid, SIGKILL);
  }

  void shutdown_executor(Executor& e) {
    if (e.phase == Executor::Phase::TERMINATED) {
      return;
    }
    if (e.handle) {
      ShutdownExecutorMessage m;
      m.mutable_executor_id()->set_value(e.executor_id);
      m.mutable_framework_id()->set_value(e.framework_id);
      self->send(e.handle, m);
      e.phase = Executor::Phase::TERMINATING;
      self->delayed_send(self, opts.flags.executor_shutdown_grace_period, kill_atom_v,
                         e.container_id);
    } else {
      e.phase = Executor::Phase::TERMINATING;
      signal_process_group(e.pid, SIGKILL);
    }
  }

  void on_shutdown_framework(ShutdownFrameworkMessage& m) {
    auto f = frameworks.find(m.framework_id().value());
    if (f == frameworks.end()) {
      return;
    }
    LOG_INFO << "Shutting down framework " << f->first;
    for (auto& [eid, e] : f->second.executors) {
      shutdown_executor(e);
    }
    updates.remove_framework(f->first);
    f->second.shutting_down = true;
    maybe_archive_framework(f->first);
  }

  void on_hard_kill(const std::string& cid) {
    Executor* e = executor_by_container(cid);
    if (e != nullptr && e->phase != Executor::Phase::TERMINATED) {
      signal_process_group(e->pid, SIGKILL);
      clean_container(cleaner, e->pid, e->container_id);
    }
  }

  void on_framework_message(FrameworkToExecutorMessage& m) {
    auto f = frameworks.find(m.framework_id().value());
    if (f == frameworks.end()) {
      return;
    }
    auto e = f->second.executors.find(m.executor_id().value());
    if (e != f->second.executors.end() && e->second.handle) {
      self->send(e->second.handle, m);
    }
  }

  void on_executor_message(ExecutorToFrameworkMessage& m) {
    if (master && registered) {
      m.mutable_slave_id()->set_value(slave_id);
      self->send(master, m);
    }
  }

  void on_down(const caf::down_msg& dm) {
    if (master && dm.source == master.address()) {
      on_master_down();
      return;
    }
    if (Executor* e = executor_by_handle(dm.source)) {
      e->handle = caf::actor{};  // the reaper reports the exit status
    }
  }

  // Containers whose leftovers the cleaner was asked to kill lately: redone
  // synchronously when the slave stops, since the cleaner's queue is dropped.
  std::deque<std::pair<pid_t, std::string>> recent_cleanups;

  void remember_cleanup(pid_t pid, const std::string& container_id) {
    recent_cleanups.emplace_back(pid, container_id);
    if (recent_cleanups.size() > 256) {
      recent_cleanups.pop_front();
    }
  }

  // Kills every executor (slave shutting down).
  void kill_all() {
    for (const auto& [pid, cid] : recent_cleanups) {
      kill_container_leftovers(pid, cid, SIGKILL);
    }
    recent_cleanups.clear();
    for (auto& [fid, f] : frameworks) {
      for (auto& [eid, e] : f.executors) {
        if (e.phase != Executor::Phase::TERMINATED && e.pid > 0) {
          clean_container_now(e.pid, e.container_id);  // exiting: synchronously
        }
      }
    }
  }

  // --- HTTP -----------------------------------------------------------------

  static picojson::value task_json(const Task& t) {
    picojson::object o;
    o["id"] = picojson::value(t.task_id().value());
    o["name"] = picojson::value(t.name());
    o["framework_id"] = picojson::value(t.framework_id().value());
    o["executor_id"] = picojson::value(t.executor_id().value());
    o["slave_id"] = picojson::value(t.slave_id().value());
    o["state"] = picojson::value(TaskState_Name(t.state()));
    Try<Resources> r = Resources::from_proto(t.resources());
    o["resources"] = resources_to_json(r.is_some() ? *r : Resources());
    picojson::array statuses;
    for (const TaskStatus& s : t.statuses()) {
      picojson::object so;
      so["state"] = picojson::value(TaskState_Name(s.state()));
      so["timestamp"] = picojson::value(s.timestamp());
      statuses.emplace_back(so);
    }
    o["statuses"] = picojson::value(statuses);
    return picojson::value(o);
  }

  picojson::value executor_json(const Executor& e) {
    picojson::object o;
    o["id"] = picojson::value(e.executor_id);
    o["name"] = picojson::value("Command Executor (Task: " + e.executor_id + ")");
    o["source"] = picojson::value(e.executor_id);
    o["container"] = picojson::value(e.container_id);
    o["directory"] = picojson::value(e.directory);
    o["resources"] = resources_to_json(e.resources);
    picojson::array tasks;
    picojson::array queued;
    picojson::array completed;
    for (const auto& [tid, t] : e.tasks) {
      tasks.push_back(task_json(t));
    }
    for (const auto& [tid, ti] : e.queued) {
      queued.push_back(task_json(const_cast<Slave*>(this)->make_task(ti, e.framework_id, TASK_STAGING)));
    }
    for (const Task& t : e.completed) {
      completed.push_back(task_json(t));
    }
    o["tasks"] = picojson::value(tasks);
    o["queued_tasks"] = picojson::value(queued);
    o["completed_tasks"] = picojson::value(completed);
    return picojson::value(o);
  }

  picojson::value framework_json(const Framework& f) {
    picojson::object fo;
    fo["id"] = picojson::value(f.info.id().value());
    fo["name"] = picojson::value(f.info.name());
    fo["user"] = picojson::value(f.info.user());
    fo["failover_timeout"] = picojson::value(f.info.failover_timeout());
    fo["checkpoint"] = picojson::value(f.info.checkpoint());
    fo["hostname"] = picojson::value(f.info.hostname());
    fo["role"] = picojson::value(f.info.role());
    picojson::array execs;
    for (const auto& [eid, e] : f.executors) {
      execs.push_back(executor_json(e));
    }
    picojson::array done;
    for (const Executor& e : f.completed_executors) {
      done.push_back(executor_json(e));
    }
    fo["executors"] = picojson::value(execs);
    fo["completed_executors"] = picojson::value(done);
    return picojson::value(fo);
  }

  // /monitor/statistics (Mesos shape): usage of every running executor's
  // container, as the posix/cpu and posix/mem isolators in --isolation see it.
  picojson::value monitor_json() {
    bool cpu = opts.flags.isolation.find("posix/cpu") != std::string::npos;
    bool mem = opts.flags.isolation.find("posix/mem") != std::string::npos;
    picojson::array out;
    for (const auto& [fid, f] : frameworks) {
      for (const auto& [eid, e] : f.executors) {
        if (e.phase == Executor::Phase::TERMINATED || e.pid <= 0) {
          continue;
        }
        Usage u = session_usage(e.pid);
        picojson::object stats;
        stats["timestamp"] = picojson::value(now_seconds());
        if (cpu) {
          stats["cpus_user_time_secs"] = picojson::value(u.cpus_user_time_secs);
          stats["cpus_system_time_secs"] = picojson::value(u.cpus_system_time_secs);
          stats["cpus_limit"] = picojson::value(e.resources.scalar("cpus"));
        }
        if (mem) {
          stats["mem_rss_bytes"] = picojson::value(static_cast<int64_t>(u.mem_rss_bytes));
          stats["mem_limit_bytes"] =
              picojson::value(static_cast<int64_t>(e.resources.scalar("mem") * 1024 * 1024));
        }
        stats["processes"] = picojson::value(static_cast<int64_t>(u.processes));
        picojson::object o;
        o["executor_id"] = picojson::value(eid);
        o["executor_name"] = picojson::value("Command Executor (Task: " + eid + ")");
        o["framework_id"] = picojson::value(fid);
        o["source"] = picojson::value(eid);
        o["statistics"] = picojson::value(stats);
        out.emplace_back(o);
      }
    }
    return picojson::value(out);
  }

  picojson::value state_json() {
    picojson::object o;
    o["version"] = picojson::value(STOA_VERSION);
    o["build_date"] = picojson::value(build_date());
    o["build_time"] = picojson::value(build_time());
    o["build_user"] = picojson::value(build_user());
    o["start_time"] = picojson::value(start_time);
    o["id"] = picojson::value(slave_id);
    o["pid"] = picojson::value(opts.upid.str());
    o["hostname"] = picojson::value(info.hostname());
    o["port"] = picojson::value(static_cast<double>(opts.upid.port));
    o["capabilities"] = picojson::value(picojson::array{picojson::value("MULTI_ROLE")});
    o["resources"] = resources_to_json(opts.resources);
    o["reserved_resources"] = reserved_resources_to_json(opts.resources);
    o["unreserved_resources"] = resources_to_json(opts.resources.unreserved());
    o["attributes"] = attributes_to_json(info.attributes());
    o["master_hostname"] = picojson::value(opts.master.host);
    if (opts.flags.log_dir) {
      o["log_dir"] = picojson::value(*opts.flags.log_dir);
    }
    picojson::object flags;
    for (const auto& [k, v] : opts.flags.values()) {
      flags[k] = picojson::value(v);
    }
    o["flags"] = picojson::value(flags);
    picojson::array fws;
    for (const auto& [fid, f] : frameworks) {
      fws.push_back(framework_json(f));
    }
    o["frameworks"] = picojson::value(fws);
    picojson::array done_fws;
    for (const Framework& f : completed_frameworks) {
      done_fws.push_back(framework_json(f));
    }
    o["completed_frameworks"] = picojson::value(done_fws);

    return picojson::value(o);
  }

  std::tuple<int, std::string> on_state_request(const std::string& endpoint) {
    if (endpoint == "state") {
      return {200, json_serialize(state_json())};
    }
    if (endpoint == "health") {
      return {200, ""};
    }
    if (endpoint == "monitor") {
      return {200, json_serialize(monitor_json())};
    }
    if (endpoint == "metrics") {
      picojson::object o;
      o["slave/dropped_messages"] = picojson::value(dropped_messages);
      o["slave/registered"] = picojson::value(registered ? 1.0 : 0.0);
      o["slave/executors_running"] = picojson::value(static_cast<double>(executors_running()));
      return {200, json_serialize(picojson::value(o))};
    }
    if (endpoint == "flags") {
      picojson::object flags;
      for (const auto& [k, v] : opts.flags.values()) {
        flags[k] = picojson::value(v);
      }
      picojson::object o;
      o["flags"] = picojson::value(flags);
      return {200, json_serialize(picojson::value(o))};
    }
    return {404, "{\"message\":\"Unknown endpoint\"}"};
  }
};

using slave_actor = caf::stateful_actor<Slave>;

caf::behavior slave_behavior(slave_actor* self, caf::actor router, SlaveOptions opts) {
  Slave& s = self->state;
  s.self = self;
  s.router = std::move(router);
  s.opts = std::move(opts);
  s.start_time = now_seconds();
  set_safe_handlers(self, "slave");
  s.info.set_hostname(s.opts.hostname);
  s.info.set_port(s.opts.upid.port);
  s.opts.resources.to_proto(s.info.mutable_resources());
  for (const Attribute& a : s.opts.attributes) {
    *s.info.add_attributes() = a;
  }
  s.cleaner = spawn_cleaner(self);
  // However the slave ends, its cleaner ends too (a linked actor outlives a
  // normal exit, and a detached one would hold up the actor system).
  self->attach_functor([cleaner = s.cleaner](const caf::error&) {
    caf::anon_send_exit(cleaner, caf::exit_reason::user_shutdown);
  });
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!exit_from_this_process(self, msg)) {
      LOG_WARNING << "The slave ignored an exit message from "
                  << (msg.source ? caf::to_string(msg.source) : std::string("an anonymous sender"))
                  << ": only actors of this process may stop it";
      return;
    }
    if (self->state.cleaner && msg.source == self->state.cleaner.address()) {
      LOG_ERROR << "The container cleaner died (" << self->system().render(msg.reason)
                << "); cleaning up containers on the slave's thread from now on";
      self->state.cleaner = caf::actor{};
      return;
    }
    self->state.kill_all();
    self->quit(msg.reason);
  });
  s.detect_master();
  // Messages only the master may send are dropped from anyone else.
  auto from_master = [self] {
    Slave& st = self->state;
    if (self->current_sender() && st.master && self->current_sender()->address() == st.master.address()) {
      return true;
    }
    st.drop_message("a master message", "only the detected master may send it");
    return false;
  };
  return {
      [self, from_master](SlaveRegisteredMessage& m) {
        if (from_master()) {
          self->state.on_registered(m.slave_id().value(), false);
        }
      },
      [self, from_master](SlaveReregisteredMessage& m) {
        if (from_master()) {
          self->state.on_registered(m.slave_id().value(), true);
        }
      },
      [self, from_master](RunTaskMessage& m) {
        if (from_master()) {
          self->state.on_run_task(m);
        }
      },
      [self, from_master](KillTaskMessage& m) {
        if (from_master()) {
          self->state.on_kill_task(m);
        }
      },
      [self, from_master](StatusUpdateAcknowledgementMessage& m) {
        if (from_master()) {
          self->state.on_acknowledgement(m);
        }
      },
      [self, from_master](ShutdownFrameworkMessage& m) {
        if (from_master()) {
          self->state.on_shutdown_framework(m);
        }
      },
      [self, from_master](FrameworkToExecutorMessage& m) {
        if (from_master()) {
          self->state.on_framework_message(m);
        }
      },
      [self](ExecutorToFrameworkMessage& m) { self->state.on_executor_message(m); },
      [self, from_master](PingSlaveMessage&) {
        if (!from_master()) {
          return;
        }
        self->send(self->state.master, PongSlaveMessage{});
        uint64_t gen = ++self->state.ping_generation;
        self->delayed_send(self, MASTER_PING_TIMEOUT, timeout_atom_v, gen);
      },
      [self](timeout_atom, uint64_t gen) {
        Slave& st = self->state;
        if (!st.from_self("a ping timeout")) {
          return;
        }
        if (gen == st.ping_generation && st.master) {
          LOG_WARNING << "No ping from the master for " << MASTER_PING_TIMEOUT.count()
                      << " s; re-registering";
          st.self->demonitor(st.master);
          st.on_master_down();
        }
      },
      [self, from_master](ShutdownMessage& m) {
        if (!from_master()) {
          return;
        }
        LOG_WARNING << "Master asked this slave to shut down: " << m.message();
        self->state.kill_all();
        ::kill(::getpid(), SIGTERM);
      },
      [self](RegisterExecutorMessage& m) { self->state.on_register_executor(m); },
      [self](StatusUpdateMessage& m) { self->state.on_executor_update(m); },
      [self](retry_atom, uint64_t gen) {
        if (self->state.from_self("a registration retry")) {
          self->state.on_retry(gen);
        }
      },
      [self](reaped_atom, const std::string& cid, int status) {
        if (self->state.from_this_process("an executor exit")) {
          self->state.on_reaped(cid, status);
        }
      },
      [self](timeout_atom, const std::string& cid) {
        if (self->state.from_self("an executor registration timeout")) {
          self->state.on_registration_timeout(cid);
        }
      },
      [self](kill_atom, const std::string& cid) {
        if (self->state.from_self("an executor kill")) {
          self->state.on_hard_kill(cid);
        }
      },
      [self](tick_atom, const std::string& fid, const std::string& tid, const std::string& uuid,
             int64_t interval) {
        if (self->state.from_self("a status update retry")) {
          self->state.on_update_retry(fid, tid, uuid, interval);
        }
      },
      [self](state_atom, const std::string& endpoint,
             const std::map<std::string, std::string>&) -> std::tuple<int, std::string> {
        if (!self->state.from_this_process("a state request")) {
          return {403, "{\"message\":\"not accepted from a remote actor\"}"};
        }
        try {
          return self->state.on_state_request(endpoint);
        } catch (const std::exception& e) {
          LOG_ERROR << "Cannot render /" << endpoint << ": " << e.what();
          return {500, "{\"message\":\"Cannot render this view\"}"};
        }
      },
  };
}

}  // namespace

caf::actor spawn_slave(caf::actor_system& sys, const caf::actor& router, SlaveOptions opts) {
  return sys.spawn(slave_behavior, router, std::move(opts));
}

void register_slave_routes(Runtime& runtime, const caf::actor& slave, const std::string& id) {
  runtime.add_route(actor_route(slave, "/" + id + "/state", "state",
                                "State of this slave: resources, attributes, frameworks, executors "
                                "and tasks."));
  runtime.add_route(actor_route(slave, "/" + id + "/state.json", "state", "Alias of /" + id + "/state."));
  runtime.add_route(actor_route(slave, "/" + id + "/flags", "flags", "The slave's effective flags."));
  runtime.add_route(actor_route(slave, "/" + id + "/monitor/statistics", "monitor",
                                "Resource usage of each running executor's container (CPU times, "
                                "resident memory), as the posix/cpu and posix/mem isolators see it."));
  runtime.add_route(actor_route(slave, "/metrics/snapshot", "metrics",
                                "The slave's metrics (slave/dropped_messages, slave/registered, "
                                "slave/executors_running)."));
  runtime.add_route(actor_route(slave, "/monitor/statistics", "monitor",
                                "Alias of /" + id + "/monitor/statistics."));
  runtime.add_route(actor_route(slave, "/" + id + "/health", "health",
                                "Answers 200 OK with an empty body when the slave actor answers "
                                "(503 when it does not)."));
}

}  // namespace stoa::slave
