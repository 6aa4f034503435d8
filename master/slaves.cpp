// Slave lifecycle in the master: registration, re-registration (known and
// unknown slaves), health pings, disconnection and removal.

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/router.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "master/events.hpp"
#include "master/master_actor.hpp"
#include "master/validation.hpp"

namespace stoa::master {

using namespace stoa::internal;

// What every (re-)registered slave is told about pings: it takes this master
// for lost after --slave_ping_timeout x --max_slave_ping_timeouts without one.
MasterSlaveConnection Master::connection() const {
  MasterSlaveConnection c;
  double ping = std::chrono::duration<double>(opts.flags.slave_ping_timeout).count();
  c.set_total_ping_timeout_seconds(ping * opts.flags.max_slave_ping_timeouts);
  return c;
}

// A slave removed for good talks again: it must shut down (Mesos).
void Master::shutdown_slave(const caf::actor& to, const std::string& why) {
  LOG_WARNING << "Telling a removed slave to shut down: " << why;
  ShutdownMessage sm;
  sm.set_message(why);
  self->send(to, sm);
}

void Master::forget_slave_for_good(const std::string& id) {
  if (st.removed_slaves.insert(id).second) {
    st.removed_slaves_order.push_back(id);
  }
  while (st.removed_slaves_order.size() > MAX_REMOVED_SLAVES) {
    st.removed_slaves.erase(st.removed_slaves_order.front());
    st.removed_slaves_order.pop_front();
  }
  pending_kills.erase(id);
}

std::optional<std::string> Master::check_slave_info(const SlaveInfo& info, Resources* total) {
  Try<Resources> r = Resources::from_proto(info.resources());
  if (r.is_error()) {
    return "invalid resources: " + r.error();
  }
  if (info.hostname().empty()) {
    return "empty hostname";
  }
  *total = *r;
  return std::nullopt;
}

void Master::on_register_slave(RegisterSlaveMessage& m) {
  count("master/messages_register_slave");
  caf::actor from = sender_actor();
  if (!from) {
    return;
  }
  Resources total;
  if (auto err = check_slave_info(m.slave(), &total)) {
    LOG_WARNING << "Ignoring registration of slave " << m.pid() << ": " << *err;
    ShutdownMessage sm;
    sm.set_message("Invalid registration: " + *err);
    self->send(from, sm);
    return;
  }
  if (auto known = slave_pids.find(m.pid()); known != slave_pids.end() && st.slaves.count(known->second)) {
    const std::string id = known->second;
    SlaveRecord& s = st.slaves.edit(id);
    if (s.active && s.handle == from) {
      // A retried registration: answer again with the same id.
      SlaveRegisteredMessage reply;
      reply.mutable_slave_id()->set_value(id);
      *reply.mutable_connection() = connection();
      self->send(from, reply);
      return;
    }
    LOG_INFO << "Slave " << m.pid() << " registers again; removing its old instance " << id;
    remove_slave(id, "slave restarted", "master/slave_removals/reason_registered");
  }
  if (admitting_pids.count(m.pid())) {
    return;  // a retry while the registrar admits it
  }
  // The registry holds the slave before anyone hears of it (Mesos'
  // AdmitSlave): a new leader then knows every slave id ever handed out.
  std::string id = st.info.id() + "-S" + std::to_string(next_slave++);
  SlaveInfo info = m.slave();
  info.mutable_id()->set_value(id);
  registry::Operation op;
  *op.mutable_admit_slave()->mutable_info() = info;
  admitting_pids.insert(m.pid());
  registry_apply(std::move(op), [this, from, m, info, total](bool) {
    admitting_pids.erase(m.pid());
    admit_slave(from, m, info, total);
  });
}

void Master::admit_slave(const caf::actor& from, const RegisterSlaveMessage& m, SlaveInfo info,
                         const Resources& total) {
  const std::string id = info.id().value();
  SlaveRecord s;
  s.id = id;
  s.info = std::move(info);
  s.total = total;
  s.registered_time = now_seconds();
  s.batched_acknowledgements = m.batched_acknowledgements();
  self->monitor(from);
  tell_allocator(allocator::AddSlave{id, total, {}});
  SlaveRecord& added = st.slaves.edit(st.slaves.emplace(id, std::move(s)).first);
  tally_slave_added(added);
  set_slave_handle(added, from);
  set_slave_pid(added, m.pid());
  events::slave_added(*this, added);
  count("master/slave_registrations");
  LOG_INFO << "Registered slave " << id << " at " << m.pid() << " (" << m.slave().hostname() << ") with "
           << total.to_string();
  SlaveRegisteredMessage reply;
  reply.mutable_slave_id()->set_value(id);
  *reply.mutable_connection() = connection();
  self->send(from, reply);
  schedule_ping(id);
}

// A retried re-registration from a slave answered less than this long ago
// (seconds) on the same connection gets no second answer.
constexpr double DUPLICATE_REPLY_INTERVAL = 1.0;

void Master::on_reregister_slave(ReregisterSlaveMessage& m) {
  count("master/messages_reregister_slave");
  caf::actor from = sender_actor();
  if (!from || !m.slave().has_id()) {
    return;
  }
  const std::string& id = m.slave().id().value();
  if (!held_reregistrations.empty()) {
    held_reregistrations.erase(id);  // the one kept while recovering: handled now
  }
  auto it = st.slaves.find(id);
  if (it != st.slaves.end() && it->second.active && it->second.handle == from) {
    // A retry that crossed our answer (a burst after a failover): answer
    // again, and nothing else. Checked first: it is most of the messages
    // after a failover, and needs no validation (it was validated).
    count("master/duplicate_reregistrations");
    const SlaveRecord& s = it->second;
    double since = now_seconds() - std::max(s.registered_time, s.reregistered_time);
    if (since >= 0 && since < DUPLICATE_REPLY_INTERVAL) {
      // Our answer went out on this same connection under a second ago
      // (it was live since: a break would have deactivated the slave), so
      // the retry crossed it and the slave gets it. A slave that asks
      // again later (it lost us meanwhile) is answered then, as Mesos
      // ignores a re-registration while one is in progress.
      return;
    }
    SlaveReregisteredMessage reply;
    reply.mutable_slave_id()->set_value(id);
    *reply.mutable_connection() = connection();
    self->send(from, reply);
    return;
  }
  if (readmitting_ids.count(id)) {
    count("master/duplicate_reregistrations");
    return;  // a retry while the registrar re-admits it
  }
  Resources total;
  if (auto err = check_slave_info(m.slave(), &total)) {
    LOG_WARNING << "Ignoring re-registration of slave " << m.pid() << ": " << *err;
    return;
  }
  if (st.removed_slaves.count(id) != 0) {
    shutdown_slave(from, "Slave " + id + " attempted to re-register after removal");
    return;
  }
  if (it != st.slaves.end()) {
    SlaveRecord& s = st.slaves.edit(it);
    if (s.handle != from) {
      self->demonitor(s.handle);
      set_slave_handle(s, from);
      self->monitor(from);
    }
    set_slave_pid(s, m.pid());
    s.reregistered_time = now_seconds();
    s.batched_acknowledgements = m.batched_acknowledgements();
    cancel_scheduled_removal(s);
    s.missed_pings = 0;
    s.pong_pending = false;
    ++s.disconnect_generation;
    if (!s.active) {
      set_slave_active(s, true);
      tell_allocator(allocator::ActivateSlave{id}, false);
      events::slave_updated(*this, s);
    }
    LOG_INFO << "Re-registered known slave " << id << " at " << m.pid();
    count("master/slave_reregistrations");
    SlaveReregisteredMessage reply;
    reply.mutable_slave_id()->set_value(id);
    *reply.mutable_connection() = connection();
    self->send(from, reply);
    reconcile_known_slave(s, m);
    schedule_ping(id);
    return;
  }
  if (st.recovered_slaves.erase(id)) {
    // Admitted in the registry by an earlier leader: nothing to write.
    readmit_slave(from, m, total, false);
    return;
  }
  // Unreachable, or unknown to the registry (an in-memory registry that
  // restarted): the registry admits it again first (Mesos'
  // MarkSlaveReachable).
  registry::Operation op;
  *op.mutable_mark_slave_reachable()->mutable_info() = m.slave();
  readmitting_ids.insert(id);
  const bool was_unreachable = st.unreachable_slaves.count(id) != 0;
  registry_apply(std::move(op), [this, from, m, total, id, was_unreachable](bool) {
    readmitting_ids.erase(id);
    st.unreachable_slaves.erase(id);
    if (st.slaves.count(id)) {
      return;  // re-registered meanwhile
    }
    readmit_slave(from, m, total, was_unreachable);
  });
}

// A slave this master does not hold (admitted by an earlier leader, or
// unreachable until now) comes back with its id: rebuild its frameworks (as
// recovered ones until they subscribe) and tasks. Removed frameworks are
// shut down on it, never brought back. Back from unreachable: a partition-
// aware framework's tasks return (the framework hears their state with
// REASON_SLAVE_REREGISTERED); other frameworks' tasks were reported lost,
// so those frameworks are shut down on the slave (Mesos).
void Master::readmit_slave(const caf::actor& from, const ReregisterSlaveMessage& m, const Resources& total,
                           bool was_unreachable) {
  const std::string id = m.slave().id().value();
  shutdown_removed_frameworks(from, m);
  std::map<std::string, bool> aware;  // framework id -> partition-aware
  for (const FrameworkInfo& fi : m.frameworks()) {
    if (fi.has_id()) {
      aware[fi.id().value()] = partition_aware(fi);
    }
  }
  for (const auto& [fid, f] : st.frameworks) {
    aware[fid] = partition_aware(f.info);
  }
  auto kept = [&](const std::string& fid) {
    auto a = aware.find(fid);
    return !framework_removed(fid) && a != aware.end() && (!was_unreachable || a->second);
  };
  std::set<std::string> shut;
  for (const Task& t : m.tasks()) {
    const std::string& fid = t.framework_id().value();
    if (was_unreachable && !framework_removed(fid) && !kept(fid) && shut.insert(fid).second) {
      LOG_INFO << "Shutting down framework " << fid << " on slave " << id
               << ": it is not partition-aware and its tasks there were reported lost";
      ShutdownFrameworkMessage shutdown;
      shutdown.mutable_framework_id()->set_value(fid);
      self->send(from, shutdown);
    }
  }
  for (const FrameworkInfo& fi : m.frameworks()) {
    if (!fi.has_id() || st.frameworks.count(fi.id().value()) || !kept(fi.id().value())) {
      continue;
    }
    FrameworkRecord f;
    f.id = fi.id().value();
    f.info = fi;
    f.roles = framework_roles(fi);
    f.active = false;
    f.connected = false;
    f.recovered = true;
    f.registered_time = now_seconds();
    tell_allocator(allocator::AddFramework{f.id, f.roles, {}, false});
    // Removed like a failed-over framework unless it subscribes in time
    // (Mesos keeps it forever; frameworks.cpp).
    double wait = std::max(fi.failover_timeout(),
                           std::chrono::duration<double>(opts.flags.slave_reregister_timeout).count());
    self->delayed_send(self,
                       std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(wait)),
                       failover_timer_atom_v, f.id, f.disconnect_generation);
    st.frameworks.emplace(f.id, std::move(f));
  }
  SlaveRecord s;
  s.id = id;
  s.info = m.slave();
  s.total = total;
  s.registered_time = now_seconds();
  s.reregistered_time = s.registered_time;
  s.batched_acknowledgements = m.batched_acknowledgements();
  self->monitor(from);
  std::map<std::string, Resources> used;
  std::vector<std::pair<std::string, Task>> returned;  // from unreachable
  for (const Task& t : m.tasks()) {
    auto f = st.frameworks.find(t.framework_id().value());
    if (f == st.frameworks.end() || !kept(f->first)) {
      continue;
    }
    // A task that ended while the slave was away is kept, as Mesos does,
    // until the framework acknowledges its terminal update (the slave
    // re-sends it): until then reconciliation answers its real end, not
    // TASK_LOST for an unknown task. It holds no resources any more.
    Try<Resources> r = Resources::from_proto(t.resources());
    if (r.is_some() && !is_terminal_state(t.state())) {
      used[f->first] += *r;
    }
    if (auto u = f->second.unreachable_tasks.find(t.task_id().value()); u != f->second.unreachable_tasks.end()) {
      take_unreachable_task(f->second, u);
      returned.emplace_back(f->first, t);
    }
    if (auto old = f->second.tasks.find(t.task_id().value()); old != f->second.tasks.end()) {
      // The framework held a task of that id on another slave: one id, one
      // place (Mesos would abort). The old record gives way.
      tally_task_removing(f->first, old->second);
      if (auto other = st.slaves.find(old->second.slave_id().value()); other != st.slaves.end()) {
        st.slaves.edit(other).tasks.erase({f->first, t.task_id().value()});
      }
    }
    f->second.tasks.insert_or_assign(t.task_id().value(), t);
    s.tasks.insert({f->first, t.task_id().value()});
    st.tally.tasks_by_state[static_cast<size_t>(t.state())] += 1;  // `used`: tally_slave_added below
  }
  // Unreachable tasks of this slave that did not come back running: ended
  // meanwhile (the slave sends their updates) or unknown to it (dropped).
  // In framework and task id order, from the slave's own index.
  std::set<std::pair<std::string, std::string>> stale;
  if (auto u = st.unreachable_by_slave.find(id); u != st.unreachable_by_slave.end()) {
    stale = u->second;
  }
  std::set<std::pair<std::string, std::string>> reported;
  if (!stale.empty()) {
    for (const Task& r : m.tasks()) {
      reported.insert({r.framework_id().value(), r.task_id().value()});
    }
  }
  for (const auto& [fid, tid] : stale) {
    auto fit = st.frameworks.find(fid);
    if (fit == st.frameworks.end()) {
      continue;  // (the index holds only tasks of st.frameworks: check_tally)
    }
    FrameworkRecord& f = fit->second;
    Task t = take_unreachable_task(f, f.unreachable_tasks.find(tid));
    if (reported.count({fid, tid}) == 0) {
      TaskInfo info;
      *info.mutable_task_id() = t.task_id();
      *info.mutable_slave_id() = t.slave_id();
      send_master_update(f, info, TASK_DROPPED, TaskStatus::REASON_TASK_UNKNOWN,
                         "Task is unknown to re-registered slave " + id);
      t.set_state(TASK_DROPPED);
    }
    forget_pending_kill(id, fid, tid);
    f.completed_tasks.push_back(std::move(t));
    while (f.completed_tasks.size() > static_cast<size_t>(opts.flags.max_completed_tasks_per_framework)) {
      f.completed_tasks.pop_front();
    }
  }
  tell_allocator(allocator::AddSlave{id, total, used});
  SlaveRecord& added = st.slaves.edit(st.slaves.emplace(id, std::move(s)).first);
  tally_slave_added(added);
  set_slave_handle(added, from);
  set_slave_pid(added, m.pid());
  events::slave_added(*this, added);
  LOG_INFO << "Re-registered unknown slave " << id << " at " << m.pid() << " with " << m.tasks_size()
           << " tasks";

