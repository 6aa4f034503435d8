#include "master/master.hpp"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <map>
#include <optional>

#include <caf/all.hpp>
#include <picojson.h>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/safety.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/resources.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"
#include "common/version.hpp"
#include "master/allocator/allocator.hpp"
#include "master/master_state.hpp"
#include "master/state_json.hpp"
#include "master/validation.hpp"

namespace stoa::master {

using namespace stoa::internal;
using stoa::scheduler::Call;
using stoa::scheduler::Event;

namespace {

// Allocation triggered by an event runs this soon after it, so that a burst
// of events (slaves registering, tasks finishing) coalesces into one run.
constexpr auto EVENT_ALLOCATION_DELAY = std::chrono::milliseconds(2);

struct Metrics {
  std::map<std::string, double> counters;
  void inc(const std::string& name, double by = 1) { counters[name] += by; }
};

class Master {
 public:
  // User-declared so CAF default-constructs the state (an aggregate would be
  // built from the actor pointer in C++20).
  Master() = default;

  caf::stateful_actor<Master>* self = nullptr;
  MasterOptions opts;
  MasterState st;
  std::unique_ptr<allocator::Allocator> alloc;
  Metrics metrics;
  uint64_t next_framework = 0;
  uint64_t next_slave = 0;
  uint64_t next_offer = 0;
  bool allocation_pending = false;
  std::optional<Duration> offer_timeout;
  // Checked after every allocation run when STOA_CHECK_INVARIANTS=1 (tests).
  bool check_invariants = false;
  static inline const char* name = "master";

  // --- helpers -------------------------------------------------------------

  allocator::TimePoint now() const { return allocator::Clock::now(); }

  std::string new_framework_id() {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%04llu", static_cast<unsigned long long>(next_framework++));
    return st.info.id() + "-" + buf;
  }

  void schedule_allocation() {
    if (!allocation_pending) {
      allocation_pending = true;
      self->delayed_send(self, EVENT_ALLOCATION_DELAY, allocate_atom_v, false);
    }
  }

  FrameworkRecord* framework_by_handle(const caf::actor_addr& addr) {
    for (auto& [id, f] : st.frameworks) {
      if (f.handle && f.handle.address() == addr) {
        return &f;
      }
    }
    return nullptr;
  }

  SlaveRecord* slave_by_handle(const caf::actor_addr& addr) {
    for (auto& [id, s] : st.slaves) {
      if (s.handle && s.handle.address() == addr) {
        return &s;
      }
    }
    return nullptr;
  }

  caf::actor sender_actor() { return caf::actor_cast<caf::actor>(self->current_sender()); }

  // Internal messages (timers) are accepted only from the master itself;
  // anything else is dropped, logged and counted.
  bool from_self(const char* what) {
    if (self->current_sender() == self->ctrl()) {
      return true;
    }
    drop_message(what);
    return false;
  }

  bool from_this_process(const char* what) {
    const caf::strong_actor_ptr& sender = self->current_sender();
    if (sender && sender->node() == self->node()) {
      return true;
    }
    drop_message(what);
    return false;
  }

  void drop_message(const char* what) {
    metrics.inc("master/dropped_messages");
    const caf::strong_actor_ptr& sender = self->current_sender();
    LOG_WARNING << "Dropping " << what << " message from "
                << (sender ? caf::to_string(sender->address()) : std::string("an anonymous sender"))
                << ": only the master itself may send it";
  }

  // Renders a read-only view. Building JSON cannot change state, so an
  // unexpected exception here (a value picojson refuses) answers 500 and
  // is counted instead of ending the master.
  std::tuple<int, std::string> render_state_request(const std::string& endpoint,
                                                    const std::map<std::string, std::string>& query) {
    try {
      return on_state_request(endpoint, query);
    } catch (const std::exception& e) {
      metrics.inc("master/http_render_errors");
      LOG_ERROR << "Cannot render /" << endpoint << ": " << e.what();
      return json_error(500, std::string("Cannot render this view: ") + e.what());
    }
  }

  void send_event(FrameworkRecord& f, const Event& e) {
    if (f.connected && f.handle) {
      self->send(f.handle, e);
    }
  }

  // An update the master itself generates: no uuid, never acknowledged.
  void send_master_update(FrameworkRecord& f, const TaskInfo& task, TaskState state,
                          TaskStatus::Reason reason, const std::string& message) {
    Event e;
    e.set_type(Event::UPDATE);
    TaskStatus* s = e.mutable_update()->mutable_status();
    *s->mutable_task_id() = task.task_id();
    s->set_state(state);
    s->set_reason(reason);
    s->set_source(TaskStatus::SOURCE_MASTER);
    s->set_message(message);
    s->set_timestamp(now_seconds());
    if (task.has_slave_id()) {
      *s->mutable_slave_id() = task.slave_id();
    }
    metrics.inc(std::string("master/tasks_") + lower(TaskState_Name(state).substr(5)));
    send_event(f, e);
  }

  static std::string lower(std::string s) {
    for (char& c : s) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
  }

  // --- offers ---------------------------------------------------------------

  void remove_offer(const std::string& offer_id, bool rescind, std::optional<double> refuse) {
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
        metrics.inc("master/offers_rescinded");
      }
    }
    if (auto s = st.slaves.find(sid); s != st.slaves.end()) {
      s->second.offers.erase(offer_id);
    }
    alloc->recover_resources(fid, sid, rec.resources, refuse, now());
  }

  void on_allocate(bool periodic) {
    if (periodic) {
      self->delayed_send(self, opts.flags.allocation_interval, allocate_atom_v, true);
    } else {
      allocation_pending = false;
    }
    std::vector<allocator::Allocation> allocations = alloc->allocate(now());
    metrics.inc("allocator/allocation_runs");
    if (check_invariants) {
      verify_invariants();
    }
    std::map<std::string, Event> events;
    for (allocator::Allocation& a : allocations) {
      auto f = st.frameworks.find(a.framework_id);
      auto s = st.slaves.find(a.slave_id);
      if (f == st.frameworks.end() || s == st.slaves.end() || !f->second.active ||
          !f->second.connected || !s->second.active) {
        alloc->recover_resources(a.framework_id, a.slave_id, a.resources, std::nullopt, now());
        continue;
      }
      std::string oid = st.info.id() + "-O" + std::to_string(next_offer++);
      OfferRecord rec;
      rec.resources = a.resources;
      Offer& o = rec.offer;
      o.mutable_id()->set_value(oid);
      o.mutable_framework_id()->set_value(a.framework_id);
      o.mutable_slave_id()->set_value(a.slave_id);
      o.set_hostname(s->second.info.hostname());
      a.resources.to_proto(o.mutable_resources());
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
      st.offers.emplace(oid, std::move(rec));
      metrics.inc("master/offers_sent");
      if (offer_timeout) {
        self->delayed_send(self, *offer_timeout, rescind_atom_v, oid);
      }
    }
    for (auto& [fid, e] : events) {
      send_event(st.frameworks.at(fid), e);
    }
  }

