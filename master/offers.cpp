// Offers in the master: turning the allocator actor's allocations into
// offers, decline, accept (validation and launch), rescind and
// --offer_timeout, and the accounting checks between master and allocator.

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "master/events.hpp"
#include "master/master_actor.hpp"
#include "master/validation.hpp"

namespace stoa::master {

using namespace stoa::internal;
using stoa::scheduler::Call;
using stoa::scheduler::Event;

void Master::remove_offer(const std::string& offer_id, bool rescind, std::optional<double> refuse) {
  auto it = st.offers.find(offer_id);
  if (it == st.offers.end()) {
    return;
  }
  OfferRecord rec = std::move(it->second);
  st.offers.erase(it);
  const std::string& fid = rec.offer.framework_id().value();
  const std::string& sid = rec.offer.slave_id().value();
  if (auto f = st.frameworks.find(fid); f != st.frameworks.end()) {
    f->second.offers.erase(offer_id);
    if (rescind) {
      Event e;
      e.set_type(Event::RESCIND);
      e.mutable_rescind()->mutable_offer_id()->set_value(offer_id);
      send_event(f->second, e);
      count("master/offers_rescinded");
    }
  }
  if (auto s = st.slaves.find(sid); s != st.slaves.end()) {
    s->second.offers.erase(offer_id);
    st.slaves.regroup(s);
  }
  tell_allocator(allocator::RecoverResources{fid, sid, std::move(rec.resources), refuse});
}

void Master::on_offer_timeout(const std::string& offer_id) {
  if (st.offers.count(offer_id)) {
    count("master/offers_timed_out");
    remove_offer(offer_id, true, std::nullopt);
  }
}

// One allocation pass' result. Allocations for a framework or slave that
// left (or went inactive) since the pass go straight back: the allocator
// counts them as held until it hears so.
void Master::on_offers(allocator::Allocations& allocations) {
  std::map<std::string, Event> events;
  const TurnBudget budget;
  size_t turn = std::min(allocations.size(), OFFERS_PER_TURN);
  for (size_t i = 0; i < turn; ++i) {
    if (budget.spent(i)) {
      turn = i;  // the rest in the next turn
      break;
    }
    allocator::Allocation& a = allocations[i];
    auto f = st.frameworks.find(a.framework_id);
    auto s = st.slaves.find(a.slave_id);
    if (f == st.frameworks.end() || s == st.slaves.end() || !f->second.active || !f->second.connected ||
        !s->second.active) {
      tell_allocator(allocator::RecoverResources{a.framework_id, a.slave_id, std::move(a.resources), std::nullopt});
      continue;
    }
    std::string oid = st.info.id() + "-O" + std::to_string(next_offer++);
    OfferRecord rec;
    Offer& o = rec.offer;
    o.mutable_id()->set_value(oid);
    o.mutable_framework_id()->set_value(a.framework_id);
    o.mutable_slave_id()->set_value(a.slave_id);
    o.set_hostname(s->second.info.hostname());
    a.resources.to_proto(o.mutable_resources());
    rec.resources = std::move(a.resources);
    for (Resource& r : *o.mutable_resources()) {
      r.mutable_allocation_info()->set_role(a.role);
    }
    *o.mutable_attributes() = s->second.info.attributes();
    o.mutable_allocation_info()->set_role(a.role);
    o.set_slave_pid(s->second.pid);
    Event& e = events[a.framework_id];
    e.set_type(Event::OFFERS);
    *e.mutable_offers()->add_offers() = o;
    f->second.offers.insert(oid);
    s->second.offers.insert(oid);
    st.slaves.regroup(s);
    st.offers.emplace(oid, std::move(rec));
    count("master/offers_sent");
    if (offer_timeout) {
      self->delayed_send(self, *offer_timeout, offer_timer_atom_v, oid);
    }
  }
  for (auto& [fid, e] : events) {
    send_event(st.frameworks.at(fid), std::move(e));
  }
  if (turn < allocations.size()) {
    allocator::Allocations rest(std::make_move_iterator(allocations.begin() + static_cast<std::ptrdiff_t>(turn)),
                                std::make_move_iterator(allocations.end()));
    self->send(self, offers_rest_atom_v, std::move(rest));
    return;
  }
  if (check_invariants) {
    verify_invariants();
    check_accounting();
  }
}

// On every slave what tasks use plus what is offered fits in its total
// (nothing is offered twice). A violation is logged and counted, never
// fatal. (The allocator checks its own accounting after each pass.)
void Master::verify_invariants() {
  verify_tally();
  for (const auto& [id, s] : st.slaves) {
    Resources held = used_resources(st, s) + offered_resources(st, s);
    if (!s.total.contains(held)) {
      LOG_ERROR << "Slave " << id << " has " << held.to_string() << " used or offered but only "
                << s.total.to_string();
      count("master/invariant_violations");
    }
  }
}

// The exact check across the actor boundary: per slave, what the master
// counts as held (tasks not yet terminal + offers) equals what the
// allocator does (total - available). Messages between the two are
// ordered, so a view requested now reflects every update sent before it,
// and its reply arrives after every allocation sent before it; if no
// accounting update left the master in between, both sides describe the
// same moment. Otherwise the check is skipped (the next pass retries).
void Master::check_accounting() {
  if (accounting_check_pending || !pending_launches.empty()) {
    return;  // pending: their resources are neither offered nor used here yet
  }
  accounting_check_pending = true;
  uint64_t seq = alloc_updates;
  allocator::GetView req;
  req.check = true;
  for (const auto& [id, s] : st.slaves) {
    req.slaves.push_back(id);
  }
  self->request(alloc, std::chrono::seconds(30), std::move(req))
      .then(
          [this, seq](allocator::View& view) {
            accounting_check_pending = false;
            if (view.invariant_error) {
              LOG_ERROR << "Allocator invariant violated: " << *view.invariant_error;
              count("master/invariant_violations");
            }
            if (seq != alloc_updates || !pending_launches.empty()) {
              return;  // an update was in flight, or tasks wait to launch: not comparable
            }
            count("master/accounting_checks");
            for (const auto& [id, s] : st.slaves) {
              auto it = view.available.find(id);
              if (it == view.available.end()) {
                LOG_ERROR << "Slave " << id << " is registered in the master but unknown to the allocator";
                count("master/invariant_violations");
                continue;
              }
              Resources master_held = (used_resources(st, s) + offered_resources(st, s)).flatten();
              Resources alloc_held = (s.total - it->second).flatten();
              if (!master_held.contains(alloc_held) || !alloc_held.contains(master_held)) {
                LOG_ERROR << "Accounting invariant violated on slave " << id << ": the master holds "
                          << master_held.to_string() << ", the allocator " << alloc_held.to_string();
                count("master/invariant_violations");
              }
            }
          },
          [this](caf::error& e) {
            accounting_check_pending = false;
            LOG_ERROR << "Accounting check failed: " << caf::to_string(e);
          });
}

void Master::on_decline(FrameworkRecord& f, const Call::Decline& d) {
  double refuse = d.has_filters() ? d.filters().refuse_seconds() : Filters().refuse_seconds();
  for (const OfferID& oid : d.offer_ids()) {
    auto it = st.offers.find(oid.value());
    if (it != st.offers.end() && it->second.offer.framework_id().value() == f.id) {
      remove_offer(oid.value(), false, refuse);
    }
  }
}

// The tasks are moved out of the call (each TaskInfo is copied once, into the
// task record's fields, and then moved into its RunTaskMessage).
void Master::on_accept(FrameworkRecord& f, Call::Accept& accept) {
  PendingLaunch launch;
  launch.framework_id = f.id;
  for (Offer::Operation& op : *accept.mutable_operations()) {
    if (op.type() == Offer::Operation::LAUNCH) {
      for (TaskInfo& t : *op.mutable_launch()->mutable_task_infos()) {
        launch.tasks.push_back(std::move(t));
      }
    }
  }
  // Validate the offers as a whole first (Mesos: every task is dropped
  // when the offers are invalid).
  std::vector<std::string> offer_ids;
  for (const OfferID& oid : accept.offer_ids()) {
    offer_ids.push_back(oid.value());
  }
  std::optional<std::string> offer_error = validate_offers(st, f.id, offer_ids);
  if (offer_error) {
    const bool aware = partition_aware(f.info);
    for (const TaskInfo& t : launch.tasks) {
      send_master_update(f, t, aware ? TASK_DROPPED : TASK_LOST, TaskStatus::REASON_INVALID_OFFERS,
                         *offer_error);
    }
    // Valid offers among them go back (Mesos recovers them).
    for (const std::string& oid : offer_ids) {
      auto it = st.offers.find(oid);
      if (it != st.offers.end() && it->second.offer.framework_id().value() == f.id) {
        remove_offer(oid, false, std::nullopt);
      }
    }
    return;
  }
  for (const std::string& oid : offer_ids) {
    const OfferRecord& rec = st.offers.at(oid);
    launch.available += rec.resources;
    launch.slave_id = rec.offer.slave_id().value();
  }
  launch.role = offer_ids.empty() ? "*" : st.offers.at(offer_ids.front()).offer.allocation_info().role();
  // The offers are consumed; what is not launched is recovered once the
  // last task is.
  for (const std::string& oid : offer_ids) {
    st.offers.erase(oid);
    f.offers.erase(oid);
    if (auto s = st.slaves.find(launch.slave_id); s != st.slaves.end()) {
      s->second.offers.erase(oid);
      st.slaves.regroup(s);
    }
  }
  if (accept.has_filters()) {
    launch.refuse = accept.filters().refuse_seconds();
  }
  pending_launches.push_back(std::move(launch));
  if (pending_launches.size() == 1) {
    launch_slice();
  }  // else a slice is due (launch_slice_atom): earlier ACCEPTs launch first
}

// Launches pending tasks, first in first out, until LAUNCHES_PER_TURN or
// the turn's budget; sends itself launch_slice_atom for the rest. An ACCEPT
// whose framework was removed meanwhile is dropped: its resources went back
// to the allocator with the framework (remove_framework).
void Master::launch_slice() {
  const TurnBudget budget;
  size_t n = 0;
  while (!pending_launches.empty()) {
    PendingLaunch& l = pending_launches.front();
    auto f = st.frameworks.find(l.framework_id);
    if (f == st.frameworks.end()) {
      pending_launches.pop_front();
      continue;
    }
    // Looked up per slice, not per task: the slave may go between slices.
    auto slave = st.slaves.find(l.slave_id);
    while (!l.tasks.empty()) {
      if (n >= LAUNCHES_PER_TURN || budget.spent(n)) {
        self->send<caf::message_priority::high>(self, launch_slice_atom_v);
        return;
      }
      TaskInfo t = std::move(l.tasks.front());
      l.tasks.pop_front();
      ++n;
      launch_task(f->second, l, slave, t);
    }
    if (!l.available.empty()) {
      tell_allocator(allocator::RecoverResources{f->first, l.slave_id, std::move(l.available), l.refuse});
    }
    pending_launches.pop_front();
  }
}

void Master::launch_task(FrameworkRecord& f, PendingLaunch& l, RenderedMap<SlaveRecord, NoneTouched>::const_iterator slave_it, TaskInfo& t) {
  const std::string& sid = l.slave_id;
  Resources task_resources;
  std::optional<std::string> err = validate_task(t, f, sid, l.available, l.seen, &task_resources);
  if (err) {
    LOG_INFO << "Rejecting task " << t.task_id().value() << " of framework " << f.id << ": " << *err;
    send_master_update(f, t, TASK_ERROR, TaskStatus::REASON_TASK_INVALID, *err);
    return;
  }
  l.seen.insert(t.task_id().value());
  if (slave_it == st.slaves.end() || !slave_it->second.active) {
    send_master_update(f, t, TASK_LOST, TaskStatus::REASON_SLAVE_REMOVED, "Slave " + sid + " is not connected");
    return;
  }
  l.available -= task_resources;
  Task task;
  task.set_name(t.name());
  *task.mutable_task_id() = t.task_id();
  task.mutable_framework_id()->set_value(f.id);
  task.mutable_slave_id()->set_value(sid);
  task.set_state(TASK_STAGING);
  // Record resources with their allocation role.
  task_resources.to_proto(task.mutable_resources());
  task.set_role(l.role);
  task.set_user(f.info.user());
  if (t.has_labels()) {
    *task.mutable_labels() = t.labels();
  }
  if (t.has_container()) {
    *task.mutable_container() = t.container();
  }
  TaskStatus staging;
  *staging.mutable_task_id() = t.task_id();
  staging.set_state(TASK_STAGING);
  staging.set_timestamp(now_seconds());
  *task.add_statuses() = std::move(staging);
  const Task& added = f.tasks.insert_or_assign(t.task_id().value(), std::move(task)).first->second;
  events::task_added(*this, added);
  st.slaves.edit(slave_it).tasks.insert({f.id, t.task_id().value()});
  tally_task_added(f.id, added);
  RunTaskMessage run;
  run.mutable_framework_id()->set_value(f.id);
  *run.mutable_framework() = f.info;
  *run.mutable_task() = std::move(t);
  run.mutable_task()->mutable_slave_id()->set_value(sid);
  run.mutable_task()->mutable_resources()->Clear();
  task_resources.to_proto(run.mutable_task()->mutable_resources());
  run.set_pid(f.pid);
  self->send(slave_it->second.handle, std::move(run));
  count("master/messages_launch_tasks");
}

std::optional<TaskInfo> Master::take_pending_task(const std::string& fid, const std::string& tid) {
  std::optional<TaskInfo> taken;
  for (PendingLaunch& l : pending_launches) {
    if (l.framework_id != fid) {
      continue;
    }
    // Its resources stay in `available` and go back with the rest.
    for (auto it = l.tasks.begin(); it != l.tasks.end();) {
      if (it->task_id().value() == tid) {
        if (!taken) {
          taken = std::move(*it);
        }
        it = l.tasks.erase(it);
      } else {
        ++it;
      }
    }
  }
  return taken;
}

const TaskInfo* Master::pending_task(const std::string& fid, const std::string& tid) const {
  for (const PendingLaunch& l : pending_launches) {
    if (l.framework_id != fid) {
      continue;
    }
    for (const TaskInfo& t : l.tasks) {
      if (t.task_id().value() == tid) {
        return &t;
      }
    }
  }
  return nullptr;
}

}  // namespace stoa::master
