// Checkpoints and recovery (docs/checkpoints.md): what the slave writes under
// <work_dir>/meta for frameworks that checkpoint, and how a restarted slave
// takes back what outlived it.
//
// Recovery (--recover=reconnect, the default, as Mesos): the checkpoint read
// at start (SlaveOptions::recovered) gives the slave its old id, frameworks,
// executors, tasks and status update streams. Each executor's latest run is
//   - RECOVERING when its process still runs and had registered: the slave
//     adopts the container and waits --executor_reregistration_timeout for
//     the executor's ReregisterExecutorMessage (executors only connect out, so
//     they come to the slave; Mesos' agent calls them instead);
//   - killed when it runs but had never registered (nothing it did can be
//     trusted), its tasks failed once it is gone;
//   - terminated when its process is gone: its unfinished tasks fail.
// Only when every RECOVERING executor has re-registered or been killed does
// the slave re-register with the master (as Mesos' agent does), so the master
// learns one consistent picture. Unacknowledged updates are re-sent then.
//
// --recover=cleanup kills every executor the checkpoint names, forgets the
// checkpoint (meta/slaves/latest) and registers as a new slave. (Mesos' agent
// exits after the cleanup instead; a supervisor would start it again anyway.)

#include <csignal>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "slave/checkpoint.hpp"
#include "actors/launcher.hpp"
#include "slave/paths.hpp"
#include "slave/slave_actor.hpp"

namespace stoa::slave {

using namespace stoa::internal;

bool container_process_alive(pid_t pid, const std::string& container_id) {
  // The pid may have been reused: the executor's environment names its container.
  return pid > 1 && process_running(pid) && environment_has(pid, "STOA_CONTAINER_ID=" + container_id);
}

// --- checkpoints ---------------------------------------------------------------

bool Slave::checkpointing(const std::string& framework_id) const {
  auto f = records.frameworks.find(framework_id);
  return f != records.frameworks.end() && f->second.info.checkpoint();
}

void Slave::checkpoint_failed(const std::string& what, const std::optional<Error>& error) {
  if (!error) {
    return;
  }
  metrics->inc("slave/checkpoint_errors");
  LOG_ERROR << "Cannot checkpoint " << what << ": " << error->message
            << " (a restarted slave may not recover it)";
}

void Slave::forget_executor_checkpoint(const Framework& f, const std::string& executor_id) {
  if (f.info.checkpoint()) {
    checkpoint_failed("the removal of executor " + executor_id + "'s checkpoint",
                      checkpoint::remove_all(executor_meta_path(opts.flags.work_dir, records.slave_id,
                                                                f.info.id().value(), executor_id)));
  }
}

void Slave::checkpoint_update(const Executor& e, const std::string& task_id, const StatusUpdateRecord& record) {
  if (!checkpointing(e.framework_id)) {
    return;
  }
  checkpoint_failed("the status update stream of task " + task_id,
                    checkpoint_update_record(opts.flags.work_dir, records.slave_id, e.framework_id, e.executor_id,
                                             e.container_id, task_id, record));
}

// --- recovery --------------------------------------------------------------------

void Slave::recover(SlaveCheckpoint cp) {
  if (opts.flags.recover == "cleanup") {
    int killed = 0;
    for (const auto& [fid, fc] : cp.frameworks) {
      for (const auto& [eid, ec] : fc.executors) {
        auto run = ec.runs.find(ec.latest_run);
        if (run == ec.runs.end() || run->second.completed || !run->second.forked_pid) {
          continue;
        }
        pid_t pid = *run->second.forked_pid;
        if (container_process_alive(pid, run->first)) {
          LOG_INFO << "--recover=cleanup: killing executor " << eid << " of framework " << fid << " (pid " << pid
                   << ")";
          signal_process_group(pid, SIGKILL);
          kill_container_leftovers(pid, run->first, SIGKILL);
          ++killed;
        }
      }
    }
    checkpoint_failed("the removal of the old checkpoint",
                      checkpoint::remove_all(latest_slave_meta_path(opts.flags.work_dir)));
    LOG_INFO << "--recover=cleanup: killed " << killed << " executors of slave " << cp.slave_id
             << "; registering as a new slave";
    return;
  }
  records.slave_id = cp.slave_id;
  records.info.mutable_id()->set_value(cp.slave_id);
  LOG_INFO << "Recovering slave " << cp.slave_id << " (" << cp.frameworks.size() << " frameworks"
           << (cp.errors > 0 ? ", " + std::to_string(cp.errors) + " unreadable entries skipped" : std::string())
           << ")";
  for (auto& [fid, fc] : cp.frameworks) {
    Framework f;
    f.info = fc.info;
    f.pid = fc.pid;
    f.info_checkpointed = true;
    Framework& added = records.frameworks.emplace(fid, std::move(f)).first->second;
    for (auto& [eid, ec] : fc.executors) {
      recover_executor(added, ec);
    }
    if (added.executors.empty()) {
      records.frameworks.erase(fid);
    }
  }
  gc_recovered(cp);
  gc_old_slaves();
  recovering = recovering_executors() > 0;
  metrics->set("slave/recovery_errors", static_cast<double>(cp.errors));
  if (recovering) {
    LOG_INFO << "Waiting " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                  opts.flags.executor_reregistration_timeout).count()
             << " ms for " << recovering_executors() << " executors to re-register";
    self->delayed_send(self, opts.flags.executor_reregistration_timeout, recovery_timeout_atom::value);
  } else {
    LOG_INFO << "Recovery finished: no executor to wait for";
  }
}