  // Invariants: the allocator's own accounting holds, and on every slave
  // what tasks use plus what is offered fits in its total (nothing is
  // offered twice). A violation is logged and counted, never fatal.
  void verify_invariants() {
    if (std::optional<Error> e = alloc->check_invariants()) {
      LOG_ERROR << "Allocator invariant violated: " << e->message;
      metrics.inc("master/invariant_violations");
    }
    for (const auto& [id, s] : st.slaves) {
      Resources held = used_resources(st, s) + offered_resources(st, s);
      if (!s.total.contains(held)) {
        LOG_ERROR << "Slave " << id << " has " << held.to_string() << " used or offered but only "
                  << s.total.to_string();
        metrics.inc("master/invariant_violations");
      }
    }
  }

  // --- slaves ---------------------------------------------------------------

  std::optional<std::string> check_slave_info(const SlaveInfo& info, Resources* total) {
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

  void on_register_slave(RegisterSlaveMessage& m) {
    metrics.inc("master/messages_register_slave");
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
    for (auto& [id, s] : st.slaves) {
      if (s.pid == m.pid()) {
        if (s.active && s.handle == from) {
          // A retried registration: answer again with the same id.
          SlaveRegisteredMessage reply;
          reply.mutable_slave_id()->set_value(id);
          self->send(from, reply);
          return;
        }
        LOG_INFO << "Slave " << m.pid() << " registers again; removing its old instance " << id;
        remove_slave(id, "slave restarted");
        break;
      }
    }
    std::string id = st.info.id() + "-S" + std::to_string(next_slave++);
    SlaveRecord s;
    s.id = id;
    s.info = m.slave();
    s.info.mutable_id()->set_value(id);
    s.pid = m.pid();
    s.handle = from;
    s.total = total;
    s.registered_time = now_seconds();
    self->monitor(from);
    alloc->add_slave(id, total, {});
    st.slaves.emplace(id, std::move(s));
    metrics.inc("master/slave_registrations");
    LOG_INFO << "Registered slave " << id << " at " << m.pid() << " (" << m.slave().hostname()
             << ") with " << total.to_string();
    SlaveRegisteredMessage reply;
    reply.mutable_slave_id()->set_value(id);
    self->send(from, reply);
    schedule_ping(id);
    schedule_allocation();
  }

  void on_reregister_slave(ReregisterSlaveMessage& m) {
    metrics.inc("master/messages_reregister_slave");
    caf::actor from = sender_actor();
    if (!from || !m.slave().has_id()) {
      return;
    }
    Resources total;
    if (auto err = check_slave_info(m.slave(), &total)) {
      LOG_WARNING << "Ignoring re-registration of slave " << m.pid() << ": " << *err;
      return;
    }
    const std::string id = m.slave().id().value();
    auto it = st.slaves.find(id);
    if (it != st.slaves.end()) {
      SlaveRecord& s = it->second;
      if (s.handle != from) {
        self->demonitor(s.handle);
        s.handle = from;
        self->monitor(from);
      }
      s.pid = m.pid();
      s.reregistered_time = now_seconds();
      s.missed_pings = 0;
      s.pong_pending = false;
      ++s.disconnect_generation;
      if (!s.active) {
        s.active = true;
        alloc->activate_slave(id);
      }
      LOG_INFO << "Re-registered known slave " << id << " at " << m.pid();
    } else {
      // Unknown (e.g. this master restarted with an in-memory registry):
      // admit it with its id and rebuild its frameworks and tasks.
      for (const FrameworkInfo& fi : m.frameworks()) {
        if (!fi.has_id() || st.frameworks.count(fi.id().value())) {
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
        alloc->add_framework(f.id, f.roles, {}, false);
        st.frameworks.emplace(f.id, std::move(f));
      }
      SlaveRecord s;
      s.id = id;
      s.info = m.slave();
      s.pid = m.pid();
      s.handle = from;
      s.total = total;
      s.registered_time = now_seconds();
      s.reregistered_time = s.registered_time;
      self->monitor(from);
      std::map<std::string, Resources> used;
      for (const Task& t : m.tasks()) {
        auto f = st.frameworks.find(t.framework_id().value());
        if (f == st.frameworks.end() || is_terminal_state(t.state())) {
          continue;
        }
        Try<Resources> r = Resources::from_proto(t.resources());
        if (r.is_some()) {
          used[f->first] += *r;
        }
        f->second.tasks[t.task_id().value()] = t;
        s.tasks.insert({f->first, t.task_id().value()});
      }
      alloc->add_slave(id, total, used);
      st.slaves.emplace(id, std::move(s));
      LOG_INFO << "Re-registered unknown slave " << id << " at " << m.pid() << " with "
               << m.tasks_size() << " tasks";
    }
    metrics.inc("master/slave_reregistrations");
    SlaveReregisteredMessage reply;
    reply.mutable_slave_id()->set_value(id);
    self->send(from, reply);
    schedule_ping(id);
    schedule_allocation();
  }

  void on_unregister_slave(UnregisterSlaveMessage& m) {
    SlaveRecord* s = slave_by_handle(self->current_sender() ? self->current_sender()->address()
                                                            : caf::actor_addr{});
    if (s != nullptr && s->id == m.slave_id().value()) {
      remove_slave(s->id, "slave unregistered");
    }
  }

  void schedule_ping(const std::string& id) {
    auto it = st.slaves.find(id);
    if (it == st.slaves.end()) {
      return;
    }
    self->delayed_send(self, opts.flags.slave_ping_timeout, tick_atom_v, id,
                       it->second.disconnect_generation);
  }

  void on_ping_tick(const std::string& id, uint64_t generation) {
    auto it = st.slaves.find(id);
    if (it == st.slaves.end() || it->second.disconnect_generation != generation) {
      return;
    }
    SlaveRecord& s = it->second;
    if (s.pong_pending) {
      ++s.missed_pings;
      if (s.missed_pings >= opts.flags.max_slave_ping_timeouts) {
        LOG_WARNING << "Removing slave " << id << ": " << s.missed_pings << " pings missed";
        metrics.inc("master/slave_removals_reason_unhealthy");
        remove_slave(id, "slave missed health checks");
        return;
      }
    }
    if (s.active) {
      PingSlaveMessage ping;
      ping.set_connected(true);
      s.pong_pending = true;
      self->send(s.handle, ping);
    }
    schedule_ping(id);
  }

  void on_pong() {
    if (!self->current_sender()) {
      return;
    }
    if (SlaveRecord* s = slave_by_handle(self->current_sender()->address())) {
      s->pong_pending = false;
      s->missed_pings = 0;
    }
  }

  // The slave's connection broke: stop offering it and give it
  // --slave_reregister_timeout to come back.
  void disconnect_slave(SlaveRecord& s) {
    LOG_INFO << "Slave " << s.id << " at " << s.pid << " disconnected";
    s.active = false;
    ++s.disconnect_generation;
    alloc->deactivate_slave(s.id);
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
      lose_task(fid, tid, TaskStatus::REASON_SLAVE_DISCONNECTED, "Slave " + s.id + " disconnected");
    }
    self->delayed_send(self, opts.flags.slave_reregister_timeout, timeout_atom_v, s.id,
                       s.disconnect_generation);
  }

  void on_reregister_timeout(const std::string& id, uint64_t generation) {
    auto it = st.slaves.find(id);
    if (it != st.slaves.end() && !it->second.active &&
        it->second.disconnect_generation == generation) {
      metrics.inc("master/slave_removals_reason_unregistered");
      remove_slave(id, "slave did not re-register within --slave_reregister_timeout");
    }
  }

  // Marks a task lost: the framework learns it, resources go back.
  void lose_task(const std::string& fid, const std::string& tid, TaskStatus::Reason reason,
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
    TaskStatus status;
    *status.mutable_task_id() = task.task_id();
    status.set_state(TASK_LOST);
    status.set_reason(reason);
    status.set_source(TaskStatus::SOURCE_MASTER);
    status.set_message(message);
    status.set_timestamp(now_seconds());
    *status.mutable_slave_id() = task.slave_id();
    bool was_terminal = is_terminal_state(task.state());
    task.set_state(TASK_LOST);
    *task.add_statuses() = status;
    Event e;
    e.set_type(Event::UPDATE);
    *e.mutable_update()->mutable_status() = status;
    send_event(f->second, e);
    metrics.inc("master/tasks_lost");
    remove_task(f->second, task, !was_terminal);
  }

  // By value: callers pass the record's own id (or the map key), which the
  // erase below frees.
  void remove_slave(std::string id, std::string why) {
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
      lose_task(fid, tid, TaskStatus::REASON_SLAVE_REMOVED, "Slave " + id + " removed: " + why);
    }
    if (it->second.handle) {
      self->demonitor(it->second.handle);
    }
    alloc->remove_slave(id);
    st.slaves.erase(it);
    metrics.inc("master/slave_removals");
    LOG_INFO << "Removed slave " << id << ": " << why;
  }

