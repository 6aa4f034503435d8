// Reconciliation in the master (Mesos semantics): a framework's explicit and
// implicit reconciliation, the answer for a task the master does not hold,
// the reconciliation of a known slave that re-registers (Mesos'
// reconcileKnownSlave), the kills kept for slaves that are away, and the
// partition-aware frameworks' unreachable tasks.
//
// Answers for a task the framework does not hold running (all with
// REASON_RECONCILIATION, source master; PA = the framework is
// PARTITION_AWARE):
//   unreachable task of the framework / its slave unreachable
//                                     -> TASK_UNREACHABLE (PA) / TASK_LOST
//   slave recovered from the registry, not re-registered yet -> no answer
//   slave registered                  -> TASK_GONE (PA) / TASK_LOST
//   slave unknown, or no slave id     -> TASK_UNKNOWN (PA) / TASK_LOST

#include <caf/all.hpp>

#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "master/events.hpp"
#include "master/master_actor.hpp"

namespace stoa::master {

using namespace stoa::internal;
using stoa::scheduler::Call;
using stoa::scheduler::Event;

bool partition_aware(const FrameworkInfo& info) {
  for (const auto& c : info.capabilities()) {
    if (c.type() == FrameworkInfo::Capability::PARTITION_AWARE) {
      return true;
    }
  }
  return false;
}

bool Master::framework_removed(const std::string& fid) const {
  if (st.removed_frameworks.count(fid) != 0) {
    return true;
  }
  for (const FrameworkRecord& done : st.completed_frameworks) {
    if (done.id == fid) {
      return true;
    }
  }
  return false;
}

void Master::send_reconciliation(FrameworkRecord& f, const TaskID& tid, const std::string& slave_id,
                                 TaskState state, const std::string& message) {
  send_update(f, master_status(tid, slave_id, state, TaskStatus::REASON_RECONCILIATION, message));
}

std::optional<TaskState> Master::unknown_task_state(const FrameworkRecord& f, const TaskID& tid,
                                                    const std::optional<std::string>& slave_id) {
  const bool pa = partition_aware(f.info);
  if (f.unreachable_tasks.count(tid.value()) != 0) {
    return pa ? TASK_UNREACHABLE : TASK_LOST;
  }
  if (!slave_id) {
    return pa ? TASK_UNKNOWN : TASK_LOST;
  }
  if (st.recovered_slaves.count(*slave_id) != 0) {
    return std::nullopt;  // no answer until it re-registers (Mesos)
  }
  if (st.slaves.count(*slave_id) != 0) {
    return pa ? TASK_GONE : TASK_LOST;
  }
  if (st.unreachable_slaves.count(*slave_id) != 0) {
    return pa ? TASK_UNREACHABLE : TASK_LOST;
  }
  return pa ? TASK_UNKNOWN : TASK_LOST;
}

void Master::on_reconcile(FrameworkRecord& f, const Call::Reconcile& r) {
  auto send_state = [&](const Task& t) {
    TaskStatus s = master_status(t.task_id(), t.slave_id().value(),
                                 t.has_status_update_state() ? t.status_update_state() : t.state(),
                                 TaskStatus::REASON_RECONCILIATION, "Reconciliation: latest task state");
    // As Mesos: the latest status' health and labels go along, so a
    // scheduler that lost its memory (a failed-over stoa-services) learns a
    // task's health again; executors only report health when it changes.
    if (t.statuses_size() > 0) {
      const TaskStatus& latest = t.statuses(t.statuses_size() - 1);
      if (latest.has_healthy()) {
        s.set_healthy(latest.healthy());
      }
      if (latest.has_labels()) {
        *s.mutable_labels() = latest.labels();
      }
    }
    send_update(f, s);
  };
  if (r.tasks_size() == 0) {
    // Implicit: every task the master holds (terminal ones stay until
    // acknowledged) and the unreachable ones.
    for (const auto& [tid, t] : f.tasks) {
      send_state(t);
    }
    for (const auto& [tid, t] : f.unreachable_tasks) {
      send_reconciliation(f, t.task_id(), t.slave_id().value(), TASK_UNREACHABLE,
                          "Reconciliation: task is unreachable");
    }
    for (const PendingLaunch& l : pending_launches) {
      if (l.framework_id == f.id) {
        for (const TaskInfo& t : l.tasks) {
          send_reconciliation(f, t.task_id(), l.slave_id, TASK_STAGING, "Reconciliation: task is pending");
        }
      }
    }
    return;
  }
  for (const auto& rt : r.tasks()) {
    auto it = f.tasks.find(rt.task_id().value());
    if (it != f.tasks.end()) {
      send_state(it->second);
      continue;
    }
    if (const TaskInfo* pending = pending_task(f.id, rt.task_id().value())) {
      // Accepted, not launched yet (Mesos: a pending task is TASK_STAGING).
      send_reconciliation(f, pending->task_id(), pending->slave_id().value(), TASK_STAGING,
                          "Reconciliation: task is pending");
      continue;
    }
    std::optional<std::string> sid;
    if (auto u = f.unreachable_tasks.find(rt.task_id().value()); u != f.unreachable_tasks.end()) {
      sid = u->second.slave_id().value();
    } else if (rt.has_slave_id() && !rt.slave_id().value().empty()) {
      sid = rt.slave_id().value();
    }
    std::optional<TaskState> state = unknown_task_state(f, rt.task_id(), sid);
    if (state) {
      send_reconciliation(f, rt.task_id(), sid.value_or(""), *state,
                          *state == TASK_UNREACHABLE ? "Reconciliation: task is unreachable"
                                                     : "Reconciliation: task is unknown");
    }
  }
}

// A partition-aware framework's task on a slave marked unreachable: the
// framework hears TASK_UNREACHABLE, the resources go back, the master keeps
// the task until its slave comes back (or the framework goes).
void Master::mark_task_unreachable(FrameworkRecord& f, const std::string& tid, const std::string& message) {
  auto it = f.tasks.find(tid);
  if (it == f.tasks.end()) {
    return;
  }
  Task task = it->second;
  if (is_terminal_state(task.state())) {
    // Already ended on the slave (unacknowledged, resources released): it
    // completes here.
    remove_task(f, task, false);
    return;
  }
  Try<Resources> r = Resources::from_proto(task.resources());
  if (r.is_some()) {
    tell_allocator(allocator::RecoverResources{f.id, task.slave_id().value(), std::move(*r), std::nullopt});
  }
  tally_task_removing(f.id, it->second);
  if (auto s = st.slaves.find(task.slave_id().value()); s != st.slaves.end()) {
    st.slaves.edit(s).tasks.erase({f.id, tid});
  }
  f.tasks.erase(it);
  TaskInfo info;
  *info.mutable_task_id() = task.task_id();
  *info.mutable_slave_id() = task.slave_id();
  send_master_update(f, info, TASK_UNREACHABLE, TaskStatus::REASON_SLAVE_REMOVED, message);
  task.set_state(TASK_UNREACHABLE);
  events::task_updated(*this, task, master_status(task.task_id(), task.slave_id().value(), TASK_UNREACHABLE,
                                                  TaskStatus::REASON_SLAVE_REMOVED, message));
  add_unreachable_task(f, std::move(task));
}

void Master::shutdown_removed_frameworks(const caf::actor& to, const ReregisterSlaveMessage& m) {
  std::set<std::string> ids;
  for (const FrameworkInfo& fi : m.frameworks()) {
    if (fi.has_id() && framework_removed(fi.id().value())) {
      ids.insert(fi.id().value());
    }
  }
  for (const Task& t : m.tasks()) {
    if (framework_removed(t.framework_id().value())) {
      ids.insert(t.framework_id().value());
    }
  }
  for (const std::string& fid : ids) {
    LOG_INFO << "Slave " << m.slave().id().value() << " reports removed framework " << fid << ": shutting it down";
    ShutdownFrameworkMessage shutdown;
    shutdown.mutable_framework_id()->set_value(fid);
    self->send(to, shutdown);
  }
}

void Master::send_pending_kills(const std::string& slave_id, const caf::actor& to) {
  auto it = pending_kills.find(slave_id);
  if (it == pending_kills.end()) {
    return;
  }
  auto kills = std::move(it->second);
  pending_kills.erase(it);
  for (const auto& [key, kill] : kills) {
    auto f = st.frameworks.find(key.first);
    auto t = f == st.frameworks.end() ? nullptr : &f->second.tasks;
    if (t != nullptr && t->count(key.second) != 0 && !is_terminal_state(t->at(key.second).state())) {
      LOG_INFO << "Re-sending the kill of task " << key.second << " to slave " << slave_id;
      self->send(to, kill);
    }
  }
}

void Master::forget_pending_kill(const std::string& slave_id, const std::string& fid, const std::string& tid) {
  auto it = pending_kills.find(slave_id);
  if (it == pending_kills.end()) {
    return;
  }
  it->second.erase({fid, tid});
  if (it->second.empty()) {
    pending_kills.erase(it);
  }
}

// Mesos' reconcileKnownSlave. A task the master holds on the slave and the
// slave does not report is gone: TASK_DROPPED (partition-aware) or
// TASK_LOST, with REASON_TASK_UNKNOWN as Mesos sends. Terminal tasks the
// slave reports unacknowledged stay as they are.
void Master::reconcile_known_slave(SlaveRecord& s, const ReregisterSlaveMessage& m) {
  std::set<std::pair<std::string, std::string>> reported;
  for (const Task& t : m.tasks()) {
    reported.insert({t.framework_id().value(), t.task_id().value()});
  }
  std::vector<std::pair<std::string, std::string>> missing;
  for (const auto& key : s.tasks) {
    if (reported.count(key) == 0) {
      missing.push_back(key);
    }
  }
  for (const auto& [fid, tid] : missing) {
    auto f = st.frameworks.find(fid);
    if (f == st.frameworks.end() || f->second.tasks.count(tid) == 0) {
      s.tasks.erase({fid, tid});
      continue;
    }
    const TaskState state = partition_aware(f->second.info) ? TASK_DROPPED : TASK_LOST;
    LOG_WARNING << "Task " << tid << " of framework " << fid << " is unknown to re-registered slave " << s.id
                << ": " << TaskState_Name(state);
    end_task(fid, tid, state, TaskStatus::REASON_TASK_UNKNOWN, "Task is unknown to the slave");
  }
  shutdown_removed_frameworks(s.handle, m);
  send_pending_kills(s.id, s.handle);
}

}  // namespace stoa::master