  count("master/slave_reregistrations");
  SlaveReregisteredMessage reply;
  reply.mutable_slave_id()->set_value(id);
  *reply.mutable_connection() = connection();
  self->send(from, reply);
  for (const auto& [fid, t] : returned) {
    TaskInfo info;
    *info.mutable_task_id() = t.task_id();
    *info.mutable_slave_id() = t.slave_id();
    send_master_update(st.frameworks.at(fid), info, t.state(), TaskStatus::REASON_SLAVE_REREGISTERED,
                       "Slave " + id + " re-registered");
  }
  send_pending_kills(id, from);
  schedule_ping(id);
}

void Master::on_unregister_slave(UnregisterSlaveMessage& m) {
  count("master/messages_unregister_slave");
  const SlaveRecord* s = slave_by_handle(self->current_sender() ? self->current_sender()->address() : caf::actor_addr{});
  if (s != nullptr && s->id == m.slave_id().value()) {
    remove_slave(s->id, "slave unregistered", "master/slave_removals/reason_unregistered");
  }
}

void Master::schedule_ping(const std::string& id) {
  auto it = st.slaves.find(id);
  if (it == st.slaves.end()) {
    return;
  }
  ping_queue.push_back(
      PingDue{self->clock().now() + opts.flags.slave_ping_timeout, id, it->second.disconnect_generation});
  arm_ping_timer();
}