void Slave::recover_executor(Framework& f, const ExecutorCheckpoint& ec) {
  auto run = ec.runs.find(ec.latest_run);
  if (run == ec.runs.end()) {
    return;
  }
  const RunCheckpoint& rc = run->second;
  const std::string fid = f.info.id().value();
  Executor e;
  e.framework_id = fid;
  e.executor_id = ec.info.executor_id().value();
  e.container_id = rc.container_id;
  e.directory = sandbox_path(opts.flags.work_dir, records.slave_id, fid, e.executor_id, e.container_id);
  e.docker = ec.info.has_container() && ec.info.container().type() == ContainerInfo::DOCKER;
  std::vector<TaskID> unfinished;
  for (const auto& [tid, tc] : rc.tasks) {
    Task t = tc.task;
    for (const StatusUpdate& u : tc.updates) {
      record_status(t, u.status(), u.uuid());
    }
    if (tc.completed()) {
      e.completed.push_back(t);
      continue;
    }
    updates.recover(tc.updates, tc.acks.size());
    if (!is_terminal_state(t.state())) {
      unfinished.push_back(t.task_id());
    }
    Try<Resources> r = Resources::from_proto(t.resources());
    if (r.is_some()) {
      e.resources += *r;
    }
    e.tasks[tid] = std::move(t);
  }
  if (rc.completed && e.tasks.empty()) {
    return;  // terminated and acknowledged: nothing left to recover
  }
  bool alive = rc.forked_pid && !rc.completed && container_process_alive(*rc.forked_pid, rc.container_id);
  if (alive) {
    e.pid = *rc.forked_pid;
    e.phase = rc.registered ? Executor::Phase::RECOVERING : Executor::Phase::TERMINATING;
  } else {
    e.phase = Executor::Phase::TERMINATED;
  }
  const std::string eid = e.executor_id;
  const std::string cid = e.container_id;
  const Resources resources = e.resources;
  const bool docker = e.docker;
  records.add_executor(f, std::move(e));
  if (!alive) {
    std::string why = rc.completed           ? "Executor terminated before the slave restarted"
                      : !rc.forked_pid ? "Executor had not started when the slave restarted"
                                             : "Executor terminated while the slave was down";
    if (!rc.completed) {
      checkpoint_failed("the sentinel of executor " + eid,
                        checkpoint_executor_sentinel(opts.flags.work_dir, records.slave_id, fid, eid, cid));
    }
    if (!rc.completed && !rc.forked_pid) {
      // The slave died between the fork and the pid's checkpoint: the
      // process may run, known by its environment only. Its tasks are
      // failed below, so it must not go on (Mesos' child waits for the
      // checkpoint instead; ours is already past exec).
      if (int n = kill_container_leftovers(0, cid, SIGKILL); n > 0) {
        LOG_WARNING << "Killed " << n << " process(es) of executor " << eid << " (container " << cid
                    << "), started before the slave died but never checkpointed";
      }
    }
    for (const TaskID& id : unfinished) {
      slave_update(fid, eid, id, TASK_FAILED, TaskStatus::REASON_EXECUTOR_TERMINATED, why);
    }
    LOG_INFO << "Recovered terminated executor " << eid << " of framework " << fid << ": " << why;
    return;
  }
  // Its process runs: the containerizer watches it from now on.
  self->request(containerizer, caf::infinite, adopt_atom::value, AdoptConfig{cid, *rc.forked_pid, resources, docker})
      .then([this, cid](bool) { watch_container(cid); },
            [this, cid](caf::error& err) {
              LOG_ERROR << "Cannot adopt container " << cid << ": " << self->system().render(err);
              on_reaped(cid, -1);
            });
  if (!rc.registered) {
    LOG_WARNING << "Killing executor " << eid << " of framework " << fid << " (pid " << *rc.forked_pid
                << "): it had not registered when the slave restarted";
    self->send(containerizer, destroy_atom::value, cid);
  } else {
    LOG_INFO << "Recovered executor " << eid << " of framework " << fid << " (pid " << *rc.forked_pid
             << "); waiting for it to re-register";
  }
}

