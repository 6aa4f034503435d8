// Frameworks in the master: the scheduler Call table, subscription (new,
// retried, re-subscribed after a master restart, failed over),
// disconnection with its failover timeout, and removal.
//
// A removed framework (teardown, failover timeout) never comes back: its id
// is written to the registry (MarkFrameworkRemoved) and loaded by every new
// leader, it may not subscribe again, and a slave that reports it is told to
// shut it down (reconciliation.cpp). A "recovered" framework (known only
// from a slave that re-registered after a master failover) that does not
// subscribe within max(its failover_timeout, --slave_reregister_timeout) of
// being recovered is removed like one whose failover timeout expired. Mesos
// keeps such frameworks forever; this is our deliberate improvement.

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "master/events.hpp"
#include "master/master_actor.hpp"
#include "master/validation.hpp"
#include "registrar/operations.hpp"

namespace stoa::master {

using namespace stoa::internal;
using stoa::scheduler::Call;
using stoa::scheduler::Event;

void Master::send_event(FrameworkRecord& f, const Event& e) {
  if (f.connected && f.handle) {
    send_event(f, Event(e));
  }
}

void Master::send_event(FrameworkRecord& f, Event&& e) {
  if (!f.connected || !f.handle) {
    return;
  }
  if (f.batched_events) {
    batch_event(f.handle, std::move(e));
  } else {
    self->send(f.handle, std::move(e));
  }
}

void Master::send_subscribed(FrameworkRecord& f, bool reregistered) {
  Event e;
  e.set_type(Event::SUBSCRIBED);
  e.mutable_subscribed()->mutable_framework_id()->set_value(f.id);
  *e.mutable_subscribed()->mutable_master_info() = st.info;
  e.mutable_subscribed()->set_reregistered(reregistered);
  send_event(f, e);
}

void Master::send_error(const caf::actor& to, const std::string& message) {
  Event e;
  e.set_type(Event::ERROR);
  e.mutable_error()->set_message(message);
  flush_events_to(to);  // after what was batched for it
  self->send(to, e);
}

void Master::on_call(Call& call) {
  caf::actor from = sender_actor();
  if (!from) {
    return;
  }
  hot.scheduler_calls->inc();
  if (call.type() == Call::SUBSCRIBE) {
    if (!call.has_subscribe()) {
      send_error(from, "Expecting 'subscribe' to be present");
      return;
    }
    on_subscribe(from, call);
    return;
  }
  if (!call.has_framework_id()) {
    send_error(from, "Expecting 'framework_id' to be present");
    return;
  }
  auto it = st.frameworks.find(call.framework_id().value());
  if (it == st.frameworks.end()) {
    send_error(from, "Framework " + call.framework_id().value() + " is not subscribed");
    return;
  }
  FrameworkRecord& f = it->second;
  if (f.handle != from) {
    // A call from an instance that has been failed over: drop it.
    LOG_WARNING << "Dropping " << Call::Type_Name(call.type()) << " for framework " << f.id
                << " from a non-current scheduler";
    count("master/dropped_messages");
    return;
  }
  switch (call.type()) {
    case Call::TEARDOWN:
      remove_framework(f.id, "teardown by the framework");
      break;
    case Call::ACCEPT:
      count("master/messages_accept");
      on_accept(f, *call.mutable_accept());
      break;
    case Call::DECLINE:
      count("master/messages_decline_offers");
      on_decline(f, call.decline());
      break;
    case Call::REVIVE:
      count("master/messages_revive_offers");
      tell_allocator(allocator::ReviveOffers{f.id, {call.revive().roles().begin(), call.revive().roles().end()}},
                     false);
      break;
    case Call::SUPPRESS:
      count("master/messages_suppress_offers");
      tell_allocator(
          allocator::SuppressOffers{f.id, {call.suppress().roles().begin(), call.suppress().roles().end()}}, false);
      break;
    case Call::KILL:
      count("master/messages_kill_task");
      on_kill(f, call.kill());
      break;
    case Call::ACKNOWLEDGE:
      hot.acknowledgement_messages->inc();
      on_acknowledge(f, call.acknowledge());
      break;
    case Call::RECONCILE:
      count("master/messages_reconcile_tasks");
      on_reconcile(f, call.reconcile());
      break;
    case Call::MESSAGE:
      count("master/messages_framework_to_executor");
      on_framework_message(f, call.message());
      break;
    default:
      send_error(from, "Unsupported call type " + Call::Type_Name(call.type()));
      break;
  }
}

// A framework this master does not know yet: a new one, or one known to the
// cluster but not to this master (the master restarted).
FrameworkRecord& Master::add_framework(const caf::actor& from, FrameworkInfo info, const std::string& pid) {
  FrameworkRecord f;
  f.id = info.id().value();
  f.info = std::move(info);
  f.pid = pid;
  f.roles = framework_roles(f.info);
  f.registered_time = now_seconds();
  self->monitor(from);
  tell_allocator(allocator::AddFramework{f.id, f.roles, {}, true});
  FrameworkRecord& added = st.frameworks.emplace(f.id, std::move(f)).first->second;
  set_framework_handle(added, from);
  events::framework_added(*this, added);
  return added;
}

void Master::on_subscribe(const caf::actor& from, Call& call) {
  count("master/messages_subscribe");
  const Call::Subscribe& sub = call.subscribe();
  FrameworkInfo info = sub.framework_info();
  // Validated here in full (roles against --roles too), so the allocator
  // never refuses what the master accepted.
  if (std::optional<std::string> err = validate_framework_info(info, opts.flags.roles)) {
    send_error(from, *err);
    return;
  }
  std::string fid =
      info.has_id() ? info.id().value() : (call.has_framework_id() ? call.framework_id().value() : "");
  if (fid.empty()) {
    if (FrameworkRecord* f = framework_by_handle(from.address())) {
      send_subscribed(*f, false);  // a retried SUBSCRIBE
      return;
    }
    fid = new_framework_id();
    info.mutable_id()->set_value(fid);
    std::string name = info.name();
    FrameworkRecord& f = add_framework(from, std::move(info), sub.pid());
    f.batched_events = sub.batched_events();
    LOG_INFO << "Subscribed framework " << fid << " (" << name << ") at " << sub.pid();
    send_subscribed(f, false);
    return;
  }
  if (framework_removed(fid)) {
    send_error(from, "Framework has been removed");
    return;
  }
  info.mutable_id()->set_value(fid);
  auto it = st.frameworks.find(fid);
  if (it == st.frameworks.end()) {
    FrameworkRecord& f = add_framework(from, std::move(info), sub.pid());
    f.batched_events = sub.batched_events();
    send_subscribed(f, false);
    return;
  }
  FrameworkRecord& f = it->second;
  if (f.handle && f.handle != from && f.connected) {
    if (!sub.force()) {
      send_error(from, "Framework failed over");
      return;
    }
    send_error(f.handle, "Framework failed over");
  }
  // Failover or reconnect: the new instance gets fresh offers.
  std::vector<std::string> offers(f.offers.begin(), f.offers.end());
  for (const std::string& oid : offers) {
    remove_offer(oid, false, std::nullopt);
  }
  if (f.handle && f.handle != from) {
    self->demonitor(f.handle);
  }
  set_framework_handle(f, from);
  self->monitor(from);
  f.pid = sub.pid();
  f.info = info;
  f.connected = true;
  f.batched_events = sub.batched_events();
  f.recovered = false;
  f.reregistered_time = now_seconds();
  ++f.disconnect_generation;
  if (!f.active) {
    f.active = true;
    tell_allocator(allocator::ActivateFramework{fid}, false);
  }
  LOG_INFO << "Re-subscribed framework " << fid << " at " << sub.pid();
  events::framework_updated(*this, f);
  send_subscribed(f, true);
}

void Master::disconnect_framework(FrameworkRecord& f) {
  LOG_INFO << "Framework " << f.id << " disconnected";
  f.connected = false;
  f.active = false;
  f.unregistered_time = now_seconds();
  ++f.disconnect_generation;
  tell_allocator(allocator::DeactivateFramework{f.id}, false);
  events::framework_updated(*this, f);
  std::vector<std::string> offers(f.offers.begin(), f.offers.end());
  for (const std::string& oid : offers) {
    remove_offer(oid, false, std::nullopt);
  }
  auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(std::max(0.0, f.info.failover_timeout())));
  self->delayed_send(self, timeout, failover_timer_atom_v, f.id, f.disconnect_generation);
}