void Master::arm_ping_timer() {
  if (ping_timer_armed || ping_queue.empty()) {
    return;
  }
  ping_timer_armed = true;
  const auto now = self->clock().now();
  const auto due = ping_queue.front().due;
  self->delayed_send(self, due > now ? due - now : caf::actor_clock::duration_type::zero(), ping_timer_atom_v);
}

// The pings that fell due, at most PINGS_PER_TURN (and TurnBudget) at a
// time. A stale one (its slave removed, or disconnected or re-registered
// since) is dropped by on_ping_tick, which schedules the slave's next ping
// behind the others.
void Master::on_ping_timer() {
  ping_timer_armed = false;
  const auto now = self->clock().now();
  const TurnBudget budget;
  for (size_t n = 0; n < PINGS_PER_TURN && !ping_queue.empty() && ping_queue.front().due <= now; ++n) {
    if (budget.spent(n)) {
      break;  // the rest in the next turn (arm_ping_timer: due now)
    }
    PingDue p = std::move(ping_queue.front());
    ping_queue.pop_front();
    on_ping_tick(p.slave_id, p.generation);
  }
  arm_ping_timer();
}

void Master::on_ping_tick(const std::string& id, uint64_t generation) {
  auto it = st.slaves.find(id);
  if (it == st.slaves.end() || it->second.disconnect_generation != generation) {
    return;
  }
  if (it->second.pong_pending) {
    ++it->second.missed_pings;
    if (it->second.missed_pings >= opts.flags.max_slave_ping_timeouts && !it->second.removal_scheduled) {
      schedule_unreachable(id);
      it = st.slaves.find(id);
      if (it == st.slaves.end()) {
        return;  // removed at once
      }
    }
  }
  const SlaveRecord& s = it->second;
  if (s.active) {
    PingSlaveMessage ping;
    ping.set_connected(true);
    s.pong_pending = true;
    self->send(s.handle, ping);
  }
  schedule_ping(id);
}

