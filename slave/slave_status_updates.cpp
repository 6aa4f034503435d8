// Status updates: an executor's update (acknowledged to the executor at
// once) or one the slave makes itself is recorded on its task, then sent to
// the master through the task's stream (status_update_manager.hpp): one
// update in flight per task, re-sent with backoff
// (STATUS_UPDATE_RETRY_INTERVAL_MIN doubling to _MAX) until the master
// acknowledges it, resumed on re-registration.

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/send_batch.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"
#include "slave/slave_actor.hpp"
#include "slave/slave_metrics.hpp"

namespace stoa::slave {

using namespace stoa::internal;

void Slave::slave_update(const std::string& fid, const std::string& eid, const TaskID& task_id, TaskState state,
                         TaskStatus::Reason reason, const std::string& message) {
  StatusUpdate u;
  u.mutable_framework_id()->set_value(fid);
  u.mutable_executor_id()->set_value(eid);
  u.mutable_slave_id()->set_value(records.slave_id);
  std::string uuid = random_uuid_bytes();
  TaskStatus* s = u.mutable_status();
  *s->mutable_task_id() = task_id;
  s->set_state(state);
  s->set_reason(reason);
  s->set_source(TaskStatus::SOURCE_SLAVE);
  s->set_message(message);
  s->set_timestamp(now_seconds());
  s->mutable_slave_id()->set_value(records.slave_id);
  s->set_uuid(uuid);
  u.set_timestamp(now_seconds());
  u.set_uuid(uuid);
  handle_update(u);
}

void Slave::on_executor_update(StatusUpdateMessage& m) {
  caf::actor from = caf::actor_cast<caf::actor>(self->current_sender());
  if (!from) {
    return;  // anonymous: not from an executor
  }
  executor_update(m, from);
}

void Slave::executor_update(StatusUpdateMessage& m, const caf::actor& from) {
  StatusUpdate u = m.update();
  if (u.uuid().empty()) {
    LOG_WARNING << "Dropping a status update without uuid from an executor";
    metrics->inc("slave/invalid_status_updates");
    return;
  }
  u.mutable_slave_id()->set_value(records.slave_id);
  u.mutable_status()->mutable_slave_id()->set_value(records.slave_id);
  if (!archived_update(u)) {
    handle_update(u);
  }
  // The executor may forget the update once the slave has it (checkpointed,
  // when its framework checkpoints).
  StatusUpdateAcknowledgementMessage ack;
  ack.mutable_slave_id()->set_value(records.slave_id);
  *ack.mutable_framework_id() = u.framework_id();
  *ack.mutable_task_id() = u.status().task_id();
  ack.set_uuid(u.uuid());
  self->send(from, ack);
}

bool Slave::archived_update(const StatusUpdate& u) {
  const std::string& tid = u.status().task_id().value();
  if (records.find_task(u.framework_id().value(), tid) != nullptr) {
    return false;
  }
  auto f = records.frameworks.find(u.framework_id().value());
  if (f == records.frameworks.end()) {
    return false;
  }
  auto e = f->second.executors.find(u.executor_id().value());
  if (e == f->second.executors.end()) {
    return false;
  }
  for (const Task& done : e->second.completed) {
    if (done.task_id().value() == tid) {
      // Its terminal update was acknowledged already (an executor re-sending
      // it after a slave restart): the framework must not see it twice.
      LOG_INFO << "Ignoring an update for task " << tid << ", which is complete";
      return true;
    }
  }
  return false;
}

void Slave::handle_update(StatusUpdate& u) {
  const std::string fid = u.framework_id().value();
  const std::string tid = u.status().task_id().value();
  auto f = records.frameworks.find(fid);
  if (f != records.frameworks.end()) {
    auto e = f->second.executors.find(u.executor_id().value());
    if (e != f->second.executors.end()) {
      auto t = e->second.tasks.find(tid);
      if (t != e->second.tasks.end()) {
        // A re-sent update (one of the stream's last) is recorded once.
        if (!updates.remembers({fid, tid}, u.uuid())) {
          StatusUpdateRecord record;
          record.set_type(StatusUpdateRecord::UPDATE);
          *record.mutable_update() = u;
          checkpoint_update(e->second, tid, record);
          if (is_terminal_state(u.status().state())) {
            metrics->inc(task_state_metric(u.status().state()));
          }
          record_status(t->second, u.status(), u.uuid());
        }
        u.set_latest_state(t->second.state());
      }
    }
  }
  metrics->inc("slave/valid_status_updates");
  if (updates.update(u)) {
    forward(u);
  }
}

void Slave::forward(const StatusUpdate& u) {
  if (!records.registered || !master) {
    return;  // re-sent on (re-)registration
  }
  // Built where it goes: in the batch (a kept element), or alone.
  StatusUpdateMessage single;
  StatusUpdateMessage& m = update_batch ? *update_batch->add_updates() : single;
  *m.mutable_update() = u;
  m.set_pid(opts.upid.str());
  // The latest known state of the task, which may be newer than the head.
  if (Task* t = records.find_task(u.framework_id().value(), u.status().task_id().value())) {
    m.mutable_update()->set_latest_state(t->state());
  }
  if (!update_batch) {
    self->send(master, std::move(single));
  }  // else sent by on_acknowledgements
  retries.sent({u.framework_id().value(), u.status().task_id().value()}, u.uuid(), self->clock().now(),
               STATUS_UPDATE_RETRY_INTERVAL_MIN);
  arm_update_retry();
}

void Slave::arm_update_retry() {
  std::optional<UpdateRetries::TimePoint> next = retries.next();
  if (!next || (retry_timer && *retry_timer <= *next)) {
    return;  // nothing to retry, or the armed timer comes first
  }
  retry_timer = next;
  self->delayed_send(self, std::max<caf::timespan>(*next - self->clock().now(), caf::timespan{0}),
                     update_retry_atom::value, static_cast<int64_t>(next->time_since_epoch().count()));
}

void Slave::on_update_retry(int64_t deadline) {
  if (retry_timer && retry_timer->time_since_epoch().count() == deadline) {
    retry_timer.reset();
  }  // else a timer armed before an earlier deadline came: the armed one stays
  for (UpdateRetries::Due& due : retries.take_due(self->clock().now())) {
    const StatusUpdate* head = updates.head(due.key);
    if (head == nullptr || head->uuid() != due.uuid || !records.registered || !master) {
      continue;  // acknowledged, or re-sent on (re-)registration
    }
    StatusUpdateMessage m;
    *m.mutable_update() = *head;
    m.set_pid(opts.upid.str());
    self->send(master, m);
    retries.sent(due.key, due.uuid, self->clock().now(), UpdateRetries::backoff(due.interval));
  }
  arm_update_retry();
}

void Slave::on_acknowledgement(StatusUpdateAcknowledgementMessage& m) {
  const StatusUpdate* head = updates.head({m.framework_id().value(), m.task_id().value()});
  const bool running = head != nullptr && head->uuid() == m.uuid() && head->status().state() == TASK_RUNNING;
  bool matched = false;
  std::optional<StatusUpdate> next =
      updates.acknowledge(m.framework_id().value(), m.task_id().value(), m.uuid(), &matched);
  if (!matched) {
    return;
  }
  retries.acknowledged({m.framework_id().value(), m.task_id().value()});
  if (running) {
    // The framework has the task's TASK_RUNNING: its launch is over, so a
    // pooled executor it took is replaced now (slave_pool.cpp). Sooner, the
    // replacement's start competes with the launch's last hops (the
    // acknowledgement of TASK_STARTING, TASK_RUNNING to the master).
    fill_pool();
  }
  if (Executor* e = records.executor_of_task(m.framework_id().value(), m.task_id().value())) {
    StatusUpdateRecord record;
    record.set_type(StatusUpdateRecord::ACK);
    record.set_uuid(m.uuid());
    checkpoint_update(*e, m.task_id().value(), record);
  }
  if (next) {
    forward(*next);
  }
  if (updates.done({m.framework_id().value(), m.task_id().value()})) {
    complete_task(m.framework_id().value(), m.task_id().value());
  }
}

// Each acknowledgement as if it came alone; the updates they release (the
// next of each stream) go to the master together, after them.
void Slave::on_acknowledgements(StatusUpdateAcknowledgementsMessage& m) {
  update_batch.emplace();
  take_recycled(*update_batch);
  for (StatusUpdateAcknowledgementMessage& ack : *m.mutable_acknowledgements()) {
    on_acknowledgement(ack);
  }
  StatusUpdatesMessage batch = std::move(*update_batch);
  update_batch.reset();
  if (master) {
    send_batch(self, master, batch, batch.mutable_updates());
  }
  recycle(m);
}

}  // namespace stoa::slave