  // --- frameworks -----------------------------------------------------------

  static std::vector<std::string> framework_roles(const FrameworkInfo& info) {
    std::vector<std::string> roles(info.roles().begin(), info.roles().end());
    if (roles.empty()) {
      roles.push_back(info.has_role() ? info.role() : "*");
    }
    return roles;
  }

  void send_subscribed(FrameworkRecord& f, bool reregistered) {
    Event e;
    e.set_type(Event::SUBSCRIBED);
    e.mutable_subscribed()->mutable_framework_id()->set_value(f.id);
    *e.mutable_subscribed()->mutable_master_info() = st.info;
    e.mutable_subscribed()->set_reregistered(reregistered);
    send_event(f, e);
  }

  void send_error(const caf::actor& to, const std::string& message) {
    Event e;
    e.set_type(Event::ERROR);
    e.mutable_error()->set_message(message);
    self->send(to, e);
  }

  void on_subscribe(const caf::actor& from, Call& call) {
    metrics.inc("master/messages_subscribe");
    const Call::Subscribe& sub = call.subscribe();
    FrameworkInfo info = sub.framework_info();
    if (std::optional<std::string> err = validate_framework_info(info, opts.flags.roles)) {
      send_error(from, *err);
      return;
    }
    std::string fid = info.has_id() ? info.id().value()
                                     : (call.has_framework_id() ? call.framework_id().value() : "");
    if (fid.empty()) {
      if (FrameworkRecord* f = framework_by_handle(from.address())) {
        send_subscribed(*f, false);  // a retried SUBSCRIBE
        return;
      }
      fid = new_framework_id();
      info.mutable_id()->set_value(fid);
      FrameworkRecord f;
      f.id = fid;
      f.info = info;
      f.pid = sub.pid();
      f.handle = from;
      f.roles = framework_roles(info);
      f.registered_time = now_seconds();
      self->monitor(from);
      if (auto e = alloc->add_framework(fid, f.roles, {}, true)) {
        send_error(from, e->message);
        return;
      }
      auto [it, ok] = st.frameworks.emplace(fid, std::move(f));
      LOG_INFO << "Subscribed framework " << fid << " (" << info.name() << ") at " << sub.pid();
      send_subscribed(it->second, false);
      schedule_allocation();
      return;
    }
    for (const FrameworkRecord& done : st.completed_frameworks) {
      if (done.id == fid) {
        send_error(from, "Framework has been removed");
        return;
      }
    }
    info.mutable_id()->set_value(fid);
    auto it = st.frameworks.find(fid);
    if (it == st.frameworks.end()) {
      // Known to the cluster but not to this master (master restarted).
      FrameworkRecord f;
      f.id = fid;
      f.info = info;
      f.pid = sub.pid();
      f.handle = from;
      f.roles = framework_roles(info);
      f.registered_time = now_seconds();
      self->monitor(from);
      if (auto e = alloc->add_framework(fid, f.roles, {}, true)) {
        send_error(from, e->message);
        return;
      }
      auto [nit, ok] = st.frameworks.emplace(fid, std::move(f));
      send_subscribed(nit->second, false);
      schedule_allocation();
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
    f.handle = from;
    self->monitor(from);
    f.pid = sub.pid();
    f.info = info;
    f.connected = true;
    f.recovered = false;
    f.reregistered_time = now_seconds();
    ++f.disconnect_generation;
    if (!f.active) {
      f.active = true;
      alloc->activate_framework(fid);
    }
    LOG_INFO << "Re-subscribed framework " << fid << " at " << sub.pid();
    send_subscribed(f, true);
    schedule_allocation();
  }

  void disconnect_framework(FrameworkRecord& f) {
    LOG_INFO << "Framework " << f.id << " disconnected";
    f.connected = false;
    f.active = false;
    f.unregistered_time = now_seconds();
    ++f.disconnect_generation;
    alloc->deactivate_framework(f.id);
    std::vector<std::string> offers(f.offers.begin(), f.offers.end());
    for (const std::string& oid : offers) {
      remove_offer(oid, false, std::nullopt);
    }
    auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(std::max(0.0, f.info.failover_timeout())));
    self->delayed_send(self, timeout, exited_atom_v, f.id, f.disconnect_generation);
  }