void Master::on_pong() {
  if (!self->current_sender()) {
    return;
  }
  if (const SlaveRecord* s = slave_by_handle(self->current_sender()->address())) {
    s->pong_pending = false;
    s->missed_pings = 0;
    cancel_scheduled_removal(*s);
  }
}

void Master::schedule_unreachable(const std::string& id) {
  count("master/slave_unreachable_scheduled");
  auto it = st.slaves.find(id);
  LOG_WARNING << "Slave " << id << " missed " << it->second.missed_pings << " pings: "
              << (removal_limit ? "queued for removal (--slave_removal_rate_limit)" : "removing it");
  if (!removal_limit) {
    remove_slave(id, "slave missed health checks", "master/slave_removals/reason_unhealthy", true);
    return;
  }
  it->second.removal_scheduled = true;
  removal_queue.push_back(id);
  if (!removal_permit_pending) {
    on_removal_permit();
  }
}

// A permit: the first slave of the queue still due is removed, and the next
// permit comes `per / permits` later. Slaves that answered a ping meanwhile
// (or went another way) leave the queue without using it.
void Master::on_removal_permit() {
  removal_permit_pending = false;
  while (!removal_queue.empty()) {
    std::string id = removal_queue.front();
    removal_queue.pop_front();
    auto it = st.slaves.find(id);
    if (it == st.slaves.end() || !it->second.removal_scheduled) {
      continue;
    }
    remove_slave(id, "slave missed health checks", "master/slave_removals/reason_unhealthy", true);
    removal_permit_pending = true;
    self->delayed_send(self, removal_limit->per / removal_limit->permits, removal_permit_atom_v);
    return;
  }
}

