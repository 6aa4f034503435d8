// Tasks in the master: status updates from slaves, kill, acknowledgement,
// and the messages between frameworks and executors (reconciliation:
// reconciliation.cpp).

#include <caf/all.hpp>

#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "master/events.hpp"
#include "master/master_actor.hpp"

namespace stoa::master {

using namespace stoa::internal;
using stoa::scheduler::Call;
using stoa::scheduler::Event;

TaskStatus master_status(const TaskID& task_id, const std::string& slave_id, TaskState state,
                         TaskStatus::Reason reason, const std::string& message) {
  TaskStatus s;
  *s.mutable_task_id() = task_id;
  s.set_state(state);
  s.set_reason(reason);
  s.set_source(TaskStatus::SOURCE_MASTER);
  s.set_message(message);
  s.set_timestamp(now_seconds());
  if (!slave_id.empty()) {
    s.mutable_slave_id()->set_value(slave_id);
  }
  return s;
}

void Master::send_update(FrameworkRecord& f, const TaskStatus& status) {
  Event e;
  e.set_type(Event::UPDATE);
  *e.mutable_update()->mutable_status() = status;
  send_event(f, std::move(e));
}

void Master::send_update(FrameworkRecord& f, TaskStatus* status) {
  // Built where it goes: in a kept element of the framework's batch, whose
  // cleared status `status` (an update's, parsed into a recycled batch)
  // takes for the next parse; or in an event of its own.
  const bool batched = f.connected && f.handle && f.batched_events;
  Event single;
  Event& e = batched ? batched_event(f.handle) : single;
  e.set_type(Event::UPDATE);
  e.mutable_update()->mutable_status()->Swap(status);
  if (!batched) {
    send_event(f, std::move(single));
  }
}

// An update the master itself generates: no uuid, never acknowledged.
void Master::send_master_update(FrameworkRecord& f, const TaskInfo& task, TaskState state,
                                TaskStatus::Reason reason, const std::string& message) {
  count_task_state(state);
  send_update(f, master_status(task.task_id(), task.slave_id().value(), state, reason, message));
}

// Moves a task to completed_tasks; `release` returns its resources.
void Master::remove_task(FrameworkRecord& f, const Task& task, bool release) {
  const std::string& tid = task.task_id().value();
  const std::string& sid = task.slave_id().value();
  if (release) {
    Try<Resources> r = Resources::from_proto(task.resources());
    if (r.is_some()) {
      tell_allocator(allocator::RecoverResources{f.id, sid, std::move(*r), std::nullopt});
    }
  }
  if (auto stored = f.tasks.find(tid); stored != f.tasks.end()) {
    tally_task_removing(f.id, stored->second);
  }
  if (auto s = st.slaves.find(sid); s != st.slaves.end()) {
    st.slaves.edit(s).tasks.erase({f.id, tid});
  }
  forget_pending_kill(sid, f.id, tid);
  f.tasks.erase(tid);
  f.completed_tasks.push_back(task);
  while (f.completed_tasks.size() > static_cast<size_t>(opts.flags.max_completed_tasks_per_framework)) {
    f.completed_tasks.pop_front();
  }
}

// Every update is forwarded (the framework acknowledges it through us),
// its status moved into the event rather than copied. The task keeps one
// status per state change: a repeated state (a health check's TASK_RUNNING)
// replaces the last one, as in Mesos, so a long-running task's statuses do
// not grow with its updates (Mesos' agent puts the container's status on
// every update; ours only on the first TASK_RUNNING, so it is carried over).
void Master::on_status_update(StatusUpdateMessage& m) {
  on_status_update(m, self->current_sender() ? slave_by_handle(self->current_sender()->address()) : nullptr);
}

void Master::on_status_update(StatusUpdateMessage& m, const SlaveRecord* slave) {
  hot.status_update_messages->inc();
  internal::StatusUpdate& u = *m.mutable_update();
  if (!self->current_sender()) {
    LOG_WARNING << "Dropping an anonymous status update for task " << u.status().task_id().value();
    count("master/invalid_status_updates");
    return;
  }
  const std::string& claimed = u.slave_id().value();
  if (slave == nullptr && st.removed_slaves.count(claimed) != 0) {
    count("master/invalid_status_updates");
    shutdown_slave(sender_actor(), "Slave " + claimed + " has been removed: status update for task " +
                                       u.status().task_id().value() + " refused");
    return;
  }
  if (slave == nullptr && st.unreachable_slaves.count(claimed) != 0) {
    // It re-registers on its own after its ping timeout, then retries.
    LOG_WARNING << "Dropping a status update for task " << u.status().task_id().value() << " from slave "
                << claimed << ", which is unreachable";
    count("master/invalid_status_updates");
    count("master/messages_from_unreachable_slaves");
    return;
  }
  if (slave == nullptr || !slave->active) {
    LOG_WARNING << "Dropping a status update for task " << u.status().task_id().value()
                << " from a slave that is not registered (it retries after registering)";
    count("master/invalid_status_updates");
    return;
  }
  auto f = st.frameworks.find(u.framework_id().value());
  if (f == st.frameworks.end()) {
    LOG_WARNING << "Dropping a status update for task " << u.status().task_id().value()
                << " of unknown framework " << u.framework_id().value();
    count("master/invalid_status_updates");
    return;
  }
  FrameworkRecord& fw = f->second;
  auto t = fw.tasks.find(u.status().task_id().value());
  if (t == fw.tasks.end()) {
    // Unknown task (e.g. already completed): still forward so the
    // framework can acknowledge and the slave can clean up.
    send_update(fw, u.mutable_status());
    return;
  }
  const TaskStatus& status = u.status();
  TaskState latest = u.has_latest_state() ? u.latest_state() : status.state();
  const TaskState before = t->second.state();
  bool was_terminal = is_terminal_state(before);
  if (was_terminal && !is_terminal_state(latest)) {
    // A terminal task stays terminal (as in Mesos): an older update re-sent
    // after the task ended (a TASK_RUNNING whose acknowledgement a failover
    // lost, from a slave that no longer holds the task and so sends no
    // latest state) must not bring it back, nor count its resources, which
    // were released when it ended, as used again.
    latest = before;
  }
  // Between two live states (or two terminal ones) its slave's used
  // resources stay as they were.
  Task& task = was_terminal == is_terminal_state(latest) ? fw.tasks.edit_untouched(t) : fw.tasks.edit(t);
  task.set_state(latest);
  tally_task_state(fw.id, task, before);
  task.set_status_update_state(status.state());
  task.set_status_update_uuid(u.uuid());
  // A retry of an update the master already has (the slave re-sends until
  // acknowledged) is the last status kept for its state.
  bool known = false;
  for (const TaskStatus& s : task.statuses()) {
    if (s.state() == status.state() && s.uuid() == status.uuid()) {
      known = true;
      break;
    }
  }
  if (!known) {
    TaskStatus* kept = keep_status(task, status);
    kept->clear_message();
    kept->clear_data();
    count_task_state(status.state());
    events::task_updated(*this, task, status);
  }
  hot.valid_status_updates->inc();
  bool now_terminal = !was_terminal && is_terminal_state(latest);
  bool remove = is_terminal_state(status.state()) && u.uuid().empty();
  send_update(fw, u.mutable_status());
  if (now_terminal) {
    // Release resources as soon as the task is terminal on the slave,
    // even before the framework acknowledges (Mesos does the same).
    Try<Resources> r = Resources::from_proto(task.resources());
    if (r.is_some()) {
      tell_allocator(allocator::RecoverResources{fw.id, task.slave_id().value(), std::move(*r), std::nullopt});
    }
  }
  if (remove) {
    Task copy = task;
    remove_task(fw, copy, false);
  }
}

// A kill of a task the master does not hold gets the reconciliation answer
// for it (Mesos); a kill of a task whose slave is away (disconnected or
// unreachable) is kept and sent when the slave re-registers.
void Master::on_kill(FrameworkRecord& f, const Call::Kill& k) {
  KillTaskMessage kill;
  kill.mutable_framework_id()->set_value(f.id);
  *kill.mutable_task_id() = k.task_id();
  if (k.has_kill_policy()) {
    *kill.mutable_kill_policy() = k.kill_policy();
  }
  const std::string& tid = k.task_id().value();
  if (auto u = f.unreachable_tasks.find(tid); u != f.unreachable_tasks.end()) {
    pending_kills[u->second.slave_id().value()][{f.id, tid}] = kill;
    return;
  }
  if (std::optional<TaskInfo> pending = take_pending_task(f.id, tid)) {
    // Accepted but not launched yet (a big ACCEPT launches over several
    // turns): it never will be (Mesos' kill of a pending task).
    send_master_update(f, *pending, TASK_KILLED, TaskStatus::REASON_TASK_KILLED_DURING_LAUNCH,
                       "Killed before it was launched");
    return;
  }
  auto it = f.tasks.find(tid);
  if (it == f.tasks.end()) {
    std::optional<std::string> sid;
    if (k.has_slave_id() && !k.slave_id().value().empty()) {
      sid = k.slave_id().value();
    }
    if (std::optional<TaskState> state = unknown_task_state(f, k.task_id(), sid)) {
      send_reconciliation(f, k.task_id(), sid.value_or(""), *state,
                          "Cannot kill task " + tid + ": it is unknown to the master");
    }
    return;
  }
  const std::string& sid = it->second.slave_id().value();
  auto s = st.slaves.find(sid);
  if (s == st.slaves.end() || !s->second.active) {
    LOG_INFO << "Keeping the kill of task " << tid << " until slave " << sid << " re-registers";
    pending_kills[sid][{f.id, tid}] = kill;
    return;
  }
  self->send(s->second.handle, kill);
}

void Master::on_acknowledge(FrameworkRecord& f, const Call::Acknowledge& ack) {
  auto s = st.slaves.find(ack.slave_id().value());
  if (s == st.slaves.end() || !s->second.active) {
    count("master/invalid_status_update_acknowledgements");
    return;  // the slave retries the update later
  }
  auto t = f.tasks.find(ack.task_id().value());
  if (t != f.tasks.end() && t->second.has_status_update_uuid() && t->second.status_update_uuid() == ack.uuid() &&
      is_terminal_state(t->second.status_update_state())) {
    Task task = t->second;
    remove_task(f, task, false);
  }
  // Built where it goes: in the slave's batch, or in a message of its own.
  const bool batched = collecting_acknowledgements && s->second.batched_acknowledgements;
  StatusUpdateAcknowledgementMessage single;
  StatusUpdateAcknowledgementMessage& m = batched ? batch_acknowledgement(s->second.handle) : single;
  *m.mutable_slave_id() = ack.slave_id();
  m.mutable_framework_id()->set_value(f.id);
  *m.mutable_task_id() = ack.task_id();
  m.set_uuid(ack.uuid());
  if (!batched) {
    self->send(s->second.handle, std::move(single));
  }
  hot.valid_acknowledgements->inc();
}

void Master::on_framework_message(FrameworkRecord& f, const Call::Message& m) {
  auto s = st.slaves.find(m.slave_id().value());
  if (s == st.slaves.end() || !s->second.active) {
    count("master/invalid_framework_to_executor_messages");
    return;
  }
  FrameworkToExecutorMessage out;
  *out.mutable_slave_id() = m.slave_id();
  out.mutable_framework_id()->set_value(f.id);
  *out.mutable_executor_id() = m.executor_id();
  out.set_data(m.data());
  self->send(s->second.handle, out);
}

// The framework an executor's message from slave `slave_id` is for; null
// (counted when the sender is not that slave) when it cannot be delivered.
FrameworkRecord* Master::framework_of_slave_message(const SlaveID& slave_id, const FrameworkID& framework_id) {
  const SlaveRecord* sender = self->current_sender() ? slave_by_handle(self->current_sender()->address()) : nullptr;
  if (sender == nullptr && st.removed_slaves.count(slave_id.value()) != 0) {
    count("master/dropped_messages");
    shutdown_slave(sender_actor(), "Slave " + slave_id.value() + " has been removed");
    return nullptr;
  }
  if (sender == nullptr && st.unreachable_slaves.count(slave_id.value()) != 0) {
    LOG_WARNING << "Dropping a message from slave " << slave_id.value() << ", which is unreachable";
    count("master/messages_from_unreachable_slaves");
    return nullptr;
  }
  if (!from_slave(slave_id.value())) {
    count("master/dropped_messages");
    return nullptr;
  }
  auto f = st.frameworks.find(framework_id.value());
  return f == st.frameworks.end() ? nullptr : &f->second;
}

void Master::on_exited_executor(ExitedExecutorMessage& m) {
  FrameworkRecord* f = framework_of_slave_message(m.slave_id(), m.framework_id());
  if (f == nullptr) {
    return;
  }
  Event e;
  e.set_type(Event::FAILURE);
  *e.mutable_failure()->mutable_slave_id() = m.slave_id();
  *e.mutable_failure()->mutable_executor_id() = m.executor_id();
  e.mutable_failure()->set_status(m.status());
  send_event(*f, e);
}

void Master::on_executor_message(ExecutorToFrameworkMessage& m) {
  count("master/messages_executor_to_framework");
  FrameworkRecord* f = framework_of_slave_message(m.slave_id(), m.framework_id());
  if (f == nullptr) {
    return;
  }
  Event e;
  e.set_type(Event::MESSAGE);
  *e.mutable_message()->mutable_slave_id() = m.slave_id();
  *e.mutable_message()->mutable_executor_id() = m.executor_id();
  e.mutable_message()->set_data(m.data());
  send_event(*f, e);
}

}  // namespace stoa::master