  void on_failover_timeout(const std::string& fid, uint64_t generation) {
    auto it = st.frameworks.find(fid);
    if (it != st.frameworks.end() && !it->second.connected &&
        it->second.disconnect_generation == generation) {
      remove_framework(fid, "failover timeout");
    }
  }

  void remove_framework(std::string fid, const std::string& why) {  // by value: callers pass f.id
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
    for (auto& [sid, s] : st.slaves) {
      if (s.active && s.handle) {
        self->send(s.handle, shutdown);
      }
    }
    std::vector<std::string> tids;
    for (auto& [tid, t] : f.tasks) {
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
    if (f.handle) {
      self->demonitor(f.handle);
    }
    alloc->remove_framework(fid);
    f.active = false;
    f.connected = false;
    f.unregistered_time = now_seconds();
    f.handle = caf::actor{};
    st.completed_frameworks.push_back(std::move(f));
    while (st.completed_frameworks.size() > static_cast<size_t>(opts.flags.max_completed_frameworks)) {
      st.completed_frameworks.pop_front();
    }
    st.frameworks.erase(it);
    LOG_INFO << "Removed framework " << fid << ": " << why;
  }

  // Moves a task to completed_tasks; `release` returns its resources.
  void remove_task(FrameworkRecord& f, const Task& task, bool release) {
    const std::string& tid = task.task_id().value();
    const std::string& sid = task.slave_id().value();
    if (release) {
      Try<Resources> r = Resources::from_proto(task.resources());
      if (r.is_some()) {
        alloc->recover_resources(f.id, sid, *r, std::nullopt, now());
      }
      schedule_allocation();
    }
    if (auto s = st.slaves.find(sid); s != st.slaves.end()) {
      s->second.tasks.erase({f.id, tid});
    }
    f.tasks.erase(tid);
    f.completed_tasks.push_back(task);
    while (f.completed_tasks.size() > static_cast<size_t>(opts.flags.max_completed_tasks_per_framework)) {
      f.completed_tasks.pop_front();
    }
  }

  void on_call(Call& call) {
    caf::actor from = sender_actor();
    if (!from) {
      return;
    }
    metrics.inc("master/messages_scheduler_calls");
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
      metrics.inc("master/dropped_messages");
      return;
    }
    switch (call.type()) {
      case Call::TEARDOWN:
        remove_framework(f.id, "teardown by the framework");
        break;
      case Call::ACCEPT:
        metrics.inc("master/messages_accept");
        on_accept(f, call.accept());
        break;
      case Call::DECLINE:
        metrics.inc("master/messages_decline_offers");
        on_decline(f, call.decline());
        break;
      case Call::REVIVE:
        metrics.inc("master/messages_revive_offers");
        alloc->revive(f.id, {call.revive().roles().begin(), call.revive().roles().end()});
        schedule_allocation();
        break;
      case Call::SUPPRESS:
        metrics.inc("master/messages_suppress_offers");
        alloc->suppress(f.id, {call.suppress().roles().begin(), call.suppress().roles().end()});
        break;
      case Call::KILL:
        metrics.inc("master/messages_kill_task");
        on_kill(f, call.kill());
        break;
      case Call::ACKNOWLEDGE:
        metrics.inc("master/messages_status_update_acknowledgement");
        on_acknowledge(f, call.acknowledge());
        break;
      case Call::RECONCILE:
        metrics.inc("master/messages_reconcile_tasks");
        on_reconcile(f, call.reconcile());
        break;
      case Call::MESSAGE:
        metrics.inc("master/messages_framework_to_executor");
        on_framework_message(f, call.message());
        break;
      default:
        send_error(from, "Unsupported call type " + Call::Type_Name(call.type()));
        break;
    }
  }

  void on_decline(FrameworkRecord& f, const Call::Decline& d) {
    double refuse = d.has_filters() ? d.filters().refuse_seconds() : Filters().refuse_seconds();
    for (const OfferID& oid : d.offer_ids()) {
      auto it = st.offers.find(oid.value());
      if (it != st.offers.end() && it->second.offer.framework_id().value() == f.id) {
        remove_offer(oid.value(), false, refuse);
      }
    }
  }