void Master::cancel_scheduled_removal(const SlaveRecord& s) {
  if (s.removal_scheduled) {
    LOG_INFO << "Slave " << s.id << " answered again: its scheduled removal is canceled";
    s.removal_scheduled = false;
    count("master/slave_unreachable_canceled");
  }
}

// The slave's connection broke: stop offering it and give it
// --slave_reregister_timeout to come back.
void Master::disconnect_slave(SlaveRecord& s) {
  LOG_INFO << "Slave " << s.id << " at " << s.pid << " disconnected";
  set_slave_active(s, false);
  ++s.disconnect_generation;
  tell_allocator(allocator::DeactivateSlave{s.id}, false);
  events::slave_updated(*this, s);
  std::vector<std::string> offers(s.offers.begin(), s.offers.end());
  for (const std::string& oid : offers) {
    remove_offer(oid, true, std::nullopt);
  }
  // Tasks of frameworks that do not checkpoint cannot survive.
  std::vector<std::pair<std::string, std::string>> lost;
  for (const auto& key : s.tasks) {
    auto f = st.frameworks.find(key.first);
    if (f != st.frameworks.end() && !f->second.info.checkpoint()) {
      lost.push_back(key);
    }
  }
  for (const auto& [fid, tid] : lost) {
    end_task(fid, tid, TASK_LOST, TaskStatus::REASON_SLAVE_DISCONNECTED, "Slave " + s.id + " disconnected");
  }
  self->delayed_send(self, opts.flags.slave_reregister_timeout, reregister_timer_atom_v, s.id,
                     s.disconnect_generation);
}