void Master::on_failover_timeout(const std::string& fid, uint64_t generation) {
  auto it = st.frameworks.find(fid);
  if (it != st.frameworks.end() && !it->second.connected && it->second.disconnect_generation == generation) {
    remove_framework(fid, "failover timeout");
  }
}

void Master::remove_framework(std::string fid, const std::string& why) {  // by value: callers pass f.id
  auto it = st.frameworks.find(fid);
  if (it == st.frameworks.end()) {
    return;
  }
  FrameworkRecord& f = it->second;
  std::vector<std::string> offers(f.offers.begin(), f.offers.end());
  for (const std::string& oid : offers) {
    remove_offer(oid, false, std::nullopt);
  }
  ShutdownFrameworkMessage shutdown;
  shutdown.mutable_framework_id()->set_value(fid);
  for (const auto& [sid, s] : st.slaves) {
    if (s.active && s.handle) {
      self->send(s.handle, shutdown);
    }
  }
  std::vector<std::string> tids;
  for (const auto& [tid, t] : f.tasks) {
    tids.push_back(tid);
  }
  for (const std::string& tid : tids) {
    Task t = f.tasks.at(tid);
    bool release = !is_terminal_state(t.state());
    if (release) {
      t.set_state(TASK_KILLED);
    }
    remove_task(f, t, release);
  }
  while (!f.unreachable_tasks.empty()) {
    Task t = take_unreachable_task(f, f.unreachable_tasks.begin());
    forget_pending_kill(t.slave_id().value(), fid, t.task_id().value());
    f.completed_tasks.push_back(std::move(t));
  }
  while (f.completed_tasks.size() > static_cast<size_t>(opts.flags.max_completed_tasks_per_framework)) {
    f.completed_tasks.pop_front();
  }
  if (f.handle) {
    self->demonitor(f.handle);
  }
  // Everything it still holds returns to the slaves with the removal.
  tell_allocator(allocator::RemoveFramework{fid});
  f.active = false;
  f.connected = false;
  f.unregistered_time = now_seconds();
  set_framework_handle(f, caf::actor{});
  st.completed_frameworks.push_back(std::move(f));
  while (st.completed_frameworks.size() > static_cast<size_t>(opts.flags.max_completed_frameworks)) {
    st.completed_frameworks.pop_front();
  }
  st.frameworks.erase(it);
  events::framework_removed(*this, fid);
  double when = now_seconds();
  st.removed_frameworks[fid] = when;
  while (st.removed_frameworks.size() > static_cast<size_t>(registrar::MAX_REMOVED_FRAMEWORKS)) {
    auto oldest = st.removed_frameworks.begin();
    for (auto r = st.removed_frameworks.begin(); r != st.removed_frameworks.end(); ++r) {
      oldest = r->second < oldest->second ? r : oldest;
    }
    st.removed_frameworks.erase(oldest);
  }
  registry::Operation op;
  op.mutable_mark_framework_removed()->mutable_framework_id()->set_value(fid);
  op.mutable_mark_framework_removed()->mutable_timestamp()->set_nanoseconds(static_cast<int64_t>(when * 1e9));
  registry_apply(std::move(op), [fid](bool) {
    // From here a new leader knows it too (tests wait for this line before
    // failing the master over).
    LOG_INFO << "Recorded the removal of framework " << fid << " in the registry";
  });
  LOG_INFO << "Removed framework " << fid << ": " << why;
}

}  // namespace stoa::master