void Slave::watch_container(const std::string& cid) {
  self->request(containerizer, caf::infinite, wait_atom::value, cid)
      .then([this, cid](int32_t status) { on_reaped(cid, status); },
            [this, cid](caf::error& err) {
              LOG_ERROR << "Lost the container " << cid << ": " << self->system().render(err);
              on_reaped(cid, -1);
            });
}

size_t Slave::recovering_executors() const {
  size_t n = 0;
  for (const auto& [fid, f] : records.frameworks) {
    for (const auto& [eid, e] : f.executors) {
      n += e.phase == Executor::Phase::RECOVERING ? 1 : 0;
    }
  }
  return n;
}

void Slave::on_reregister_executor(ReregisterExecutorMessage& m) {
  caf::actor from = caf::actor_cast<caf::actor>(self->current_sender());
  if (!from) {
    return;
  }
  const std::string fid = m.framework_id().value();
  const std::string eid = m.executor_id().value();
  auto f = records.frameworks.find(fid);
  Executor* e = nullptr;
  if (f != records.frameworks.end()) {
    auto it = f->second.executors.find(eid);
    if (it != f->second.executors.end()) {
      e = &it->second;
    }
  }
  if (e != nullptr && e->phase == Executor::Phase::RUNNING && e->handle == from) {
    ExecutorReregisteredMessage again;  // a retry that crossed our answer
    again.mutable_slave_id()->set_value(records.slave_id);
    *again.mutable_slave_info() = records.info;
    self->send(from, again);
    return;
  }
  // An HTTP executor whose stream broke may subscribe again while it runs
  // (Mesos' agent takes it back too); an executor actor comes back only to
  // a restarted slave.
  const bool back = e != nullptr && (e->phase == Executor::Phase::RECOVERING ||
                                     (e->phase == Executor::Phase::RUNNING && e->http && !e->handle));
  if (!back) {
    LOG_WARNING << "Refusing the re-registration of executor " << eid << " of framework " << fid << ": "
                << (e == nullptr ? "unknown to this slave" : "it is not waiting to be recovered");
    refuse_executor(from, m.executor_id(), m.framework_id());
    return;
  }
  executor_registered(*e, from);
  LOG_INFO << "Executor " << eid << " of framework " << fid << " re-registered with " << m.tasks_size()
           << " tasks and " << m.updates_size() << " unacknowledged updates";
  ExecutorReregisteredMessage reply;
  reply.mutable_slave_id()->set_value(records.slave_id);
  *reply.mutable_slave_info() = records.info;
  self->send(from, reply);
  // Tasks the slave had sent that the executor never got are lost.
  std::set<std::string> known;
  for (const TaskInfo& ti : m.tasks()) {
    known.insert(ti.task_id().value());
  }
  std::vector<TaskID> dropped;
  for (const auto& [tid, t] : e->tasks) {
    if (!known.count(tid) && t.state() == TASK_STAGING) {
      dropped.push_back(t.task_id());
    }
  }
  for (const TaskID& id : dropped) {
    slave_update(fid, eid, id, TASK_LOST, TaskStatus::REASON_SLAVE_RESTARTED,
                 "The executor never received the task before the slave restarted");
  }
  // Its unacknowledged updates, as if sent now (duplicates are dropped by uuid).
  for (const StatusUpdate& u : m.updates()) {
    StatusUpdateMessage um;
    *um.mutable_update() = u;
    on_executor_update(um);
  }
  maybe_finish_recovery();
}

void Slave::on_recovery_timeout() {
  if (!recovering) {
    return;
  }
  for (auto& [fid, f] : records.frameworks) {
    for (auto& [eid, e] : f.executors) {
      if (e.phase == Executor::Phase::RECOVERING) {
        LOG_WARNING << "Killing executor " << eid << " of framework " << fid
                    << ": it did not re-register within --executor_reregistration_timeout";
        e.phase = Executor::Phase::TERMINATING;
        self->send(containerizer, destroy_atom::value, e.container_id);
      }
    }
  }
  maybe_finish_recovery();
}

void Slave::maybe_finish_recovery() {
  if (!recovering || recovering_executors() > 0) {
    return;
  }
  recovering = false;
  LOG_INFO << "Recovery finished; re-registering with the master";
  if (master) {
    send_registration();
  }
}

}  // namespace stoa::slave