void Master::on_reregister_timeout(const std::string& id, uint64_t generation) {
  auto it = st.slaves.find(id);
  if (it != st.slaves.end() && !it->second.active && it->second.disconnect_generation == generation) {
    remove_slave(id, "slave did not re-register within --slave_reregister_timeout",
                 "master/slave_removals/reason_unregistered", true);
  }
}

// Ends a task on the master's word: the framework learns it, resources go back.
void Master::end_task(const std::string& fid, const std::string& tid, TaskState state, TaskStatus::Reason reason,
                      const std::string& message) {
  auto f = st.frameworks.find(fid);
  if (f == st.frameworks.end()) {
    return;
  }
  auto t = f->second.tasks.find(tid);
  if (t == f->second.tasks.end()) {
    return;
  }
  Task task = t->second;
  TaskStatus status = master_status(task.task_id(), task.slave_id().value(), state, reason, message);
  bool was_terminal = is_terminal_state(task.state());
  task.set_state(state);
  *task.add_statuses() = status;
  events::task_updated(*this, task, status);
  send_update(f->second, status);
  count_task_state(state);
  remove_task(f->second, task, !was_terminal);
}

// By value: callers pass the record's own id (or the map key), which the
// erase below frees. `reason_metric` is Mesos' removal-reason counter.
void Master::remove_slave(std::string id, std::string why, const char* reason_metric, bool unreachable) {
  auto it = st.slaves.find(id);
  if (it == st.slaves.end()) {
    return;
  }
  std::vector<std::string> offers(it->second.offers.begin(), it->second.offers.end());
  for (const std::string& oid : offers) {
    remove_offer(oid, true, std::nullopt);
  }
  auto tasks = it->second.tasks;
  for (const auto& [fid, tid] : tasks) {
    auto f = st.frameworks.find(fid);
    if (unreachable && f != st.frameworks.end() && partition_aware(f->second.info)) {
      mark_task_unreachable(f->second, tid, "Slave " + id + " is unreachable: " + why);
    } else {
      end_task(fid, tid, TASK_LOST, TaskStatus::REASON_SLAVE_REMOVED, "Slave " + id + " removed: " + why);
    }
  }
  if (!unreachable) {
    forget_slave_for_good(id);
  }
  if (it->second.handle) {
    self->demonitor(it->second.handle);
    if (unreachable) {
      // A connection that missed every ping may only hang (a partition
      // shorter than the middleman's connection timeout), with our pings
      // in TCP's backed-off retransmission queue. Reset it: the slave comes
      // back over a fresh connection, and nothing queued for it (pings,
      // tasks, kills) reaches it seconds later.
      disconnect_node(self->system(), it->second.handle.node(), "slave " + id + " is unreachable");
    }
  }
  set_slave_handle(st.slaves.edit(it), caf::actor{});
  set_slave_pid(st.slaves.edit(it), "");
  tell_allocator(allocator::RemoveSlave{id});
  tally_slave_removing(it->second);
  st.slaves.erase(it);
  utilization.remove_slave(id);
  events::slave_removed(*this, id);
  // The registry follows. The effects above do not wait for it (Mesos
  // writes first): a leader that fails before the write lands leaves the
  // slave admitted, and it re-registers with the next leader as a known one.
  registry::Operation op;
  if (unreachable) {
    double when = now_seconds();
    st.unreachable_slaves[id] = when;
    op.mutable_mark_slave_unreachable()->mutable_slave_id()->set_value(id);
    op.mutable_mark_slave_unreachable()->mutable_timestamp()->set_nanoseconds(static_cast<int64_t>(when * 1e9));
    count("master/slave_unreachable_completed");
  } else {
    op.mutable_remove_slave()->mutable_slave_id()->set_value(id);
  }
  registry_apply(std::move(op), nullptr);
  count("master/slave_removals");
  count(reason_metric);
  LOG_INFO << "Removed slave " << id << ": " << why;
}

// True when the current message comes from the registered slave `slave_id`.
bool Master::from_slave(const std::string& slave_id) {
  const SlaveRecord* s = self->current_sender() ? slave_by_handle(self->current_sender()->address()) : nullptr;
  if (s == nullptr || s->id != slave_id) {
    LOG_WARNING << "Dropping a message that claims to come from slave " << slave_id << " but was not sent by it";
    return false;
  }
  return true;
}

}  // namespace stoa::master
