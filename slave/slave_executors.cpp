// Executor lifecycle: a task arrives (RunTaskMessage) -> the containerizer
// launches its command executor in a sandbox -> the executor registers
// within --executor_registration_timeout (or is killed) -> it runs its tasks
// -> it is told to shut down (killed after --executor_shutdown_grace_period)
// or exits -> its exit status arrives from the containerizer's wait -> it is
// archived once its tasks' terminal updates are acknowledged.

#include <algorithm>
#include <memory>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"
#include "slave/checkpoint.hpp"
#include "slave/docker.hpp"
#include "actors/launcher.hpp"
#include "slave/paths.hpp"
#include "slave/slave_actor.hpp"

namespace stoa::slave {

using namespace stoa::internal;

std::optional<std::string> Slave::containerizer_refusal(bool docker) const {
  if (docker ? !runs_docker : !runs_mesos) {
    return docker ? "The task asks for a Docker container, but this slave runs without the docker containerizer "
                    "(--containerizers=" + opts.flags.containerizers + ")"
                  : "The task has no DOCKER ContainerInfo, but this slave runs only the docker containerizer "
                    "(--containerizers=" + opts.flags.containerizers + ")";
  }
  return std::nullopt;
}

void Slave::on_run_task(RunTaskMessage& m) {
  const TaskInfo& ti = m.task();
  const std::string fid = m.framework_id().value();
  const std::string tid = ti.task_id().value();
  if (!records.registered) {
    LOG_WARNING << "Ignoring task " << tid << ": not registered";
    return;
  }
  Framework& f = records.frameworks[fid];
  if (f.pid != m.pid() || f.info.SerializeAsString() != m.framework().SerializeAsString()) {
    f.info_checkpointed = false;  // written again with the next task
  }
  f.info = m.framework();
  f.shutting_down = false;
  f.pid = m.pid();
  std::string eid = tid;  // the command executor is named after its task
  if (auto err = validate_path_id("task id", tid)) {
    slave_update(fid, eid, ti.task_id(), TASK_FAILED, TaskStatus::REASON_CONTAINER_LAUNCH_FAILED, err->message);
    return;
  }
  if (f.executors.count(eid)) {
    slave_update(fid, eid, ti.task_id(), TASK_FAILED, TaskStatus::REASON_TASK_INVALID,
                 "An executor named " + eid + " is already running");
    return;
  }
  // Which containerizer (--containerizers): DOCKER goes to Docker, any other
  // to the Mesos containerizer; one that is not enabled fails the task.
  const bool docker = ti.has_container() && ti.container().type() == ContainerInfo::DOCKER;
  if (std::optional<std::string> why = containerizer_refusal(docker)) {
    slave_update(fid, eid, ti.task_id(), TASK_FAILED, TaskStatus::REASON_CONTAINER_LAUNCH_FAILED, *why);
    return;
  }
  Executor e;
  e.framework_id = fid;
  e.executor_id = eid;
  e.container_id = random_uuid();
  e.directory = sandbox_path(opts.flags.work_dir, records.slave_id, fid, eid, e.container_id);
  e.queued[tid] = ti;
  e.docker = docker;
  Try<Resources> r = Resources::from_proto(ti.resources());
  if (r.is_some()) {
    e.resources = *r;
  }
  ContainerConfig config;
  config.container_id = e.container_id;
  config.work_dir = opts.flags.work_dir;
  config.slave_id = records.slave_id;
  config.framework_id = fid;
  config.executor_id = eid;
  config.directory = e.directory;
  config.resources = e.resources;
  // --http_command_executor: a command task runs under the executor that
  // links no actor runtime, unless it needs stoa-executor's health checks.
  const bool http = !docker && opts.flags.http_command_executor && !ti.has_health_check();
  config.argv = {docker ? opts.docker_executor_path : http ? opts.http_executor_path : opts.executor_path};
  config.checkpoint = f.info.checkpoint();
  if (docker) {
    config.docker = true;
    config.docker_image = ti.container().docker().image();
    config.force_pull_image = ti.container().docker().force_pull_image();
  }
  if (opts.flags.switch_user) {
    // Mesos: the command's user, else the framework's.
    config.user = ti.command().has_user() ? ti.command().user() : f.info.user();
  }
  const std::string recovery_timeout = format_duration(opts.flags.recovery_timeout);
  config.env = {
      {"STOA_CHECKPOINT", config.checkpoint ? "1" : "0"},  {"MESOS_CHECKPOINT", config.checkpoint ? "1" : "0"},
      {"STOA_RECOVERY_TIMEOUT", recovery_timeout},         {"MESOS_RECOVERY_TIMEOUT", recovery_timeout},
      {"STOA_EXECUTOR_SHUTDOWN_GRACE_PERIOD", format_duration(opts.flags.executor_shutdown_grace_period)},
      {"STOA_SLAVE_PID", opts.upid.str()},    {"STOA_SLAVE_ID", records.slave_id},
      {"STOA_SLAVE_ACTOR_PORT", std::to_string(opts.actor_port)},
      {"STOA_EXECUTOR_REGISTRATION_TIMEOUT", format_duration(opts.flags.executor_registration_timeout)},
      {"STOA_FRAMEWORK_ID", fid},             {"STOA_EXECUTOR_ID", eid},
      {"STOA_CONTAINER_ID", e.container_id},  {"STOA_DIRECTORY", e.directory},
      {"STOA_EXECUTOR_IP", opts.upid.host},   {"MESOS_SANDBOX", e.directory},
      {"MESOS_DIRECTORY", e.directory},       {"MESOS_FRAMEWORK_ID", fid},
      {"MESOS_EXECUTOR_ID", eid},             {"MESOS_SLAVE_ID", records.slave_id},
  };
  if (http) {
    // Mesos' variables for an executor of the v1 HTTP API (docs/executor-http-api.md).
    config.env.insert({{"MESOS_AGENT_ENDPOINT", opts.upid.host + ":" + std::to_string(opts.upid.port)},
                       {"MESOS_HTTP_COMMAND_EXECUTOR", "1"},
                       {"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", format_duration(opts.flags.executor_shutdown_grace_period)},
                       {"MESOS_SUBSCRIPTION_BACKOFF_MAX", "2secs"}});
    if (!opts.domain_socket.empty()) {
      config.env.insert({"MESOS_DOMAIN_SOCKET", opts.domain_socket});
    }
  }
  if (docker) {
    // stoa-docker-executor's own settings (docs/docker.md).
    config.env.insert({{"STOA_DOCKER", opts.flags.docker},
                       {"STOA_DOCKER_SOCKET", opts.flags.docker_socket},
                       {"STOA_DOCKER_STOP_TIMEOUT", format_duration(opts.flags.docker_stop_timeout)},
                       {"STOA_CONTAINER_NAME", docker::container_name(e.container_id)},
                       {"STOA_MAPPED_DIRECTORY", opts.flags.sandbox_directory},
                       {"STOA_WORK_DIR", opts.flags.work_dir}});
  }
  std::string cid = e.container_id;
  if (config.checkpoint) {
    // Before anything runs: a restarted slave knows what it was about to start.
    const std::string& wd = opts.flags.work_dir;
    ExecutorInfo ei;
    ei.mutable_executor_id()->set_value(eid);
    ei.mutable_framework_id()->set_value(fid);
    ei.set_name(std::string(docker ? "Docker Executor" : "Command Executor") + " (Task: " + tid + ")");
    ei.set_source(tid);
    ei.mutable_command()->set_value(config.argv[0]);
    if (ti.has_container()) {
      *ei.mutable_container() = ti.container();
    }
    if (!f.info_checkpointed) {
      checkpoint_failed("framework " + fid, checkpoint_framework(wd, records.slave_id, f.info, f.pid));
      f.info_checkpointed = true;
    }
    checkpoint_failed("executor " + eid, checkpoint_executor(wd, records.slave_id, ei, cid));
    checkpoint_failed("task " + tid, checkpoint_task(wd, records.slave_id, eid, cid,
                                                     make_task(ti, fid, records.slave_id, TASK_STAGING)));
  }
  unschedule_for_launch(fid, eid);
  attach_sandbox(e);
  records.add_executor(f, std::move(e));
  // A command executor may come from the warm pool (--executor_pool_size):
  // the containerizer then prepares the container around the running
  // process instead of starting one.
  // (Shared by the two handlers below, not copied into each: an adoption
  // carries the executor's whole environment.)
  auto adoption = std::make_shared<std::optional<PoolAdoption>>(take_pooled(config));
  // Sandbox creation and fork/exec block: the containerizer does them off
  // this thread and answers with the pid or the error.
  self->request(containerizer, caf::infinite, launch_atom::value, std::move(config))
      .then([this, fid, eid, cid, adoption](const LaunchResult& result) { on_launched(fid, eid, cid, result, *adoption); },
            [this, fid, eid, cid, adoption](caf::error& err) {
              on_launched(fid, eid, cid, LaunchResult{-1, "Cannot launch the executor: " +
                                                              self->system().render(err)}, *adoption);
            });
}

void Slave::on_launched(const std::string& fid, const std::string& eid, const std::string& cid,
                        const LaunchResult& result, std::optional<PoolAdoption>& adoption) {
  if (adoption && result.pid <= 0) {
    discard_pooled(adoption->pid);
    fill_pool();
  }
  // Else (adopted) the replacement starts once a task runs
  // (on_executor_update) or an executor exits (on_reaped): not while this
  // launch still competes for the CPU.
  Executor* e = records.executor_by_container(cid);
  if (e == nullptr) {
    if (adoption && result.pid > 0) {
      self->send(adoption->handle, adoption->message);  // cannot happen (see below); it registers and is refused
    }
    return;  // cannot happen: an executor leaves only once its container is waited for
  }
  if (result.pid <= 0) {
    // Nothing ran: the executor never existed, as far as the state goes.
    auto f = records.frameworks.find(fid);
    forget_executor_checkpoint(f->second, eid);
    Executor gone = records.erase_executor(f->second, eid);
    gc_executor(gone);
    for (const auto& [tid, ti] : gone.queued) {
      slave_update(fid, eid, ti.task_id(), TASK_FAILED, TaskStatus::REASON_CONTAINER_LAUNCH_FAILED,
                   result.error);
    }
    maybe_archive_framework(fid);
    return;
  }
  e->pid = result.pid;
  if (checkpointing(fid)) {
    checkpoint_failed("the pid of executor " + eid, checkpoint_forked_pid(opts.flags.work_dir, records.slave_id, fid,
                                                                          eid, cid, result.pid));
  }
  watch_container(cid);
  if (e->phase == Executor::Phase::TERMINATING) {
    // Killed while it was starting.
    self->send(containerizer, destroy_atom::value, cid);
  }
  if (adoption) {
    AdoptExecutorMessage m = std::move(adoption->message);
    if (e->phase == Executor::Phase::LAUNCHING) {
      // The slave knows this process (its pool started it and it said it is
      // ready): the adoption is its registration, and carries what the
      // registration's answer and the first RunTaskMessage would (one round
      // trip less). Killed meanwhile, it registers and is refused instead.
      const Framework& f = records.frameworks.at(fid);
      e->http = adoption->http;
      executor_registered(*e, adoption->handle);
      *m.mutable_registered() = registration_answer(*e, f);
      for (RunTaskMessage& run : start_queued(*e, f)) {
        *m.add_run_tasks() = std::move(run);
      }
    }
    self->send(adoption->handle, std::move(m));
  } else {
    self->delayed_send(self, opts.flags.executor_registration_timeout, registration_timeout_atom::value, cid);
  }
  LOG_INFO << (adoption ? "Launched pooled executor " : "Launched executor ") << eid << " (pid " << e->pid
           << ") of framework " << fid << " in " << e->directory;
}

ExecutorRegisteredMessage Slave::registration_answer(const Executor& e, const Framework& f) const {
  ExecutorRegisteredMessage m;
  m.mutable_executor_info()->mutable_executor_id()->set_value(e.executor_id);
  m.mutable_executor_info()->mutable_framework_id()->set_value(e.framework_id);
  m.mutable_framework_id()->set_value(e.framework_id);
  *m.mutable_framework_info() = f.info;
  m.mutable_slave_id()->set_value(records.slave_id);
  *m.mutable_slave_info() = records.info;
  return m;
}

std::vector<RunTaskMessage> Slave::start_queued(Executor& e, const Framework& f) {
  std::vector<RunTaskMessage> runs;
  for (auto& [tid, ti] : e.queued) {
    e.tasks[tid] = make_task(ti, e.framework_id, records.slave_id, TASK_STAGING);
    RunTaskMessage& run = runs.emplace_back();
    run.mutable_framework_id()->set_value(e.framework_id);
    *run.mutable_framework() = f.info;
    *run.mutable_task() = ti;
    run.set_pid(f.pid);
  }
  e.queued.clear();
  return runs;
}

void Slave::on_register_executor(RegisterExecutorMessage& m) {
  caf::actor from = caf::actor_cast<caf::actor>(self->current_sender());
  if (!from) {
    return;
  }
  auto f = records.frameworks.find(m.framework_id().value());
  Executor* e = nullptr;
  if (f != records.frameworks.end()) {
    auto it = f->second.executors.find(m.executor_id().value());
    if (it != f->second.executors.end()) {
      e = &it->second;
    }
  }
  if (e != nullptr && e->phase == Executor::Phase::RUNNING && e->handle == from) {
    // A retried registration that crossed our answer: answer again.
    self->send(from, registration_answer(*e, f->second));
    return;
  }
  if (e == nullptr || e->phase != Executor::Phase::LAUNCHING) {
    refuse_executor(from, m.executor_id(), m.framework_id());
    return;
  }
  executor_registered(*e, from);
  self->send(from, registration_answer(*e, f->second));
  for (RunTaskMessage& run : start_queued(*e, f->second)) {
    self->send(from, std::move(run));
  }
}

void Slave::refuse_executor(const caf::actor& to, const ExecutorID& executor_id, const FrameworkID& framework_id) {
  ShutdownExecutorMessage sm;
  *sm.mutable_executor_id() = executor_id;
  *sm.mutable_framework_id() = framework_id;
  self->send(to, sm);
}

void Slave::executor_registered(Executor& e, const caf::actor& handle) {
  records.set_handle(e, handle);
  e.phase = Executor::Phase::RUNNING;
  self->monitor(handle);
  if (checkpointing(e.framework_id)) {
    checkpoint_failed("the registration of executor " + e.executor_id,
                      checkpoint_registered(opts.flags.work_dir, records.slave_id, e.framework_id, e.executor_id,
                                            e.container_id, caf::to_string(handle.address())));
  }
}

void Slave::on_registration_timeout(const std::string& cid) {
  Executor* e = records.executor_by_container(cid);
  if (e == nullptr || e->phase != Executor::Phase::LAUNCHING) {
    return;
  }
  LOG_WARNING << "Executor " << e->executor_id << " did not register in time; killing it";
  e->phase = Executor::Phase::TERMINATING;
  for (auto& [tid, ti] : e->queued) {
    e->tasks[tid] = make_task(ti, e->framework_id, records.slave_id, TASK_STAGING);
    slave_update(e->framework_id, e->executor_id, ti.task_id(), TASK_FAILED,
                 TaskStatus::REASON_EXECUTOR_REGISTRATION_TIMEOUT,
                 "Executor did not register within --executor_registration_timeout");
  }
  e->queued.clear();
  self->send(containerizer, destroy_atom::value, cid);
}

void Slave::on_kill_task(KillTaskMessage& m) {
  const std::string fid = m.framework_id().value();
  const std::string tid = m.task_id().value();
  if (Executor* e = records.executor_of_task(fid, tid)) {
    if (auto q = e->queued.find(tid); q != e->queued.end()) {
      TaskID task_id = q->second.task_id();
      e->tasks[tid] = make_task(q->second, fid, records.slave_id, TASK_STAGING);
      e->queued.erase(q);
      slave_update(fid, e->executor_id, task_id, TASK_KILLED, TaskStatus::REASON_TASK_KILLED_DURING_LAUNCH,
                   "Killed before the executor registered");
      if (e->queued.empty() && e->phase == Executor::Phase::LAUNCHING) {
        e->phase = Executor::Phase::TERMINATING;
        if (e->pid > 0) {  // else on_launched destroys it once it runs
          self->send(containerizer, destroy_atom::value, e->container_id);
        }
      }
      return;
    }
    if (auto t = e->tasks.find(tid); t != e->tasks.end()) {
      if (is_terminal_state(t->second.state())) {
        return;
      }
      if (e->handle) {
        self->send(e->handle, m);
      }
      return;
    }
  }
  TaskID task_id = m.task_id();
  LOG_WARNING << "Asked to kill unknown task " << tid << " of framework " << fid;
  StatusUpdateMessage lost;
  StatusUpdate* u = lost.mutable_update();
  u->mutable_framework_id()->set_value(fid);
  u->mutable_slave_id()->set_value(records.slave_id);
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

void Slave::shutdown_executor(Executor& e) {
  if (e.phase == Executor::Phase::TERMINATED) {
    return;
  }
  if (e.handle || (e.phase == Executor::Phase::RUNNING && e.pid > 0)) {
    // Registered: told to shut down, killed after the grace period if it
    // has not exited by then (Mesos' two phases). One that registered and
    // has disconnected since — an HTTP executor closes its stream once its
    // task's last update is acknowledged, then exits — is not told, but
    // gets the grace too: killed at once it would die with a signal in
    // the moment it was exiting cleanly.
    if (e.handle) {
      ShutdownExecutorMessage m;
      m.mutable_executor_id()->set_value(e.executor_id);
      m.mutable_framework_id()->set_value(e.framework_id);
      self->send(e.handle, m);
    }
    e.phase = Executor::Phase::TERMINATING;
    self->delayed_send(self, opts.flags.executor_shutdown_grace_period, kill_atom_v, e.container_id);
  } else {
    e.phase = Executor::Phase::TERMINATING;
    if (e.pid > 0) {  // else on_launched destroys it once it runs
      self->send(containerizer, destroy_atom::value, e.container_id);
    }
  }
}

void Slave::on_shutdown_framework(ShutdownFrameworkMessage& m) {
  auto f = records.frameworks.find(m.framework_id().value());
  if (f == records.frameworks.end()) {
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

void Slave::on_hard_kill(const std::string& cid) {
  Executor* e = records.executor_by_container(cid);
  if (e != nullptr && e->phase != Executor::Phase::TERMINATED) {
    self->send(containerizer, destroy_atom::value, cid);
  }
}

void Slave::on_reaped(const std::string& cid, int status) {
  Executor* e = records.executor_by_container(cid);
  if (e == nullptr) {
    return;
  }
  std::string why = describe_wait_status(status, "Executor");
  if (e->phase == Executor::Phase::LAUNCHING) {
    why = "the executor exited before it registered with the slave: " + why;
  }
  LOG_INFO << "Executor " << e->executor_id << " of framework " << e->framework_id << " exited: " << why;
  e->phase = Executor::Phase::TERMINATED;
  metrics->inc("slave/executors_terminated");
  if (checkpointing(e->framework_id)) {
    checkpoint_failed("the sentinel of executor " + e->executor_id,
                      checkpoint_executor_sentinel(opts.flags.work_dir, records.slave_id, e->framework_id,
                                                   e->executor_id, cid));
  }
  // The containerizer has already killed what was left of its session.
  std::string fid = e->framework_id;
  std::string eid = e->executor_id;
  std::vector<TaskID> unfinished;
  for (auto& [tid, t] : e->tasks) {
    if (!is_terminal_state(t.state())) {
      unfinished.push_back(t.task_id());
    }
  }
  for (auto& [tid, ti] : e->queued) {
    e->tasks[tid] = make_task(ti, fid, records.slave_id, TASK_STAGING);
    unfinished.push_back(ti.task_id());
  }
  e->queued.clear();
  // An isolator's limit (docs/isolation.md) is the reason when there is one.
  auto limited = limitations.find(cid);
  for (const TaskID& id : unfinished) {
    if (limited != limitations.end()) {
      slave_update(fid, eid, id, TASK_FAILED, limited->second.reason, limited->second.message);
    } else {
      slave_update(fid, eid, id, TASK_FAILED, TaskStatus::REASON_EXECUTOR_TERMINATED, "Executor terminated: " + why);
    }
  }
  if (limited != limitations.end()) {
    limitations.erase(limited);
  }
  if (master && records.registered) {
    ExitedExecutorMessage m;
    m.mutable_slave_id()->set_value(records.slave_id);
    m.mutable_framework_id()->set_value(fid);
    m.mutable_executor_id()->set_value(eid);
    m.set_status(status);
    self->send(master, m);
  }
  auto f = records.frameworks.find(fid);
  if (f != records.frameworks.end()) {
    maybe_archive(f->second, eid);
  }
  maybe_finish_recovery();  // it may have been the last one a restarted slave waited for
  fill_pool();
}

void Slave::on_framework_message(FrameworkToExecutorMessage& m) {
  auto f = records.frameworks.find(m.framework_id().value());
  if (f == records.frameworks.end()) {
    return;
  }
  auto e = f->second.executors.find(m.executor_id().value());
  if (e != f->second.executors.end() && e->second.handle) {
    self->send(e->second.handle, m);
  }
}

void Slave::on_executor_message(ExecutorToFrameworkMessage& m) {
  if (master && records.registered) {
    m.mutable_slave_id()->set_value(records.slave_id);
    self->send(master, m);
  }
}

void Slave::complete_task(const std::string& fid, const std::string& tid) {
  auto f = records.frameworks.find(fid);
  Executor* e = records.executor_of_task(fid, tid);
  if (f == records.frameworks.end() || e == nullptr) {
    return;
  }
  auto t = e->tasks.find(tid);
  if (t == e->tasks.end() || !is_terminal_state(t->second.state())) {
    return;
  }
  e->completed.push_back(t->second);
  e->tasks.erase(t);
  records.forget_task(*e, tid);
  maybe_archive(f->second, e->executor_id);
}

void Slave::maybe_archive(Framework& f, const std::string& eid) {
  auto it = f.executors.find(eid);
  if (it == f.executors.end()) {
    return;
  }
  Executor& e = it->second;
  if (e.phase != Executor::Phase::TERMINATED || !e.tasks.empty() || !e.queued.empty()) {
    return;
  }
  forget_executor_checkpoint(f, eid);  // done and acknowledged
  gc_executor(e);
  f.completed_executors.push_back(records.erase_executor(f, eid));
  if (f.completed_executors.size() > MAX_COMPLETED_EXECUTORS) {
    f.completed_executors.erase(f.completed_executors.begin());
  }
  maybe_archive_framework(f.info.id().value());
}

void Slave::maybe_archive_framework(const std::string& fid) {
  auto it = records.frameworks.find(fid);
  if (it == records.frameworks.end() || !it->second.shutting_down || !it->second.executors.empty()) {
    return;
  }
  if (it->second.info.checkpoint()) {
    checkpoint_failed("the removal of framework " + fid + "'s checkpoint",
                      checkpoint::remove_all(framework_meta_path(opts.flags.work_dir, records.slave_id, fid)));
  }
  gc_framework(fid);
  records.completed_frameworks.push_back(std::move(it->second));
  while (records.completed_frameworks.size() > MAX_COMPLETED_FRAMEWORKS) {
    records.completed_frameworks.pop_front();
  }
  records.frameworks.erase(it);
}

void Slave::kill_all() {
  for (auto& [fid, f] : records.frameworks) {
    if (f.info.checkpoint()) {
      continue;  // they wait for the slave to come back (--recovery_timeout)
    }
    for (auto& [eid, e] : f.executors) {
      if (e.phase != Executor::Phase::TERMINATED && e.pid > 0) {
        self->send(containerizer, destroy_atom::value, e.container_id);
      }
    }
  }
}

}  // namespace stoa::slave