  void on_accept(FrameworkRecord& f, const Call::Accept& accept) {
    std::vector<TaskInfo> tasks;
    for (const Offer::Operation& op : accept.operations()) {
      if (op.type() == Offer::Operation::LAUNCH) {
        for (const TaskInfo& t : op.launch().task_infos()) {
          tasks.push_back(t);
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
      bool partition_aware = false;
      for (const auto& c : f.info.capabilities()) {
        partition_aware |= c.type() == FrameworkInfo::Capability::PARTITION_AWARE;
      }
      for (const TaskInfo& t : tasks) {
        send_master_update(f, t, partition_aware ? TASK_DROPPED : TASK_LOST,
                           TaskStatus::REASON_INVALID_OFFERS, *offer_error);
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
    Resources available;
    std::string sid;
    for (const std::string& oid : offer_ids) {
      const OfferRecord& rec = st.offers.at(oid);
      available += rec.resources;
      sid = rec.offer.slave_id().value();
    }
    std::string role = offer_ids.empty() ? "*" : st.offers.at(offer_ids.front()).offer.allocation_info().role();
    // The offers are consumed; what is not launched is recovered below.
    for (const std::string& oid : offer_ids) {
      st.offers.erase(oid);
      f.offers.erase(oid);
      if (auto s = st.slaves.find(sid); s != st.slaves.end()) {
        s->second.offers.erase(oid);
      }
    }
    auto slave_it = st.slaves.find(sid);
    std::set<std::string> seen;
    for (const TaskInfo& t : tasks) {
      Resources task_resources;
      std::optional<std::string> err =
          validate_task(t, f, sid, available, seen, &task_resources);
      if (err) {
        LOG_INFO << "Rejecting task " << t.task_id().value() << " of framework " << f.id << ": "
                 << *err;
        send_master_update(f, t, TASK_ERROR, TaskStatus::REASON_TASK_INVALID, *err);
        continue;
      }
      seen.insert(t.task_id().value());
      if (slave_it == st.slaves.end() || !slave_it->second.active) {
        send_master_update(f, t, TASK_LOST, TaskStatus::REASON_SLAVE_REMOVED,
                           "Slave " + sid + " is not connected");
        continue;
      }
      available -= task_resources;
      Task task;
      task.set_name(t.name());
      *task.mutable_task_id() = t.task_id();
      task.mutable_framework_id()->set_value(f.id);
      task.mutable_slave_id()->set_value(sid);
      task.set_state(TASK_STAGING);
      // Record resources with their allocation role.
      task_resources.to_proto(task.mutable_resources());
      task.set_role(role);
      task.set_user(f.info.user());
      if (t.has_labels()) {
        *task.mutable_labels() = t.labels();
      }
      TaskStatus staging;
      *staging.mutable_task_id() = t.task_id();
      staging.set_state(TASK_STAGING);
      staging.set_timestamp(now_seconds());
      *task.add_statuses() = staging;
      f.tasks[t.task_id().value()] = task;
      slave_it->second.tasks.insert({f.id, t.task_id().value()});
      RunTaskMessage run;
      run.mutable_framework_id()->set_value(f.id);
      *run.mutable_framework() = f.info;
      *run.mutable_task() = t;
      run.mutable_task()->mutable_slave_id()->set_value(sid);
      run.mutable_task()->mutable_resources()->Clear();
      task_resources.to_proto(run.mutable_task()->mutable_resources());
      run.set_pid(f.pid);
      self->send(slave_it->second.handle, run);
      metrics.inc("master/tasks_staging");
      metrics.inc("master/messages_launch_tasks");
    }
    if (!available.empty()) {
      std::optional<double> refuse;
      if (accept.has_filters()) {
        refuse = accept.filters().refuse_seconds();
      }
      alloc->recover_resources(f.id, sid, available, refuse, now());
    }
  }

  void on_kill(FrameworkRecord& f, const Call::Kill& k) {
    auto it = f.tasks.find(k.task_id().value());
    if (it == f.tasks.end()) {
      TaskInfo t;
      *t.mutable_task_id() = k.task_id();
      if (k.has_slave_id()) {
        *t.mutable_slave_id() = k.slave_id();
      }
      send_master_update(f, t, TASK_LOST, TaskStatus::REASON_RECONCILIATION,
                         "Task " + k.task_id().value() + " is unknown to the master");
      return;
    }
    auto s = st.slaves.find(it->second.slave_id().value());
    if (s == st.slaves.end() || !s->second.active) {
      return;  // re-sent by the framework later; the slave is away
    }
    KillTaskMessage kill;
    kill.mutable_framework_id()->set_value(f.id);
    *kill.mutable_task_id() = k.task_id();
    if (k.has_kill_policy()) {
      *kill.mutable_kill_policy() = k.kill_policy();
    }
    self->send(s->second.handle, kill);
  }

  void on_acknowledge(FrameworkRecord& f, const Call::Acknowledge& ack) {
    auto s = st.slaves.find(ack.slave_id().value());
    if (s == st.slaves.end() || !s->second.active) {
      metrics.inc("master/invalid_status_update_acknowledgements");
      return;  // the slave retries the update later
    }
    auto t = f.tasks.find(ack.task_id().value());
    if (t != f.tasks.end() && t->second.has_status_update_uuid() &&
        t->second.status_update_uuid() == ack.uuid() &&
        is_terminal_state(t->second.status_update_state())) {
      Task task = t->second;
      remove_task(f, task, false);
    }
    StatusUpdateAcknowledgementMessage m;
    *m.mutable_slave_id() = ack.slave_id();
    m.mutable_framework_id()->set_value(f.id);
    *m.mutable_task_id() = ack.task_id();
    m.set_uuid(ack.uuid());
    self->send(s->second.handle, m);
    metrics.inc("master/valid_status_update_acknowledgements");
  }

  void on_reconcile(FrameworkRecord& f, const Call::Reconcile& r) {
    auto send_state = [&](const Task& t) {
      Event e;
      e.set_type(Event::UPDATE);
      TaskStatus* s = e.mutable_update()->mutable_status();
      *s->mutable_task_id() = t.task_id();
      *s->mutable_slave_id() = t.slave_id();
      s->set_state(t.has_status_update_state() ? t.status_update_state() : t.state());
      s->set_source(TaskStatus::SOURCE_MASTER);
      s->set_reason(TaskStatus::REASON_RECONCILIATION);
      s->set_timestamp(now_seconds());
      send_event(f, e);
    };
    if (r.tasks_size() == 0) {
      for (const auto& [tid, t] : f.tasks) {
        send_state(t);
      }
      return;
    }
    for (const auto& rt : r.tasks()) {
      auto it = f.tasks.find(rt.task_id().value());
      if (it != f.tasks.end()) {
        send_state(it->second);
        continue;
      }
      TaskInfo t;
      *t.mutable_task_id() = rt.task_id();
      if (rt.has_slave_id()) {
        *t.mutable_slave_id() = rt.slave_id();
      }
      send_master_update(f, t, TASK_LOST, TaskStatus::REASON_RECONCILIATION,
                         "Reconciliation: task is unknown");
    }
  }

  void on_framework_message(FrameworkRecord& f, const Call::Message& m) {
    auto s = st.slaves.find(m.slave_id().value());
    if (s == st.slaves.end() || !s->second.active) {
      metrics.inc("master/invalid_framework_to_executor_messages");
      return;
    }
    FrameworkToExecutorMessage out;
    *out.mutable_slave_id() = m.slave_id();
    out.mutable_framework_id()->set_value(f.id);
    *out.mutable_executor_id() = m.executor_id();
    out.set_data(m.data());
    self->send(s->second.handle, out);
  }

  // --- status updates -------------------------------------------------------

  void on_status_update(StatusUpdateMessage& m) {
    metrics.inc("master/messages_status_update");
    const internal::StatusUpdate& u = m.update();
    if (!self->current_sender()) {
      LOG_WARNING << "Dropping an anonymous status update for task " << u.status().task_id().value();
      metrics.inc("master/invalid_status_updates");
      return;
    }
    SlaveRecord* slave = slave_by_handle(self->current_sender()->address());
    if (slave == nullptr || !slave->active) {
      LOG_WARNING << "Dropping a status update for task " << u.status().task_id().value()
                  << " from a slave that is not registered (it retries after registering)";
      metrics.inc("master/invalid_status_updates");
      return;
    }
    auto f = st.frameworks.find(u.framework_id().value());
    if (f == st.frameworks.end()) {
      LOG_WARNING << "Dropping a status update for task " << u.status().task_id().value()
                  << " of unknown framework " << u.framework_id().value();
      metrics.inc("master/invalid_status_updates");
      return;
    }
    FrameworkRecord& fw = f->second;
    auto t = fw.tasks.find(u.status().task_id().value());
    if (t == fw.tasks.end()) {
      // Unknown task (e.g. already completed): still forward so the
      // framework can acknowledge and the slave can clean up.
      Event e;
      e.set_type(Event::UPDATE);
      *e.mutable_update()->mutable_status() = u.status();
      send_event(fw, e);
      return;
    }
    Task& task = t->second;
    TaskState latest = u.has_latest_state() ? u.latest_state() : u.status().state();
    bool was_terminal = is_terminal_state(task.state());
    task.set_state(latest);
    task.set_status_update_state(u.status().state());
    task.set_status_update_uuid(u.uuid());
    bool known = false;
    for (const TaskStatus& s : task.statuses()) {
      known |= s.uuid() == u.status().uuid() && s.state() == u.status().state();
    }
    if (!known) {
      TaskStatus s = u.status();
      s.clear_message();
      s.clear_data();
      *task.add_statuses() = s;
      metrics.inc(std::string("master/tasks_") + lower(TaskState_Name(u.status().state()).substr(5)));
    }
    metrics.inc("master/valid_status_updates");
    Event e;
    e.set_type(Event::UPDATE);
    *e.mutable_update()->mutable_status() = u.status();
    send_event(fw, e);
    if (!was_terminal && is_terminal_state(latest)) {
      // Release resources as soon as the task is terminal on the slave,
      // even before the framework acknowledges (Mesos does the same).
      Try<Resources> r = Resources::from_proto(task.resources());
      if (r.is_some()) {
        alloc->recover_resources(fw.id, task.slave_id().value(), *r, std::nullopt, now());
      }
      schedule_allocation();
    }
    if (is_terminal_state(u.status().state()) && u.uuid().empty()) {
      Task copy = task;
      remove_task(fw, copy, false);
    }
  }

  // True when the current message comes from the registered slave `slave_id`.
  bool from_slave(const std::string& slave_id) {
    SlaveRecord* s = self->current_sender() ? slave_by_handle(self->current_sender()->address())
                                            : nullptr;
    if (s == nullptr || s->id != slave_id) {
      LOG_WARNING << "Dropping a message that claims to come from slave " << slave_id
                  << " but was not sent by it";
      return false;
    }
    return true;
  }

  void on_exited_executor(ExitedExecutorMessage& m) {
    if (!from_slave(m.slave_id().value())) {
      metrics.inc("master/dropped_messages");
      return;
    }
    auto f = st.frameworks.find(m.framework_id().value());
    if (f == st.frameworks.end()) {
      return;
    }
    Event e;
    e.set_type(Event::FAILURE);
    *e.mutable_failure()->mutable_slave_id() = m.slave_id();
    *e.mutable_failure()->mutable_executor_id() = m.executor_id();
    e.mutable_failure()->set_status(m.status());
    send_event(f->second, e);
  }

  void on_executor_message(ExecutorToFrameworkMessage& m) {
    metrics.inc("master/messages_executor_to_framework");
    if (!from_slave(m.slave_id().value())) {
      metrics.inc("master/dropped_messages");
      return;
    }
    auto f = st.frameworks.find(m.framework_id().value());
    if (f == st.frameworks.end()) {
      return;
    }
    Event e;
    e.set_type(Event::MESSAGE);
    *e.mutable_message()->mutable_slave_id() = m.slave_id();
    *e.mutable_message()->mutable_executor_id() = m.executor_id();
    e.mutable_message()->set_data(m.data());
    send_event(f->second, e);
  }

  void on_down(const caf::down_msg& dm) {
    if (SlaveRecord* s = slave_by_handle(dm.source)) {
      if (s->active) {
        disconnect_slave(*s);
      }
      return;
    }
    if (FrameworkRecord* f = framework_by_handle(dm.source)) {
      if (f->connected) {
        disconnect_framework(*f);
      }
    }
  }

  // --- roles, weights, quota (issue 3) -----------------------------------------

  static std::tuple<int, std::string> json_error(int status, const std::string& message) {
    picojson::object e;
    e["message"] = picojson::value(message);
    return {status, json_serialize(picojson::value(e))};
  }

  picojson::value roles_json() {
    std::map<std::string, Resources> offered_by_role;
    for (const auto& [oid, o] : st.offers) {
      offered_by_role[o.offer.allocation_info().role()] += o.resources;
    }
    picojson::array roles;
    for (const allocator::RoleInfo& r : alloc->roles()) {
      picojson::object o;
      o["name"] = picojson::value(r.name);
      o["weight"] = picojson::value(r.weight);
      picojson::array fws;
      for (const std::string& f : r.frameworks) {
        fws.emplace_back(f);
      }
      o["frameworks"] = picojson::value(fws);
      Resources offered = offered_by_role[r.name];
      o["resources"] = resources_to_json(r.allocated);
      o["allocated"] = resources_to_json(r.allocated - offered.scalars());
      o["offered"] = resources_to_json(offered);
      o["reserved"] = resources_to_json(r.reserved);
      o["share"] = picojson::value(r.share);
      if (r.quota) {
        picojson::object q;
        q["role"] = picojson::value(r.name);
        q["guarantee"] = resources_to_json(*r.quota);
        q["consumed"] = resources_to_json(r.allocated);
        o["quota"] = picojson::value(q);
      }
      roles.emplace_back(o);
    }
    picojson::object out;
    out["roles"] = picojson::value(roles);
    return picojson::value(out);
  }

  picojson::value weights_json() {
    picojson::array a;
    for (const auto& [role, w] : alloc->weights()) {
      picojson::object o;
      o["role"] = picojson::value(role);
      o["weight"] = picojson::value(w);
      a.emplace_back(o);
    }
    return picojson::value(a);
  }

  picojson::value quota_json() {
    picojson::array infos;
    for (const auto& [role, guarantee] : alloc->quotas()) {
      picojson::object o;
      o["role"] = picojson::value(role);
      o["guarantee"] = resources_to_json(guarantee);
      infos.emplace_back(o);
    }
    picojson::object out;
    out["infos"] = picojson::value(infos);
    return picojson::value(out);
  }

  // PUT /master/weights: [{"role": "web", "weight": 2.0}, ...]
  std::tuple<int, std::string> on_put_weights(const std::string& body) {
    Try<std::map<std::string, double>> weights = parse_weights_body(body);
    if (weights.is_error()) {
      return json_error(400, weights.error());
    }
    if (auto e = alloc->update_weights(*weights)) {
      return json_error(400, e->message);
    }
    for (const auto& [role, w] : *weights) {
      st.weights[role] = w;
    }
    schedule_allocation();
    return {200, json_serialize(weights_json())};
  }

  std::tuple<int, std::string> on_quota(const std::string& method, const std::string& path,
                                        const std::string& body) {
    if (method == "DELETE") {
      std::string role = path.size() > std::string("/master/quota/").size()
                             ? path.substr(std::string("/master/quota/").size())
                             : "";
      if (role.empty()) {
        return json_error(400, "DELETE needs the role: /master/quota/<role>");
      }
      auto q = alloc->quotas();
      if (!q.count(role)) {
        return json_error(400, "No quota is set for role '" + role + "'");
      }
      alloc->remove_quota(role);
      schedule_allocation();
      return {200, "{}"};
    }
    Try<QuotaRequest> request = parse_quota_body(body);
    if (request.is_error()) {
      return json_error(400, request.error());
    }
    const std::string& role = request->role;
    const Resources& guarantee = request->guarantee;
    if (auto e = alloc->set_quota(role, guarantee)) {
      return json_error(400, e->message);
    }
    schedule_allocation();
    return {200, json_serialize(quota_json())};
  }

  std::tuple<int, std::string> on_update_request(const std::string& endpoint,
                                                 const std::string& method, const std::string& path,
                                                 const std::string& body) {
    if (endpoint == "weights" && method == "PUT") {
      return on_put_weights(body);
    }
    if (endpoint == "quota" && (method == "POST" || method == "DELETE")) {
      return on_quota(method, path, body);
    }
    return json_error(405, "Method " + method + " is not allowed on " + path);
  }

  // --- HTTP views -------------------------------------------------------------

  picojson::value metrics_json() {
    picojson::object o;
    for (const auto& [k, v] : metrics.counters) {
      o[k] = picojson::value(v);
    }
    double active = 0;
    double inactive = 0;
    Resources total;
    Resources used;
    for (const auto& [id, s] : st.slaves) {
      (s.active ? active : inactive) += 1;
      total += s.total;
      used += used_resources(st, s);
    }
    double fw_active = 0;
    double fw_connected = 0;
    std::map<TaskState, double> by_state;
    for (const auto& [id, f] : st.frameworks) {
      fw_active += f.active ? 1 : 0;
      fw_connected += f.connected ? 1 : 0;
      for (const auto& [tid, t] : f.tasks) {
        by_state[t.state()] += 1;
      }
    }
    allocator::Stats as = alloc->stats();
    o["allocator/mesos/allocation_runs"] = picojson::value(static_cast<double>(as.allocation_runs));
    o["allocator/mesos/offers_made"] = picojson::value(static_cast<double>(as.offers_made));
    o["allocator/mesos/offer_filters/active"] = picojson::value(static_cast<double>(as.filters));
    o["master/uptime_secs"] = picojson::value(now_seconds() - st.start_time);
    o["master/invariant_violations"] = picojson::value(metrics.counters["master/invariant_violations"]);
    o["master/elected"] = picojson::value(1.0);
    o["master/slaves_active"] = picojson::value(active);
    o["master/slaves_inactive"] = picojson::value(inactive);
    o["master/slaves_connected"] = picojson::value(active);
    o["master/slaves_disconnected"] = picojson::value(inactive);
    o["master/frameworks_active"] = picojson::value(fw_active);
    o["master/frameworks_inactive"] = picojson::value(static_cast<double>(st.frameworks.size()) - fw_active);
    o["master/frameworks_connected"] = picojson::value(fw_connected);
    o["master/frameworks_disconnected"] =
        picojson::value(static_cast<double>(st.frameworks.size()) - fw_connected);
    o["master/outstanding_offers"] = picojson::value(static_cast<double>(st.offers.size()));
    for (TaskState s : {TASK_STAGING, TASK_STARTING, TASK_RUNNING, TASK_KILLING}) {
      o["master/tasks_" + lower(TaskState_Name(s).substr(5))] = picojson::value(by_state[s]);
    }
    for (const char* r : {"cpus", "mem", "disk", "gpus"}) {
      double t = total.scalar(r);
      double u = used.scalar(r);
      o[std::string("master/") + r + "_total"] = picojson::value(t);
      o[std::string("master/") + r + "_used"] = picojson::value(u);
      o[std::string("master/") + r + "_percent"] = picojson::value(t > 0 ? u / t : 0.0);
    }
    return picojson::value(o);
  }

  std::tuple<int, std::string> on_state_request(const std::string& endpoint,
                                                const std::map<std::string, std::string>& query) {
    // Paging parameters mean the same on every view; a bad one is an error
    // even where the view does not page (yet), never silently ignored.
    for (const char* key : {"limit", "offset"}) {
      auto it = query.find(key);
      if (it == query.end()) {
        continue;
      }
      const std::string& text = it->second;
      errno = 0;
      char* end = nullptr;
      long long v = text.empty() ? -1 : std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) ||
          end != text.c_str() + text.size() || errno == ERANGE || v < 0) {
        return json_error(400, std::string("Invalid '") + key + "' parameter '" + text.substr(0, 64) +
                                   "': expected an integer from 0 to " + std::to_string(LLONG_MAX));
      }
    }
    if (endpoint == "health") {
      return {200, ""};
    }
    if (endpoint == "state") {
      return {200, json_serialize(state_json(st))};
    }
    if (endpoint == "state-summary") {
      return {200, json_serialize(state_summary_json(st))};
    }
    if (endpoint == "slaves") {
      return {200, json_serialize(slaves_json(st, query))};
    }
    if (endpoint == "frameworks") {
      return {200, json_serialize(frameworks_json(st, query))};
    }
    if (endpoint == "tasks") {
      std::string error;
      picojson::value v = tasks_json(st, query, &error);
      if (!error.empty()) {
        picojson::object e;
        e["message"] = picojson::value(error);
        return {400, json_serialize(picojson::value(e))};
      }
      return {200, json_serialize(v)};
    }
    if (endpoint == "metrics") {
      return {200, json_serialize(metrics_json())};
    }
    if (endpoint == "roles") {
      return {200, json_serialize(roles_json())};
    }
    if (endpoint == "weights") {
      return {200, json_serialize(weights_json())};
    }
    if (endpoint == "quota") {
      return {200, json_serialize(quota_json())};
    }
    if (endpoint == "flags") {
      picojson::object flags;
      for (const auto& [k, v] : st.flags) {
        flags[k] = picojson::value(v);
      }
      picojson::object o;
      o["flags"] = picojson::value(flags);
      return {200, json_serialize(picojson::value(o))};
    }
    picojson::object e;
    e["message"] = picojson::value("Unknown endpoint '" + endpoint + "'");
    return {404, json_serialize(picojson::value(e))};
  }
};

using master_actor = caf::stateful_actor<Master>;

caf::behavior master_behavior(master_actor* self, MasterOptions opts,
                              std::shared_ptr<std::unique_ptr<allocator::Allocator>> alloc) {
  Master& m = self->state;
  m.self = self;
  m.opts = std::move(opts);
  m.alloc = std::move(*alloc);
  if (const char* check = std::getenv("STOA_CHECK_INVARIANTS"); check != nullptr && check == std::string("1")) {
    m.check_invariants = true;
  }
  if (m.opts.flags.offer_timeout) {
    m.offer_timeout = *parse_duration(*m.opts.flags.offer_timeout);
  }
  set_safe_handlers(self, "master");
  m.st.info.set_id(random_uuid());
  m.st.info.set_ip(0);
  m.st.info.set_port(m.opts.upid.port);
  m.st.info.set_pid(m.opts.upid.str());
  m.st.info.set_hostname(m.opts.hostname);
  m.st.info.set_version(STOA_VERSION);
  m.st.info.set_address_ip(m.opts.upid.host);
  m.st.version = STOA_VERSION;
  m.st.start_time = now_seconds();
  m.st.elected_time = m.st.start_time;
  m.st.flags = m.opts.flags.values();
  m.st.cluster = m.opts.flags.cluster.value_or("");
  LOG_INFO << "Master " << m.st.info.id() << " (" << m.opts.hostname << ") started on "
           << m.opts.upid.str();
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  self->send(self, allocate_atom_v, true);
  return {
      [self](RegisterSlaveMessage& x) { self->state.on_register_slave(x); },
      [self](ReregisterSlaveMessage& x) { self->state.on_reregister_slave(x); },
      [self](UnregisterSlaveMessage& x) { self->state.on_unregister_slave(x); },
      [self](StatusUpdateMessage& x) { self->state.on_status_update(x); },
      [self](ExitedExecutorMessage& x) { self->state.on_exited_executor(x); },
      [self](ExecutorToFrameworkMessage& x) { self->state.on_executor_message(x); },
      [self](PongSlaveMessage&) { self->state.on_pong(); },
      [self](Call& x) { self->state.on_call(x); },
      // Timers: only the master sends these to itself. One stray
      // allocate_atom from elsewhere would start a second periodic loop.
      [self](allocate_atom, bool periodic) {
        if (self->state.from_self("allocate")) {
          self->state.on_allocate(periodic);
        }
      },
      [self](tick_atom, const std::string& id, uint64_t gen) {
        if (self->state.from_self("ping tick")) {
          self->state.on_ping_tick(id, gen);
        }
      },
      [self](timeout_atom, const std::string& id, uint64_t gen) {
        if (self->state.from_self("re-register timeout")) {
          self->state.on_reregister_timeout(id, gen);
        }
      },
      [self](exited_atom, const std::string& id, uint64_t gen) {
        if (self->state.from_self("failover timeout")) {
          self->state.on_failover_timeout(id, gen);
        }
      },
      [self](rescind_atom, const std::string& offer_id) {
        if (!self->state.from_self("offer timeout")) {
          return;
        }
        if (self->state.st.offers.count(offer_id)) {
          self->state.metrics.inc("master/offers_timed_out");
          self->state.remove_offer(offer_id, true, std::nullopt);
          self->state.schedule_allocation();
        }
      },
      // Operator requests come from this process' HTTP routes only; the
      // actor port is no back door around HTTP.
      [self](state_atom, const std::string& endpoint,
             const std::map<std::string, std::string>& query) -> std::tuple<int, std::string> {
        if (!self->state.from_this_process("state request")) {
          return {403, "{\"message\":\"not accepted from a remote actor\"}"};
        }
        return self->state.render_state_request(endpoint, query);
      },
      [self](update_atom, const std::string& endpoint, const std::string& method,
             const std::string& path, const std::string& body) -> std::tuple<int, std::string> {
        if (!self->state.from_this_process("update request")) {
          return {403, "{\"message\":\"not accepted from a remote actor\"}"};
        }
        return self->state.on_update_request(endpoint, method, path, body);
      },
  };
}

}  // namespace

Try<caf::actor> spawn_master(caf::actor_system& sys, MasterOptions opts) {
  allocator::Options aopts;
  aopts.policy = opts.flags.allocator_policy;
  aopts.allocation_interval = opts.flags.allocation_interval;
  std::string min_text = opts.flags.min_allocatable_resources;
  size_t start = 0;
  while (start <= min_text.size()) {
    size_t bar = min_text.find('|', start);
    std::string part = min_text.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    if (!part.empty()) {
      Try<Resources> r = Resources::parse(part);
      if (r.is_error()) {
        return Error("Flag '--min_allocatable_resources=" + min_text + "': " + r.error());
      }
      aopts.min_allocatable.push_back(*r);
    }
    if (bar == std::string::npos) {
      break;
    }
    start = bar + 1;
  }
  if (opts.flags.roles) {
    std::set<std::string> roles;
    std::string text = *opts.flags.roles;
    size_t s = 0;
    while (s <= text.size()) {
      size_t comma = text.find(',', s);
      std::string role = text.substr(s, comma == std::string::npos ? std::string::npos : comma - s);
      if (role.empty()) {
        return Error("Flag '--roles=" + text + "': empty role");
      }
      roles.insert(role);
      if (comma == std::string::npos) {
        break;
      }
      s = comma + 1;
    }
    roles.insert("*");
    aopts.roles = roles;
  }
  if (opts.flags.weights) {
    Try<std::map<std::string, double>> w = parse_weights(*opts.flags.weights);
    if (w.is_error()) {
      return Error("Flag '--weights=" + *opts.flags.weights + "': " + w.error());
    }
    aopts.weights = *w;
  }
  Try<std::unique_ptr<allocator::Allocator>> alloc = allocator::Allocator::create(aopts);
  if (alloc.is_error()) {
    return Error("Cannot create the allocator: " + alloc.error());
  }
  auto holder = std::make_shared<std::unique_ptr<allocator::Allocator>>(std::move(*alloc));
  return sys.spawn(master_behavior, std::move(opts), holder);
}

}  // namespace stoa::master
